package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func findRow(t *testing.T, c Comparison, metric string) CompareRow {
	t.Helper()
	for _, r := range c.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q", metric)
	return CompareRow{}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	base := makeResult(t, fixture{})
	head := makeResult(t, fixture{seed: 2, slowdown: 1.5})
	third := makeResult(t, fixture{seed: 3, slowdown: 0.8, scenarioName: "fast"})
	c := Compare([]*metrics.Result{base, head, third}, []string{"base", ""}, CompareOptions{})
	if got := []string{c.Runs[0].Label, c.Runs[1].Label, c.Runs[2].Label}; got[0] != "base" || got[1] != "telemetry-qos-mix" || got[2] != "fast" {
		t.Errorf("labels %q", got)
	}
	if c.Tolerance != DefaultTolerance || c.Title != "fleetbench comparison" {
		t.Errorf("defaults: tolerance %v title %q", c.Tolerance, c.Title)
	}
	if len(c.Regressions) != 0 {
		t.Errorf("regressions computed for three runs: %v", c.Regressions)
	}
	tests := []struct {
		metric string
		better string
		winner int
	}{
		{"e2e.p99", "lower", 2},
		{"e2e.p99{qos=1}", "lower", 2},
		{"publish_ack.p50", "lower", 2},
		{"devices", "", -1},
		{"connect_failed", "lower", -1}, // a tie: the same plan everywhere
	}
	for _, tc := range tests {
		r := findRow(t, c, tc.metric)
		if r.Better != tc.better || r.Winner != tc.winner {
			t.Errorf("%s: better %q winner %d, want %q %d", tc.metric, r.Better, r.Winner, tc.better, tc.winner)
		}
		if len(r.Values) != 3 {
			t.Errorf("%s: %d values", tc.metric, len(r.Values))
		}
	}
	r := findRow(t, c, "e2e.p99")
	if r.Values[0].Delta != "" || !strings.HasPrefix(r.Values[1].Delta, "+") || !strings.HasPrefix(r.Values[2].Delta, "-") {
		t.Errorf("deltas %q %q %q", r.Values[0].Delta, r.Values[1].Delta, r.Values[2].Delta)
	}
	if r.Values[0].Text != fmtMicros(float64(base.Latency.E2E.P99)) {
		t.Errorf("text %q", r.Values[0].Text)
	}
}

func TestCompareLabels(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10})
	c := Compare([]*metrics.Result{res, res, nil}, []string{"x", "x"}, CompareOptions{})
	got := []string{c.Runs[0].Label, c.Runs[1].Label, c.Runs[2].Label}
	want := []string{"x", "x #2", "run 3"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("labels %q, want %q", got, want)
			break
		}
	}
	// The nil result compares as empty: no values, no winner from it.
	r := findRow(t, c, "e2e.p99")
	if r.Values[2].NoData == "" || r.Values[2].Text != dash {
		t.Errorf("nil result value %+v", r.Values[2])
	}
}

func TestWinner(t *testing.T) {
	t.Parallel()
	v := func(xs ...float64) []CompareValue {
		out := make([]CompareValue, len(xs))
		for i, x := range xs {
			if x < 0 {
				out[i] = CompareValue{NoData: "none"}
				continue
			}
			out[i] = CompareValue{Value: x}
		}
		return out
	}
	tests := []struct {
		vals   []CompareValue
		better direction
		want   int
	}{
		{v(3, 1, 2), lowerBetter, 1},
		{v(3, 1, 2), higherBetter, 0},
		{v(3, 1, 2), neutral, -1},
		{v(1, 1, 2), lowerBetter, -1},
		{v(-1, 5), lowerBetter, -1},
		{v(-1, 5, 4), lowerBetter, 2},
		{v(0, 0), lowerBetter, -1},
	}
	for i, tc := range tests {
		if got := winner(tc.vals, tc.better); got != tc.want {
			t.Errorf("case %d: winner %d, want %d", i, got, tc.want)
		}
	}
}

