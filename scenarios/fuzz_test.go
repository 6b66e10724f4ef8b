package scenarios

import (
	"encoding/json"
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

// FuzzApplySet applies arbitrary overrides: no panics, failures are
// scenario errors, and a document that takes the override still validates
// without panicking.
func FuzzApplySet(f *testing.F) {
	for _, s := range []string{
		"devices[0].count=5", "devices[*].client=paho", "devices[*].publish[*].qos=2",
		"devices[1].mqtt5.user_properties.a=b", "devices[sensors].mqtt_version=5", "devices[*]=1",
		"devices[*][*].x=1", "a[*=1", "devices[0].mqtt5.user_properties={a: [b]}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		doc, err := ParseDocument("testdata/set.yaml", []byte(setBase))
		if err != nil {
			t.Fatal(err)
		}
		doc.Env = testEnv
		if err := doc.ApplySetArg(arg); err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("error is not a scenario error: %T %v", err, err)
			}
			return
		}
		if _, err := doc.Scenario(); err != nil && len(Errors(err)) == 0 {
			t.Fatalf("error is not a scenario error: %T %v", err, err)
		}
	})
}
