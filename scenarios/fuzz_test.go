package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary documents to the loader: it must never panic,
// every error must carry a message, and a scenario that loads must expand.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("examples/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range append(seeds, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "---\n---\n", "a: &x [*x]", "<<: 1", "devices: [{<<: [*a]}]",
		"duration: 1s\ndevices: [{name: g, count: 3, device_name: 'd${index:03}'}]\nstages: [{duration: 1s, target: 2}]",
		"duration: !!str 5\ndevices: !!map {}", "seed: 99999999999999999999999", "count: 1e400",
		"devices:\n  - name: g\n    count: 2\n    publish: [{topic: 't/${seq}', rate: 1/s}]\n",
		"duration: 1s\ndevices:\n  - name: g\n    count: 2\n    subscribe: [{topic: '$share/s/a/+', reply: {topic: 'b/${topic[1]}'}}]\n",
		"duration: 1s\ndevices:\n  - name: g\n    count: 2\n    publish: [{topic: 'c/${target.deviceName}', targets: g, rate: 1/s}]\n",
		"duration: 1s\ndevices: [{name: g, count: 2, client: paho, sdk: 3.0.1, request_timeout: 500ms, max_packet_size: 3072}]\n",
		"duration: 1s\ndevices: [{name: g, count: 2, mqtt_version: 5.0, mqtt5: {session_expiry: 1h, receive_maximum: 10, topic_aliases: true, user_properties: {a: b, c: '${env:X:-d}'}}}]\n",
		"duration: 1s\ndevices: [{name: g, count: 2, mqtt_version: 3.1.1, mqtt5: {user_properties: [1]}, sdk: 4, max_packet_size: 1e9}]\n",
		"duration: 1m\ndevices: [{name: g, count: 9}]\nfaults: [{at: 1s, for: 2s, latency: 1ms, jitter: 1ms, bandwidth: 1KiB/s, fraction: 0.5}]\nchurn: [{fraction: 0.5, every: 10s, down: 1s}]\n",
		// Hostile documents: the pre-scan refuses them before goccy parses.
		strings.Repeat("[", 5000), strings.Repeat("{a:", 2000), strings.Repeat("- ", 3000), nestedBlock(200),
		strings.Repeat("[\n", 300), "a: |\n  " + strings.Repeat("[", 300), "a: '" + strings.Repeat("[", 300) + "'",
		aliasBomb(), "a: &a x\nb: [" + strings.Repeat("*a, ", 5000) + "]\n", "\xef\xbb\xbf" + "duration: 1s\n",
		"a: >-\n  x\n[[[[\n", "a: |2\n   x\n [[[\n", "\x1b[2Jk: 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		defer func() {
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("%d bytes took %v", len(data), el)
			}
		}()
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			list := Errors(err)
			if len(list) == 0 {
				t.Fatalf("error is not a scenario error: %T %v", err, err)
			}
			for _, e := range list {
				if e.Message == "" || e.Error() == "" {
					t.Fatalf("empty error %+v", e)
				}
				for _, out := range []string{e.Error(), e.Excerpt()} {
					if strings.ContainsAny(out, "\x1b\x07\x00") {
						t.Fatalf("raw control character in %q", out)
					}
				}
			}
			return
		}
		if s.Total() <= 0 || s.Duration <= 0 {
			t.Fatalf("loaded with %d devices and duration %s", s.Total(), s.Duration)
		}
		n := 0
		for _, p := range s.Range(s.Total()-50, s.Total()) {
			for k := range p.Publishes {
				pub := &p.Publishes[k]
				_ = pub.Payload.AppendTemplate(nil, RuntimeFields{Seq: 1, Stream: uint64(k)})
				_, _ = pub.Payload.StampKeys()
				for m := range uint64(3) {
					if ti := pub.Target(m); (ti < 0) != (pub.Targets == nil) || pub.Targets != nil && ti >= pub.Targets.Count {
						t.Fatalf("Target(%d) = %d", m, ti)
					}
					_ = pub.TopicFor(int(m) - 1)
				}
			}
			for _, sub := range p.Subscriptions {
				if sub.Reply != nil {
					_, inner, _ := SplitShared(sub.Filter)
					_, _ = sub.Reply.Topic(inner)
					_, _ = sub.Reply.Topic("")
				}
			}
			n++
		}
		_ = s.StampKeys()
		for k := range s.Faults {
			_ = s.InFault(k, 0)
		}
		for k := range s.Churn {
			_ = s.InChurn(k, s.Churn[k].Cycles(s.Duration), s.Total()-1)
		}
		for _, at := range []time.Duration{0, time.Millisecond, s.Duration / 2, s.Duration, 1 << 62} {
			if tg := s.TargetAt(at); tg < 0 || tg > s.Total() {
				t.Fatalf("TargetAt(%s) = %d of %d", at, tg, s.Total())
			}
			sum := 0
			for _, v := range s.GroupTargetsAt(at, nil) {
				sum += v
			}
			if sum != s.TargetAt(at) {
				t.Fatalf("GroupTargetsAt(%s) sums to %d, TargetAt is %d", at, sum, s.TargetAt(at))
			}
		}
		if n == 0 {
			t.Fatal("no plans")
		}
	})
}

