package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestWriteJUnitGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJUnit(&b, tc.res, tc.verdict); err != nil {
				t.Fatal(err)
			}
			if err := validateJUnit(b.Bytes()); err != nil {
				t.Errorf("invalid JUnit XML: %v", err)
			}
			golden(t, "junit/"+tc.name+".xml", b.Bytes())
		})
	}
}

func TestWriteJUnitCases(t *testing.T) {
	t.Parallel()
	full := makeResult(t, fixture{seconds: 10, devices: 50})
	interrupted := makeResult(t, fixture{seconds: 10, devices: 50, interrupted: true})
	tests := []struct {
		name         string
		res          *metrics.Result
		thresholds   []string
		wantCases    []string
		wantFailures int
	}{
		{"no thresholds", full, nil, []string{"run passed"}, 0},
		{"interrupted without thresholds", interrupted, nil, []string{"run interrupted"}, 1},
		{"thresholds", full, []string{"e2e.p99 < 1h", "lost > 1000000"}, []string{"e2e.p99 < 1h", "lost > 1000000"}, 1},
		{"interrupted with thresholds", interrupted, []string{"e2e.p99 < 1h"}, []string{"e2e.p99 < 1h", "run interrupted"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJUnit(&b, tc.res, Evaluate(tc.res, mustThresholds(t, tc.thresholds...))); err != nil {
				t.Fatal(err)
			}
			var doc junitSuites
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			var names []string
			for _, c := range s.Cases {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, tc.wantCases) {
				t.Errorf("cases %q, want %q", names, tc.wantCases)
			}
			if s.Failures != tc.wantFailures || doc.Failures != tc.wantFailures {
				t.Errorf("failures suite=%d total=%d, want %d", s.Failures, doc.Failures, tc.wantFailures)
			}
			if s.Tests != len(tc.wantCases) || s.Time != "10.000" || s.Timestamp != "2026-03-14T09:26:53" {
				t.Errorf("suite attributes tests=%d time=%s timestamp=%s", s.Tests, s.Time, s.Timestamp)
			}
		})
	}
}

func TestWriteJUnitFailureMessage(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 10, devices: 50})
	v := Evaluate(res, mustThresholds(t, "e2e.p99 < 1ms"))
	var b bytes.Buffer
	if err := WriteJUnit(&b, res, v); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	f := doc.Suites[0].Cases[0].Failure
	if f == nil {
		t.Fatal("no failure element")
	}
	want := "e2e.p99 = " + v.Results[0].Value + ", limit < 1ms"
	if f.Message != want || f.Type != "threshold" {
		t.Errorf("failure message %q type %q, want %q type threshold", f.Message, f.Type, want)
	}
	if !strings.Contains(f.Text, "observed: "+v.Results[0].Value) || !strings.Contains(f.Text, "limit: < 1ms") {
		t.Errorf("failure text lacks observed and limit:\n%s", f.Text)
	}
}

func TestWriteJUnitEscapes(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10, nodes: true})
	res.Scenario.Name = `<x a="1">&amp;]]>` + "\x00\x1b"
	res.Nodes[1].Name = res.Scenario.Name
	res.Nodes[1].Lost, res.Nodes[1].LostReason = true, res.Scenario.Name
	var b bytes.Buffer
	if err := WriteJUnit(&b, res, Verdict{}); err != nil {
		t.Fatal(err)
	}
	if err := validateJUnit(b.Bytes()); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, b.String())
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Suites[0].Name; !strings.HasPrefix(got, `fleetbench <x a="1">&amp;]]>`) {
		t.Errorf("suite name %q did not survive escaping", got)
	}
	lost := doc.Suites[0].Cases[len(doc.Suites[0].Cases)-1]
	if lost.Name != `node <x a="1">&amp;]]>   lost` || lost.Failure == nil || !strings.Contains(lost.Failure.Text, `reason: <x a="1">&amp;]]>`) {
		t.Errorf("lost node case %q did not survive escaping: %+v", lost.Name, lost.Failure)
	}
}

// junitSchema is the Jenkins/Ant junit-4.xsd shape: for each element, its
// allowed attributes (true = required) and its children in order, each
// with the most times it may occur (0 = unbounded) and the fewest.
var junitSchema = map[string]struct {
	attrs    map[string]bool
	children []junitChild
	text     bool
}{
	"testsuites": {
		attrs:    map[string]bool{"name": false, "time": false, "tests": false, "failures": false, "disabled": false, "errors": false},
		children: []junitChild{{"testsuite", 0, 0}},
	},
	"testsuite": {
		attrs: map[string]bool{"name": true, "tests": true, "failures": false, "errors": false, "time": false, "disabled": false,
			"skipped": false, "timestamp": false, "hostname": false, "id": false, "package": false},
		children: []junitChild{{"properties", 0, 1}, {"testcase", 0, 0}, {"system-out", 0, 1}, {"system-err", 0, 1}},
	},
	"properties": {children: []junitChild{{"property", 1, 0}}},
	"property":   {attrs: map[string]bool{"name": true, "value": true}},
	"testcase": {
		attrs:    map[string]bool{"name": true, "assertions": false, "time": false, "classname": false, "status": false},
		children: []junitChild{{"skipped", 0, 1}, {"error", 0, 0}, {"failure", 0, 0}, {"system-out", 0, 0}, {"system-err", 0, 0}},
	},
	"failure":    {attrs: map[string]bool{"type": false, "message": false}, text: true},
	"error":      {attrs: map[string]bool{"type": false, "message": false}, text: true},
	"skipped":    {text: true},
	"system-out": {text: true},
	"system-err": {text: true},
}

