package reports

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestPercentileGrid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n          int64
		first, end float64
	}{
		{1, 2, 2}, // a single value still has its p50 point
		{2, 2, 2},
		{7, 2, 6.25},
		{100, 2, 100},     // p99
		{999, 2, 800},     // p99.875: 999 values do not resolve p99.9
		{1000, 2, 1000},   // p99.9
		{1200, 2, 1000},   // not 1250: p99.92 needs 1,250 values
		{50000, 2, 50000}, // p99.998
		{200000, 2, percentileXMax},
	} {
		xs := percentileGrid(tc.n)
		if len(xs) == 0 || xs[0] != tc.first || xs[len(xs)-1] != tc.end {
			t.Errorf("percentileGrid(%d) = %v, want %v..%v", tc.n, xs, tc.first, tc.end)
			continue
		}
		if !slices.IsSorted(xs) {
			t.Errorf("percentileGrid(%d) = %v: not ascending", tc.n, xs)
		}
		for _, x := range xs[1:] {
			if x > float64(tc.n) {
				t.Errorf("percentileGrid(%d) has x=%v (p%v): beyond the data", tc.n, x, 100*(1-1/x))
			}
		}
	}
	if percentileGrid(0) != nil {
		t.Error("a grid without values")
	}
	if got := percentileXLimit(1); got <= percentileXMin {
		t.Errorf("axis of a one-point curve ends at %v: no range", got)
	}
	if got := percentileXLimit(100, 1000, 30); got != 1000 {
		t.Errorf("axis ends at %v for curves of 100, 1000 and 30 values, want 1000 (the longest curve)", got)
	}
}

func TestPercentileCurve(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{})
	h := res.Latency.E2E.Histogram
	pts := percentileCurve(h)
	if len(pts) < 30 {
		t.Fatalf("%d points", len(pts))
	}
	if pts[0][0] != 2 {
		t.Errorf("curve starts at x=%v, want 2 (p50)", pts[0][0])
	}
	if got, want := pts[0][1], float64(h.Percentile(50))/1000; got != want {
		t.Errorf("p50 point %v ms, want %v", got, want)
	}
	// The curve ends at the last grid point the count resolves: x ≤ n,
	// the next grid point beyond n.
	n := float64(h.Count())
	last := pts[len(pts)-1][0]
	if last > n || last > percentileXMax {
		t.Errorf("curve ends at x=%v beyond the data; count %v", last, n)
	}
	if grid := percentileGrid(1 << 40); len(pts) < len(grid) && grid[len(pts)] <= n {
		t.Errorf("curve ends at x=%v before the data does (next grid point %v, count %v)", last, grid[len(pts)], n)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i][0] <= pts[i-1][0] || pts[i][1] < pts[i-1][1] {
			t.Fatalf("curve not monotonic at %d: %v then %v", i, pts[i-1], pts[i])
		}
	}
	if percentileCurve(nil) != nil || percentileCurve(metrics.NewHistogram()) != nil {
		t.Error("an empty histogram has a curve")
	}
	// A big histogram runs to p99.999.
	big := metrics.NewHistogram()
	for i := range 200000 {
		_ = big.Record(int64(100 + i%5000))
	}
	pts = percentileCurve(big)
	if last := pts[len(pts)-1][0]; last != percentileXMax {
		t.Errorf("curve of 200k values ends at %v, want %v", last, percentileXMax)
	}
}

// lastX returns the x of the last point of each series of a percentile
// chart.
func lastX(t *testing.T, spec chartSpec) []float64 {
	t.Helper()
	var out []float64
	for _, s := range spec.Option.Series {
		d, ok := s.Data.([][2]float64)
		if !ok || len(d) == 0 {
			t.Fatalf("series %s: data %T of %v", s.Name, s.Data, s.Data)
		}
		out = append(out, d[len(d)-1][0])
	}
	return out
}

func TestPercentileChartAxisEndsWithData(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{})
	for _, k := range []metrics.Kind{metrics.Connect, metrics.PublishAck, metrics.E2E} {
		curves := kindCurves(res, k)
		spec := percentileChart("x", curves)
		x := spec.Option.XAxis[0]
		ends := lastX(t, spec)
		if x.Max != slices.Max(ends) {
			t.Errorf("%s: percentile axis ends at %v, the data at %v", k, x.Max, ends)
		}
		if x.Min != percentileXMin || x.Type != "log" {
			t.Errorf("%s: percentile axis %+v", k, x)
		}
		var most int64
		for _, c := range curves {
			most = max(most, c.hist.Count())
		}
		if m, _ := x.Max.(float64); m > float64(most) {
			t.Errorf("%s: axis ends at p%v, beyond what %d values resolve", k, 100*(1-1/m), most)
		}
	}
	// About 1,000 samples end at p99.9, not p99.999.
	h := metrics.NewHistogram()
	for i := range 1000 {
		_ = h.Record(int64(500 + i))
	}
	spec := percentileChart("x", []curve{{name: "all", color: colorAll, hist: h}})
	if got := spec.Option.XAxis[0].Max; got != 1000.0 {
		t.Errorf("1,000 samples: axis ends at %v, want 1000 (p99.9)", got)
	}
}