// FuzzReply renders reply topics: no panics, ok exactly when the received
// topic has every level the template refers to, and the length bounded.
func FuzzReply(f *testing.F) {
	for _, s := range [][2]string{
		{"/${productKey}/${topic[2]}/user/response", "/pk/dev-1/user/request"},
		{"${topic[0]}${topic[0]}/${topic[999]}", "a"},
		{"x/${topic[1]}", "a/"},
		{"${topic[x]}", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, received string) {
		g := testGroup(t)
		tm, errs := compileTemplate(raw, phForReply, "fuzz", testEnv)
		if len(errs) > 0 {
			return
		}
		r := &Reply{spec: &ReplySpec{Topic: raw, t: tm}, g: g, i: 7}
		got, ok := r.Topic(received)
		want, bound := true, g.maxLen(&tm)
		levels := strings.Count(received, "/") + 1
		for _, s := range tm.segs {
			if s.ph == phTopicLevel {
				want = want && s.arg < levels
				bound += len(received)
			}
		}
		if ok != want || !ok && got != "" || len(got) > bound {
			t.Fatalf("Topic(%q) of %q = %q, %t", received, raw, got, ok)
		}
	})
}

// FuzzBandwidth: no panics; accepted values are in range and round-trip.
func FuzzBandwidth(f *testing.F) {
	for _, s := range []string{"10KB/s", "1.5MiB/s", "8Mbps", "1e3B/s", "0.0001MB/s", "9999999999MB/s", "10 KB / s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseBandwidth(s)
		if err != nil {
			if v != 0 || err.Error() == "" {
				t.Fatalf("%q: %d, %v", s, v, err)
			}
			return
		}
		if v < 1 || v > MaxBandwidth {
			t.Fatalf("%q: %d out of range", s, v)
		}
		if back, err := ParseBandwidth(strconv.FormatInt(v, 10) + "B/s"); err != nil || back != v {
			t.Fatalf("%q: %d does not round-trip: %d, %v", s, v, back, err)
		}
	})
}

// FuzzJSONMembers compares the member scanner used by StampKeys with
// encoding/json on valid objects, and checks that it never panics.
func FuzzJSONMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x","c":{"d":[1,{"e":"]"}]},"f":null}`, ` { } `, `{"a\"":"\\"}`, `[1]`, `{"a":}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var names []string
		isObject := jsonMembers(b, func(ks, ke, vs, ve int) {
			if ks < 0 || ke > len(b) || ks >= ke || ke > vs || vs > ve || ve > len(b) {
				t.Fatalf("bad spans %d %d %d %d in %q", ks, ke, vs, ve, b)
			}
			var name string
			if json.Unmarshal(b[ks:ke], &name) == nil {
				names = append(names, name)
			}
			if json.Valid(b) && !json.Valid(b[vs:ve]) {
				t.Fatalf("value %q of %q is not a JSON value", b[vs:ve], b)
			}
		})
		if !json.Valid(b) {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		tok, _ := dec.Token()
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			if isObject {
				t.Fatalf("%q is not an object", b)
			}
			return
		}
		var want []string
		for dec.More() {
			k, _ := dec.Token()
			want = append(want, k.(string))
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				t.Fatal("decode")
			}
		}
		if !isObject || !slices.Equal(names, want) {
			t.Fatalf("%q: members %q, want %q", b, names, want)
		}
	})
}

