package reports

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// The JUnit document, in the shape of the Jenkins/Ant junit-4.xsd:
// testsuites > testsuite > (properties?, testcase*, system-out?) and
// testcase > failure*.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitText is an element whose text is written as CDATA, so that the
// multi-line summary stays readable in the file.
type junitText struct {
	Text string `xml:",cdata"`
}

// JUnit class names of the test cases.
const (
	junitClassThresholds = "fleetbench.thresholds"
	junitClassRun        = "fleetbench.run"
)

// WriteJUnit writes the run's verdict as JUnit XML for CI test reports:
// one testsuite for the run, one testcase per threshold whose failure
// message shows the observed value against the limit, and the testcases
// of the run's status (see runCases): "run passed" for a passed run
// without thresholds, a failing "run failed: <code>" per reason of a
// failed run, a failing "run interrupted" or "partial result". Each node
// of a distributed run that was lost mid-run gets a failing "node <name>
// lost" testcase. The suite carries the run's time, start timestamp, status
// and key numbers as properties and the text summary as system-out.
func WriteJUnit(w io.Writer, res *metrics.Result, verdict Verdict) error {
	if res == nil {
		return errors.New("reports: write junit: nil result")
	}
	doc := junitDocument(res, verdict)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("reports: write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("reports: write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("reports: write junit: %w", err)
	}
	return nil
}