func TestPercentileChartLogAxis(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{})
	// QoS 0 acks (~60µs) beside QoS 2 (~3ms): log scale.
	spec := percentileChart("x", kindCurves(res, metrics.PublishAck))
	if spec.Option.YAxis[0].Type != "log" {
		t.Errorf("publish_ack axis %q, want log", spec.Option.YAxis[0].Type)
	}
	// e2e medians are close: linear.
	spec = percentileChart("x", kindCurves(res, metrics.E2E))
	if spec.Option.YAxis[0].Type != "value" {
		t.Errorf("e2e axis %q, want value", spec.Option.YAxis[0].Type)
	}
}

// seriesStyle is what tells one line from another apart from its colour.
func seriesStyle(s echSeries) string {
	dash := "solid"
	if s.LineStyle != nil && s.LineStyle.Type != "" {
		dash = s.LineStyle.Type
	}
	return dash + "/" + s.Symbol
}

func TestLatencyTimeChart(t *testing.T) {
	t.Parallel()
	series := []metrics.SeriesPoint{
		{T: 1, Received: 10, Acked: 10, E2EP50Us: 300, E2EP99Us: 2000, PublishAckP99Us: 2000}, // e2e p99 = ack p99
		{T: 2, Received: 10, Acked: 10, E2EP50Us: 0, E2EP99Us: 175000, PublishAckP99Us: 0},    // zeros
		{T: 3}, // no samples
		{T: 4, Received: 10, E2EP50Us: 400, E2EP99Us: 900}, // no acks
	}
	spec := latencyTimeChart("chart-latency-time", series)
	o := spec.Option
	if y := o.YAxis[0]; y.Type != "log" || y.Min != nil || !spec.LogToggle {
		t.Errorf("y axis %+v (log toggle %v), want a log axis without min, switchable", y, spec.LogToggle)
	}
	if len(o.Series) != 3 {
		t.Fatalf("%d series", len(o.Series))
	}
	styles := map[string]string{}
	for _, s := range o.Series {
		st := seriesStyle(s)
		if prev, ok := styles[st]; ok {
			t.Errorf("%s and %s are both drawn %s", prev, s.Name, st)
		}
		styles[st] = s.Name
		if s.Symbol == "" || !s.ShowSymbol {
			t.Errorf("%s has no markers", s.Name)
		}
	}
	e2e99, ack99 := o.Series[1], o.Series[2]
	if e2e99.Name != "e2e p99" || ack99.Name != "publish→ack p99" {
		t.Fatalf("series %q, %q", e2e99.Name, ack99.Name)
	}
	// Where the two p99 coincide, the dashed ack line lies over the wider
	// e2e line, so both show.
	if ack99.Z <= e2e99.Z || ack99.LineStyle.Width >= e2e99.LineStyle.Width || ack99.LineStyle.Type != "dashed" {
		t.Errorf("ack p99 (z %d, %+v) does not lie visibly over e2e p99 (z %d, %+v)", ack99.Z, *ack99.LineStyle, e2e99.Z, *e2e99.LineStyle)
	}
	want := [][]any{
		{0.3, latencyFloorMs, nil, 0.4},
		{2.0, 175.0, nil, 0.9},
		{2.0, latencyFloorMs, nil, nil},
	}
	for i, s := range o.Series {
		pts := s.Data.([]seriesPoint)
		for j, p := range pts {
			if p[0] != series[j].T || p[1] != want[i][j] {
				t.Errorf("%s point %d = %v, want [%v %v]", s.Name, j, p, series[j].T, want[i][j])
			}
		}
	}
	// The page gets it as ECharts expects it.
	js, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"yAxis":[{"type":"log","name":"latency","logBase":10}]`, `"logToggle":true`,
		`"symbol":"triangle"`, `"symbol":"diamond"`, `"type":"dashed"`, `"showAllSymbol":"auto"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("chart JSON lacks %s:\n%s", want, js)
		}
	}
}

func TestLatencyTimeChartsLogAxis(t *testing.T) {
	t.Parallel()
	// The per-node and compared e2e p99 over time are on log axes too.
	dist := distributedResult(t, fixture{})
	spec := nodeLatencyChart("chart-node-latency", perNodeLines(dist.Nodes))
	if y := spec.Option.YAxis[0]; y.Type != "log" || y.Min != nil || !spec.LogToggle {
		t.Errorf("per-node latency axis %+v (toggle %v)", y, spec.LogToggle)
	}
	a, b := makeResult(t, fixture{}), makeResult(t, fixture{seed: 2, slowdown: 1.3})
	a.Series[3].E2EP99Us = 0 // received, but under 1µs
	page := renderCompareHTML(t, Compare([]*metrics.Result{a, b}, []string{"a", "b"}, CompareOptions{}))
	lat := chartByID(chartSpecs(t, page), "chart-compare-e2e-time")
	if lat == nil {
		t.Fatal("no compared e2e p99 over time")
	}
	if y := lat.Option.YAxis[0]; y.Type != "log" || y.Min != nil || !lat.LogToggle {
		t.Errorf("compared latency axis %+v (toggle %v)", y, lat.LogToggle)
	}
	_, ys := chartYs(t, lat.Option.Series[0])
	if ys[3] != latencyFloorMs {
		t.Errorf("a p99 of 0 is %v on the log axis, want %v", ys[3], latencyFloorMs)
	}
	rate := chartByID(chartSpecs(t, page), "chart-compare-rate-time")
	if rate == nil || rate.Option.YAxis[0].Type != "value" || rate.LogToggle {
		t.Errorf("the rate chart is not linear: %+v", rate)
	}
}