// FuzzApplySet applies arbitrary overrides, one or two, to a document
// with lists, one without (where overrides create them) or an empty one,
// as --set or as a flag: no panics, failures are scenario errors, a
// failed override leaves the document as it was, and a document that
// takes the overrides still validates without panicking.
func FuzzApplySet(f *testing.F) {
	for _, s := range [][2]string{
		{"devices[0].count=5", ""}, {"devices[*].client=paho", ""}, {"devices[*].publish[*].qos=2", ""},
		{"devices[1].mqtt5.user_properties.a=b", ""}, {"devices[sensors].mqtt_version=5", ""}, {"devices[*]=1", ""},
		{"devices[*][*].x=1", ""}, {"a[*=1", ""}, {"devices[0].mqtt5.user_properties={a: [b]}", ""},
		{"thresholds[0]=e2e.p99 < 50ms", "thresholds[1]=lost == 0"}, {"thresholds[1]=lost == 0", ""},
		{"devices[0].publish[0].qos=1", "devices[0].publish[0].topic=a"}, {"devices[2]={name: x, count: 1}", "devices[2].count=2"},
		{"devices[nosuch].count=1", ""}, {"stages[0].duration=1s", "stages[0].target=1"}, {"duration=100000h", ""},
		{"churn[0]={fraction: 0.1, every: 1ms, down: 1us}", ""}, {"thresholds[0].x=1", ""}, {"devices[-1].count=1", ""},
	} {
		for base := range byte(3) {
			f.Add(base, false, s[0], s[1])
		}
	}
	f.Add(byte(0), true, "duration=721h", "")
	bases := []string{setBase, "name: m\nduration: 1s\ndevices: [{name: g, count: 1}]\n", ""}
	outcome := func(t *testing.T, doc *Document) string {
		s, err := doc.Scenario()
		if err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("error is not a scenario error: %T %v", err, err)
			}
			return err.Error()
		}
		return fmt.Sprintf("%d groups, %d devices, %s, %d stages, %d thresholds, %d faults, %d churn",
			len(s.Groups), s.Total(), s.Duration, len(s.Stages), len(s.Thresholds), len(s.Faults), len(s.Churn))
	}
	f.Fuzz(func(t *testing.T, base byte, asFlag bool, arg1, arg2 string) {
		doc, err := ParseDocument("testdata/set.yaml", []byte(bases[int(base)%len(bases)]))
		if err != nil {
			t.Fatal(err)
		}
		doc.Env = testEnv
		for _, arg := range []string{arg1, arg2} {
			if arg == "" {
				continue
			}
			before := outcome(t, doc)
			if asFlag {
				err = doc.ApplyFlag("--flag", arg)
			} else {
				err = doc.ApplySetArg(arg)
			}
			if err != nil {
				if len(Errors(err)) == 0 {
					t.Fatalf("error is not a scenario error: %T %v", err, err)
				}
				if after := outcome(t, doc); after != before {
					t.Fatalf("the failed override %q changed the document:\n%s\nto\n%s", arg, before, after)
				}
				return
			}
		}
		_ = outcome(t, doc)
	})
}

// FuzzLoad feeds arbitrary bytes through the file path of Load (
// ReadFileLimited, the byte order mark, the pre-scan, the parser and
// validation): the result is the one Parse gives for the same bytes, and
// no input panics.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"\xef\xbb\xbfname: b\nduration: 1s\ndevices: [{name: g, count: 1}]\n",
		"duration: 100000h\ndevices: [{name: g, count: 1}]\n",
		strings.Repeat("[", 300), "a: &a [*a]", "\x00\xff", "duration: 1s\r\ndevices:\r\n  - {name: g, count: 2}\r\n",
	} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile("examples/quickstart.yaml"); err == nil {
		f.Add(data)
	}
	// One file per fuzzing process: its inputs run one at a time.
	path := filepath.Join(f.TempDir(), "s.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ls, lerr := Load(path)
		ps, perr := Parse(path, data)
		if (lerr == nil) != (perr == nil) {
			t.Fatalf("Load: %v; Parse: %v", lerr, perr)
		}
		if lerr != nil {
			if len(Errors(lerr)) == 0 {
				t.Fatalf("error is not a scenario error: %T %v", lerr, lerr)
			}
			if lerr.Error() != perr.Error() {
				t.Fatalf("Load:\n%v\nParse:\n%v", lerr, perr)
			}
			return
		}
		if ls.Total() != ps.Total() || ls.Duration != ps.Duration || ls.Name != ps.Name {
			t.Fatalf("Load and Parse differ: %d %s %q, %d %s %q", ls.Total(), ls.Duration, ls.Name, ps.Total(), ps.Duration, ps.Name)
		}
		if ls.Duration > MaxDuration || ls.Total() > MaxDevices || len(ls.Groups) > MaxGroups {
			t.Fatalf("loaded past the bounds: %s, %d devices, %d groups", ls.Duration, ls.Total(), len(ls.Groups))
		}
	})
}

// FuzzReadFileLimited reads arbitrary files through small limits: the
// bytes come back exactly when they fit, and a SizeError naming the limit
// otherwise.
func FuzzReadFileLimited(f *testing.F) {
	f.Add([]byte("abc"), uint16(3))
	f.Add([]byte("abcd"), uint16(3))
	f.Add([]byte{}, uint16(0))
	f.Add(make([]byte, 70000), uint16(65535))
	path := filepath.Join(f.TempDir(), "f")
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFileLimited(path, int64(limit))
		if len(data) <= int(limit) {
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%d bytes, limit %d: %d bytes, %v", len(data), limit, len(got), err)
			}
			return
		}
		var se *SizeError
		if !errors.As(err, &se) || se.Limit != int64(limit) || got != nil {
			t.Fatalf("%d bytes, limit %d: %d bytes, %v", len(data), limit, len(got), err)
		}
	})
}