func junitDocument(res *metrics.Result, verdict Verdict) junitSuites {
	rv := runVerdict(res, verdict)
	secs := strconv.FormatFloat(runDuration(res.StartedAt, res.EndedAt).Seconds(), 'f', 3, 64)
	suite := junitSuite{
		Name: "fleetbench " + orDash(res.Scenario.Name),
		Time: secs,
	}
	if !res.StartedAt.IsZero() {
		suite.Timestamp = res.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	for _, r := range verdict.Results {
		c := junitCase{Name: thresholdExpr(r.Threshold), Classname: junitClassThresholds, Time: "0.000"}
		if !r.Passed {
			var text strings.Builder
			fmt.Fprintf(&text, "threshold: %s\n", thresholdExpr(r.Threshold))
			if r.NoData != "" {
				fmt.Fprintf(&text, "observed: none (%s)\n", r.NoData)
			} else {
				fmt.Fprintf(&text, "observed: %s\n", r.Value)
			}
			fmt.Fprintf(&text, "limit: %s\n", r.Limit)
			c.Failure = &junitFailure{Message: r.Message, Type: "threshold", Text: xmlSafe(text.String())}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Cases = append(suite.Cases, runCases(res, &rv, len(verdict.Results), secs)...)
	for _, n := range lostNodes(res) {
		suite.Cases = append(suite.Cases, lostNodeCase(&n, secs))
	}
	for _, c := range suite.Cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
	}
	t := &res.Totals
	suite.Properties = []junitProperty{
		{"scenario.name", res.Scenario.Name},
		{"scenario.file", res.Scenario.File},
		{"started_at", timeOrEmpty(res.StartedAt)},
		{"ended_at", timeOrEmpty(res.EndedAt)},
		{"status", string(rv.Status)},
		{"interrupted", strconv.FormatBool(res.Interrupted)},
		{"partial", strconv.FormatBool(res.Partial)},
		{"devices", strconv.FormatInt(t.Devices, 10)},
		{"connect_ok", strconv.FormatInt(t.ConnectOK, 10)},
		{"connect_failed", strconv.FormatInt(t.ConnectFailed, 10)},
		{"published", strconv.FormatInt(t.Published, 10)},
		{"expected", strconv.FormatInt(t.Expected, 10)},
		{"received", strconv.FormatInt(t.Received, 10)},
		{"lost", strconv.FormatInt(t.Lost, 10)},
		{"duplicates", strconv.FormatInt(t.Duplicates, 10)},
		{"e2e.p99_us", strconv.FormatInt(res.Latency.E2E.P99, 10)},
		{"publish_ack.p99_us", strconv.FormatInt(res.Latency.PublishAck.P99, 10)},
	}
	if len(res.Nodes) > 0 {
		suite.Properties = append(suite.Properties, nodeProperties(res)...)
	}
	var out strings.Builder
	writeText(&out, res, verdict)
	suite.SystemOut = &junitText{Text: xmlSafe(out.String())}
	return junitSuites{
		Name:     "fleetbench",
		Tests:    suite.Tests,
		Failures: suite.Failures,
		Time:     secs,
		Suites:   []junitSuite{suite},
	}
}

// runCases are the testcases of the run's own outcome (the thresholds
// have theirs): "run passed" for a passed run without thresholds, one
// failing "run failed: <code>" per reason of a failed run (a lost node has
// its own "node <name> lost" case instead), a failing "run interrupted" or
// "partial result". A passed run with thresholds and a run whose
// thresholds failed need none.
func runCases(res *metrics.Result, rv *metrics.Verdict, thresholds int, secs string) []junitCase {
	dur := fmtDuration(runDuration(res.StartedAt, res.EndedAt))
	reasons := func() string {
		var b strings.Builder
		for _, r := range rv.Reasons {
			if r.Code != metrics.ReasonCodeNodeLost {
				b.WriteString("reason: " + oneLine(r.Message) + "\n")
			}
		}
		return b.String()
	}
	switch rv.Status {
	case metrics.StatusPassed:
		if thresholds == 0 {
			return []junitCase{{Name: "run passed", Classname: junitClassRun, Time: secs}}
		}
	case metrics.StatusFailed:
		var out []junitCase
		for _, r := range rv.Reasons {
			if r.Code == metrics.ReasonCodeNodeLost {
				continue
			}
			out = append(out, junitCase{
				Name: "run failed: " + r.Code, Classname: junitClassRun, Time: secs,
				Failure: &junitFailure{Message: oneLine(r.Message), Type: "run_failed",
					Text: xmlSafe("The run could not measure what it was asked to: " + oneLine(r.Message) + ".\n")},
			})
		}
		return out
	case metrics.StatusInterrupted:
		return []junitCase{{
			Name: "run interrupted", Classname: junitClassRun, Time: secs,
			Failure: &junitFailure{
				Message: "the run was stopped before its end",
				Type:    "interrupted",
				Text:    xmlSafe("The run was interrupted after " + dur + "; its numbers cover only the part that ran.\n" + reasons()),
			},
		}}
	case metrics.StatusPartial:
		return []junitCase{{
			Name: "partial result", Classname: junitClassRun, Time: secs,
			Failure: &junitFailure{
				Message: statusSentence(res, rv.Status),
				Type:    "partial",
				Text:    xmlSafe("This result was written while the run was still going; it covers the first " + dur + ", not a finished run.\n" + reasons()),
			},
		}}
	}
	return nil
}

// lostNodeCase is the failing testcase of a node lost mid-run, in the
// class of the run's own outcome ("run interrupted").
func lostNodeCase(n *metrics.NodeResult, secs string) junitCase {
	r := makeNodeRow(n)
	var text strings.Builder
	fmt.Fprintf(&text, "node: %s\n", r.Name)
	if n.Address != "" && n.Address != n.Name {
		fmt.Fprintf(&text, "address: %s\n", n.Address)
	}
	fmt.Fprintf(&text, "devices: %s\n", r.Devices)
	if len(n.Ranges) > 0 {
		fmt.Fprintf(&text, "ranges: %s\n", strings.Join(n.Ranges, " "))
	}
	fmt.Fprintf(&text, "lost at: %s\n", r.LostAt)
	fmt.Fprintf(&text, "reason: %s\n", orDash(r.Reason))
	fmt.Fprintf(&text, "published %s, received %s before the loss\n", r.Published, r.Received)
	fmt.Fprintf(&text, "Deliveries to its devices after the loss count as lost.\n")
	return junitCase{
		Name: "node " + oneLine(r.Name) + " lost", Classname: junitClassRun, Time: secs,
		Failure: &junitFailure{
			Message: oneLine(lostNodeWarning(n)),
			Type:    "node lost",
			Text:    xmlSafe(text.String()),
		},
	}
}

// nodeProperties are the suite properties of a distributed run.
func nodeProperties(res *metrics.Result) []junitProperty {
	return []junitProperty{
		{"nodes", strconv.Itoa(len(res.Nodes))},
		{"nodes_lost", strconv.Itoa(len(lostNodes(res)))},
		{"cross_node_received", strconv.FormatInt(res.Totals.CrossNodeReceived, 10)},
		{"clock_bound_us", strconv.FormatInt(res.ClockBoundUs, 10)},
	}
}

// xmlSafe replaces the characters XML 1.0 cannot hold (most control
// characters) with U+FFFD. encoding/xml does this for attributes and
// character data but not for CDATA.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return '\uFFFD'
		}
		return r
	}, s)
}
