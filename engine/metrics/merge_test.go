package metrics

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// run records the same events into one recorder ("all") and split over two
// ("a" and "b"), taking a reset snapshot every interval. It returns the
// snapshots of each interval.
type runOut struct {
	all, a, b []Snapshot
	start     time.Time
}

func splitRun(t *testing.T, intervals, perInterval int) runOut {
	t.Helper()
	clock := hal.NewFakeClock(testStart)
	all := newTestRecorder(t, 16, clock)
	a := newTestRecorder(t, 8, clock)
	b := newTestRecorder(t, 4, clock)
	out := runOut{start: clock.Now()}
	for iv := 0; iv < intervals; iv++ {
		for i, e := range randomEvents(uint64(iv+1), perInterval) {
			apply(all, e)
			if i%3 == 0 {
				apply(a, e)
			} else {
				apply(b, e)
			}
		}
		clock.Advance(time.Second)
		out.all = append(out.all, all.Snapshot(true))
		out.a = append(out.a, a.Snapshot(true))
		out.b = append(out.b, b.Snapshot(true))
	}
	return out
}

func TestMergeSnapshotsEqualsOneRecorder(t *testing.T) {
	run := splitRun(t, 3, 20000)
	for iv := range run.all {
		m, err := MergeSnapshots(run.a[iv], run.b[iv])
		if err != nil {
			t.Fatal(err)
		}
		want := run.all[iv]
		if m.Counts != want.Counts || m.Delta != want.Delta {
			t.Errorf("interval %d: counters differ", iv)
		}
		for _, set := range []struct {
			name      string
			got, want *Latencies
		}{{"interval", &m.Interval, &want.Interval}, {"total", &m.Total, &want.Total}} {
			if !set.got.Equal(set.want) {
				t.Errorf("interval %d: %s histograms differ", iv, set.name)
			}
			for s := 0; s < numSlots; s++ {
				k, q := slotKind(s)
				if g, w := set.got.Get(k, q).Stats(), set.want.Get(k, q).Stats(); g != w {
					t.Errorf("interval %d %s %s: stats %+v, want %+v", iv, set.name, slotName(s), g, w)
				}
			}
			for k := Connect; k < NumKinds; k++ {
				if g, w := set.got.Kind(k).Stats(), set.want.Kind(k).Stats(); g != w {
					t.Errorf("interval %d %s %s: stats %+v, want %+v", iv, set.name, k, g, w)
				}
			}
		}
		if !m.Began.Equal(want.Began) || !m.Start.Equal(want.Start) || !m.Taken.Equal(want.Taken) {
			t.Errorf("interval %d: times differ", iv)
		}
		if got, w := m.Point(run.start), want.Point(run.start); !pointsEqual(got, w) {
			t.Errorf("interval %d: point %+v, want %+v", iv, got, w)
		}
	}
	if n := run.all[2].Total.Count(E2E); n == 0 {
		t.Fatal("no e2e values recorded")
	}
	// MergeSnapshots leaves its inputs alone.
	before := run.a[0].Total.Kind(E2E).Stats()
	if _, err := MergeSnapshots(run.a[0], run.b[0]); err != nil {
		t.Fatal(err)
	}
	if after := run.a[0].Total.Kind(E2E).Stats(); after != before {
		t.Error("MergeSnapshots modified its input")
	}
}

func pointsEqual(a, b SeriesPoint) bool {
	a.e2e, a.ack, b.e2e, b.ack = nil, nil, nil, nil
	return a == b
}

func TestSnapshotJSONRoundTrip(t *testing.T) {
	run := splitRun(t, 1, 5000)
	s := run.all[0]
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Counts != s.Counts || back.Delta != s.Delta || !back.Interval.Equal(&s.Interval) ||
		!back.Total.Equal(&s.Total) || !back.Taken.Equal(s.Taken) || !back.Start.Equal(s.Start) || !back.Began.Equal(s.Began) {
		t.Error("snapshot JSON round trip differs")
	}
	t.Logf("one node snapshot (interval + total, %d values): %d bytes of JSON", s.Total.Count(E2E)+s.Total.Count(PublishAck)+s.Total.Count(Subscribe)+s.Total.Count(Connect), len(data))
}

func seriesOf(start time.Time, snaps []Snapshot) []SeriesPoint {
	var out []SeriesPoint
	for i := range snaps {
		out = append(out, snaps[i].Point(start))
	}
	return out
}

func resultOf(t *testing.T, start time.Time, snaps []Snapshot) *Result {
	t.Helper()
	r := NewResult(&snaps[len(snaps)-1], seriesOf(start, snaps))
	r.Scenario = ScenarioInfo{Name: "unit", File: "unit.yaml"}
	return r
}