type junitChild struct {
	name     string
	min, max int
}

// validateJUnit checks a document against junitSchema: the root, every
// element's attributes, required attributes, the order and number of
// children, and the numeric attributes' syntax and consistency.
func validateJUnit(data []byte) error {
	if !bytes.HasPrefix(data, []byte(xml.Header)) {
		return fmt.Errorf("missing XML declaration")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return fmt.Errorf("two root elements")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && len(bytes.TrimSpace(tok)) > 0 {
				stack[len(stack)-1].hasText = true
			}
		}
	}
	if root == nil || root.name != "testsuites" {
		return fmt.Errorf("root element is not testsuites")
	}
	if err := root.validate(); err != nil {
		return err
	}
	// Counts add up.
	tests, failures := 0, 0
	for _, s := range root.children {
		n, _ := strconv.Atoi(s.attrs["tests"])
		f, _ := strconv.Atoi(s.attrs["failures"])
		cases, failed := 0, 0
		for _, c := range s.children {
			if c.name != "testcase" {
				continue
			}
			cases++
			for _, x := range c.children {
				if x.name == "failure" {
					failed++
					break
				}
			}
		}
		if n != cases || f != failed {
			return fmt.Errorf("testsuite says tests=%d failures=%d, holds %d cases with %d failures", n, f, cases, failed)
		}
		tests, failures = tests+n, failures+f
	}
	if root.attrs["tests"] != strconv.Itoa(tests) || root.attrs["failures"] != strconv.Itoa(failures) {
		return fmt.Errorf("testsuites totals tests=%s failures=%s, want %d and %d", root.attrs["tests"], root.attrs["failures"], tests, failures)
	}
	return nil
}

type xmlNode struct {
	name     string
	attrs    map[string]string
	children []*xmlNode
	hasText  bool
}

func (n *xmlNode) validate() error {
	spec, ok := junitSchema[n.name]
	if !ok {
		return fmt.Errorf("unknown element <%s>", n.name)
	}
	for a := range n.attrs {
		if _, ok := spec.attrs[a]; !ok {
			return fmt.Errorf("<%s> has unknown attribute %q", n.name, a)
		}
	}
	for a, required := range spec.attrs {
		if _, ok := n.attrs[a]; required && !ok {
			return fmt.Errorf("<%s> lacks required attribute %q", n.name, a)
		}
	}
	for _, a := range []string{"tests", "failures", "errors", "skipped", "disabled"} {
		if v, ok := n.attrs[a]; ok {
			if i, err := strconv.Atoi(v); err != nil || i < 0 {
				return fmt.Errorf("<%s %s=%q> is not a count", n.name, a, v)
			}
		}
	}
	if v, ok := n.attrs["time"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
			return fmt.Errorf("<%s time=%q> is not a duration in seconds", n.name, v)
		}
	}
	if v, ok := n.attrs["timestamp"]; ok && len(v) != len("2006-01-02T15:04:05") {
		return fmt.Errorf("<%s timestamp=%q> is not an ISO 8601 date-time without zone", n.name, v)
	}
	if n.hasText && !spec.text {
		return fmt.Errorf("<%s> has text content", n.name)
	}
	// Children in schema order with their occurrence bounds.
	i := 0
	for _, c := range spec.children {
		count := 0
		for i < len(n.children) && n.children[i].name == c.name {
			count++
			i++
		}
		if count < c.min || (c.max > 0 && count > c.max) {
			return fmt.Errorf("<%s> has %d <%s>, want %d..%d", n.name, count, c.name, c.min, c.max)
		}
	}
	if i < len(n.children) {
		return fmt.Errorf("<%s> has <%s> out of order or not allowed", n.name, n.children[i].name)
	}
	for _, c := range n.children {
		if err := c.validate(); err != nil {
			return err
		}
	}
	return nil
}

func TestValidateJUnitRejects(t *testing.T) {
	t.Parallel()
	// The validator itself must catch the mistakes it exists for.
	bad := map[string]string{
		"skipped on testsuites": `<testsuites skipped="0"></testsuites>`,
		"missing name":          `<testsuites><testsuite tests="0"></testsuite></testsuites>`,
		"failure before error":  `<testsuites tests="1" failures="1"><testsuite name="s" tests="1" failures="1"><testcase name="c"><failure/><error/></testcase></testsuite></testsuites>`,
		"empty properties":      `<testsuites tests="0" failures="0"><testsuite name="s" tests="0"><properties></properties></testsuite></testsuites>`,
		"wrong count":           `<testsuites tests="2" failures="0"><testsuite name="s" tests="2" failures="0"><testcase name="c"/></testsuite></testsuites>`,
		"bad timestamp":         `<testsuites tests="0" failures="0"><testsuite name="s" tests="0" timestamp="2026-03-14T09:26:53Z"></testsuite></testsuites>`,
	}
	for name, doc := range bad {
		if err := validateJUnit([]byte(xml.Header + doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