func TestRegressions(t *testing.T) {
	t.Parallel()
	base := makeResult(t, fixture{})
	same := makeResult(t, fixture{})
	if r := Regressions(base, same, 0.1); len(r) != 0 {
		t.Errorf("identical runs regress: %v", r)
	}
	slow := makeResult(t, fixture{slowdown: 1.3})
	regs := Regressions(base, slow, 0.1)
	names := map[string]Regression{}
	for _, r := range regs {
		names[r.Metric] = r
	}
	for _, m := range []string{"e2e.p99", "e2e.p50", "publish_ack.p99", "e2e.p99{qos=1}"} {
		r, ok := names[m]
		if !ok {
			t.Errorf("%s did not regress; got %v", m, regs)
			continue
		}
		if r.Change < 0.2 || r.Change > 0.4 || r.FromZero || !strings.Contains(r.Message, "worse") {
			t.Errorf("%s: %+v", m, r)
		}
	}
	// Within tolerance: nothing.
	if r := Regressions(base, slow, 0.5); len(r) != 0 {
		t.Errorf("30%% slower with 50%% tolerance: %v", r)
	}
	// Faster is never a regression.
	if r := Regressions(slow, base, 0); len(r) != 0 {
		t.Errorf("faster head regresses: %v", r)
	}
	if r := Regressions(nil, base, 0.1); len(r) != 0 {
		t.Errorf("nil base: %v", r)
	}
}

func TestRegressionsFromZeroAndThroughput(t *testing.T) {
	t.Parallel()
	base := makeResult(t, fixture{spikeFrom: 100, spikeTo: 101}) // no fault: no loss, no duplicates
	if base.Totals.Lost != 0 {
		t.Fatalf("base lost %d", base.Totals.Lost)
	}
	head := makeResult(t, fixture{})
	regs := Regressions(base, head, 1000) // latency changes are within this tolerance
	byName := map[string]Regression{}
	for _, r := range regs {
		byName[r.Metric] = r
	}
	for _, m := range []string{"loss_ratio", "duplicate_ratio"} {
		r, ok := byName[m]
		if !ok || !r.FromZero || r.Change != 0 || r.ChangeText() != "from 0" || !strings.Contains(r.Message, "went from 0 to") {
			t.Errorf("%s: %+v (present %v)", m, r, ok)
		}
	}
	// Lower throughput is worse.
	slowPub := roundTrip(t, base)
	slowPub.Totals.Published /= 2
	slowPub.Totals.Received /= 2
	regs = Regressions(base, slowPub, 0.1)
	found := map[string]bool{}
	for _, r := range regs {
		found[r.Metric] = true
	}
	if !found["publish_rate"] || !found["receive_rate"] {
		t.Errorf("halved throughput: %v", regs)
	}
	// JSON never holds an infinity or NaN.
	if _, err := json.Marshal(regs); err != nil {
		t.Errorf("regressions do not encode: %v", err)
	}
}

func TestWriteCompareJSONGolden(t *testing.T) {
	t.Parallel()
	base := makeResult(t, fixture{})
	head := makeResult(t, fixture{seed: 2, slowdown: 1.3})
	c := Compare([]*metrics.Result{base, head}, []string{"mochi v2.7.9", "mochi v2.8.0-rc1"}, CompareOptions{Tolerance: 0.15})
	var b bytes.Buffer
	if err := WriteCompareJSON(&b, c); err != nil {
		t.Fatal(err)
	}
	golden(t, "compare/compare.json", b.Bytes())
	var back Comparison
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Rows) != len(c.Rows) || len(back.Regressions) != len(c.Regressions) || len(c.Regressions) == 0 {
		t.Errorf("decoded %d rows, %d regressions", len(back.Rows), len(back.Regressions))
	}
}

func TestWriteCompareHTML(t *testing.T) {
	t.Parallel()
	base := makeResult(t, fixture{})
	head := makeResult(t, fixture{seed: 2, slowdown: 1.3})
	page := renderCompareHTML(t, Compare([]*metrics.Result{base, head}, []string{"old", "new"}, CompareOptions{Version: "v9"}))
	for _, want := range []string{`class="verdict fail"`, `REGRESSION`, `<code>e2e.p99</code>`, `class="win"`, `id="chart-compare-e2e"`,
		`id="chart-compare-e2e-time"`, `id="chart-compare-rate-time"`, `Generated by fleetbench v9.`} {
		if !strings.Contains(page, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
	page = renderCompareHTML(t, Compare([]*metrics.Result{base, base}, nil, CompareOptions{}))
	if !strings.Contains(page, `class="verdict pass"`) || !strings.Contains(page, "NO REGRESSION") {
		t.Error("identical runs are not shown as without regression")
	}
	page = renderCompareHTML(t, Compare([]*metrics.Result{base}, nil, CompareOptions{}))
	if strings.Contains(page, `class="verdict`) {
		t.Error("a single run has a regression verdict")
	}
	if err := WriteCompareHTML(&bytes.Buffer{}, Comparison{Runs: []CompareRun{{}}}); err == nil {
		t.Error("a hand-made comparison rendered")
	}
}