func mustMarshal(t *testing.T, r *Result) []byte {
	t.Helper()
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestResultJSONRoundTrip(t *testing.T) {
	run := splitRun(t, 3, 10000)
	r := resultOf(t, run.start, run.all)
	r.Interrupted = true
	r.Nodes = []NodeResult{{Name: "n1", Totals: r.Totals}}
	data := mustMarshal(t, r)

	back, err := DecodeResult(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if again := mustMarshal(t, back); !bytes.Equal(again, data) {
		t.Error("JSON round trip differs")
	}
	for k := Connect; k < NumKinds; k++ {
		if !back.Latency.Get(k).Histogram.Equal(r.Latency.Get(k).Histogram) {
			t.Errorf("%s histogram not restored", k)
		}
	}
	for q, ql := range r.LatencyByQoS {
		bl := back.LatencyByQoS[q]
		if !bl.E2E.Histogram.Equal(ql.E2E.Histogram) || bl.E2E.LatencyStats != ql.E2E.LatencyStats {
			t.Errorf("QoS %s e2e not restored", q)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "scenario", "started_at", "ended_at", "interrupted", "totals", "connect_failed_by_reason", "by_qos", "latency", "latency_by_qos", "series", "nodes"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("result.json lacks %q", key)
		}
	}
	e2e := doc["latency"].(map[string]any)["e2e"].(map[string]any)
	for _, key := range []string{"count", "min_us", "mean_us", "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "hdr"} {
		if _, ok := e2e[key]; !ok {
			t.Errorf("latency.e2e lacks %q", key)
		}
	}
	if doc["schema"] != Schema {
		t.Errorf("schema = %v", doc["schema"])
	}
	t.Logf("result.json for 3 intervals of 10k events: %d bytes", len(data))
}

func TestResultTotals(t *testing.T) {
	run := splitRun(t, 1, 7000)
	s := run.all[0]
	r := NewResult(&s, nil)
	c := &s.Counts
	if r.Totals.Published != c.Sum(Published) || r.Totals.Received != c.Sum(Received) ||
		r.Totals.ConnectFailed != c.ConnectFailedTotal() || r.Totals.Devices != c.Get(DevicesStarted) ||
		r.Totals.Duplicates != c.Sum(Duplicates) || r.Totals.Connected != c.Get(Connected) {
		t.Errorf("totals %+v do not match counts", r.Totals)
	}
	var byQoS, byReason int64
	for _, v := range r.ByQoS {
		byQoS += v.Published
	}
	for _, v := range r.ConnectFailedByReason {
		byReason += v
	}
	if byQoS != r.Totals.Published || byReason != r.Totals.ConnectFailed || len(r.ConnectFailedByReason) != int(NumFailReasons) {
		t.Errorf("breakdowns do not add up: %d vs %d, %d vs %d", byQoS, r.Totals.Published, byReason, r.Totals.ConnectFailed)
	}
	var perQoS int64
	for _, ql := range r.LatencyByQoS {
		perQoS += ql.E2E.Count
	}
	if perQoS != r.Latency.E2E.Count || r.Latency.E2E.Count != s.Total.Count(E2E) {
		t.Errorf("per-QoS e2e counts %d, total %d", perQoS, r.Latency.E2E.Count)
	}
}

func TestMergeResultsEqualsOneRecorder(t *testing.T) {
	run := splitRun(t, 3, 10000)
	ra, rb, rall := resultOf(t, run.start, run.a), resultOf(t, run.start, run.b), resultOf(t, run.start, run.all)
	aJSON := mustMarshal(t, ra)

	m, err := MergeResults(ra, rb)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, ra), aJSON) {
		t.Error("MergeResults modified its input")
	}
	if got, want := mustMarshal(t, m), mustMarshal(t, rall); !bytes.Equal(got, want) {
		t.Errorf("merged result differs from one recorder's:\n%s\nwant\n%s", firstDiff(got, want), "")
	}

	// Results read back from JSON merge exactly too, except for series
	// percentiles, which become upper bounds.
	da, err := UnmarshalResult(mustMarshal(t, ra))
	if err != nil {
		t.Fatal(err)
	}
	db, err := UnmarshalResult(mustMarshal(t, rb))
	if err != nil {
		t.Fatal(err)
	}
	dm, err := MergeResults(da, db)
	if err != nil {
		t.Fatal(err)
	}
	if dm.Totals != rall.Totals {
		t.Errorf("decoded merge totals %+v, want %+v", dm.Totals, rall.Totals)
	}
	for k := Connect; k < NumKinds; k++ {
		if g, w := dm.Latency.Get(k), rall.Latency.Get(k); g.LatencyStats != w.LatencyStats || !g.Histogram.Equal(w.Histogram) {
			t.Errorf("decoded merge %s: %+v, want %+v", k, g.LatencyStats, w.LatencyStats)
		}
	}
	for q := range rall.LatencyByQoS {
		if g, w := dm.LatencyByQoS[q].PublishAck.LatencyStats, rall.LatencyByQoS[q].PublishAck.LatencyStats; g != w {
			t.Errorf("decoded merge QoS %s publish_ack: %+v, want %+v", q, g, w)
		}
	}
	if len(dm.Series) != len(rall.Series) {
		t.Fatalf("series has %d points, want %d", len(dm.Series), len(rall.Series))
	}
	for i, p := range dm.Series {
		w := rall.Series[i]
		if !p.Approximate || p.Published != w.Published || p.Received != w.Received || p.T != w.T {
			t.Errorf("point %d: %+v, want counts of %+v and approximate", i, p, w)
		}
		if want := max(da.Series[i].E2EP99Us, db.Series[i].E2EP99Us); p.E2EP99Us != want {
			t.Errorf("point %d: e2e p99 %d, want max of inputs %d", i, p.E2EP99Us, want)
		}
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range al {
		if i >= len(bl) || al[i] != bl[i] {
			w := ""
			if i < len(bl) {
				w = bl[i]
			}
			return "line " + al[i] + " vs " + w
		}
	}
	return "length differs"
}

func TestMergeSeries(t *testing.T) {
	p := func(tsec int64, pub int64, e2e ...int64) SeriesPoint {
		h := histOf(t, e2e...)
		pt := SeriesPoint{T: tsec, Seconds: 1, Published: pub, e2e: h, ack: NewHistogram()}
		pt.setRates()
		pt.setPercentiles()
		return pt
	}
	a := []SeriesPoint{p(1, 10, 100), p(2, 10, 100), p(4, 1, 5)}
	b := []SeriesPoint{p(2, 5, 1000, 1000, 1000), p(3, 7, 7)}
	m, err := MergeSeries(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var ts []int64
	for _, pt := range m {
		ts = append(ts, pt.T)
	}
	if len(ts) != 4 || ts[0] != 1 || ts[1] != 2 || ts[2] != 3 || ts[3] != 4 {
		t.Fatalf("merged T = %v, want [1 2 3 4]", ts)
	}
	if m[1].Published != 15 || m[1].PublishRate != 15 || m[1].E2EP50Us != 1000 || m[1].E2E().Count() != 4 || m[1].Approximate {
		t.Errorf("merged point at t=2: %+v", m[1])
	}
	if a[1].Published != 10 || a[1].E2E().Count() != 1 {
		t.Error("MergeSeries modified its input")
	}
	noHist := a[1]
	noHist.e2e, noHist.ack = nil, nil
	m, err = MergeSeries([]SeriesPoint{noHist}, b[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !m[0].Approximate || m[0].E2EP50Us != 1000 || m[0].E2E() != nil {
		t.Errorf("approximate merge: %+v", m[0])
	}
}

func TestUnmarshalResultErrors(t *testing.T) {
	run := splitRun(t, 1, 2000)
	good := string(mustMarshal(t, resultOf(t, run.start, run.all)))
	hdr := resultOf(t, run.start, run.all).Latency.E2E.Histogram
	enc, _ := hdr.Encode()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"not json", "{", "decode result"},
		{"wrong schema", strings.Replace(good, Schema, "fleetbench.result/v0", 1), "schema"},
		{"no schema", `{}`, "schema"},
		{"bad hdr", strings.Replace(good, enc, "AAAA", 1), "decode histogram"},
		{"count mismatch", `{"schema":"` + Schema + `","latency":{"e2e":{"count":5}}}`, "count 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := UnmarshalResult([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeResult(strings.NewReader("  ")); err == nil {
		t.Error("DecodeResult of blank input: no error")
	}
	r, err := UnmarshalResult([]byte(`{"schema":"` + Schema + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ByQoS) != NumQoS || len(r.LatencyByQoS) != NumQoS || r.ConnectFailedByReason == nil {
		t.Errorf("minimal result not filled in: %+v", r)
	}
	if _, err := MergeResults(r, r); err != nil {
		t.Errorf("merging minimal results: %v", err)
	}
}

func TestMergeSummaryWithoutHistogram(t *testing.T) {
	a := &Result{Schema: Schema, Latency: LatencyReport{E2E: LatencySummary{LatencyStats: LatencyStats{Count: 3, P99: 10}}}}
	b := &Result{Schema: Schema, Latency: LatencyReport{E2E: Summarize(histOf(t, 1, 2))}}
	if _, err := MergeResults(a, b); err == nil || !strings.Contains(err.Error(), "e2e") {
		t.Errorf("merging a summary without histogram: error %v", err)
	}
}
