package reports

import (
	"math"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// The chart options below are the subset of the ECharts option object the
// reports use, as plain data. Formatters that need JavaScript (durations,
// percentile labels) are attached in the page script by chart kind, so the
// data here never carries code.

// chartSpec is one chart of a page: the element it renders into, its kind
// (which formatters the page script attaches) and its ECharts option.
type chartSpec struct {
	ID     string    `json:"id"`
	Kind   string    `json:"kind"`
	Option echOption `json:"option"`
	// LogToggle puts a log/linear switch on the chart: its first y axis
	// starts logarithmic (LatencyFloorMs stands in for 0) and the reader
	// may switch it to linear.
	LogToggle bool `json:"logToggle,omitempty"`
}

// Chart kinds, matched by the page script.
const (
	chartPercentile  = "percentile"   // x: 1/(1-q) on a log axis; y: ms
	chartLatencyTime = "latency-time" // x: seconds; y: ms
	chartRateTime    = "rate-time"    // x: seconds; y: per second
	chartConnections = "connections"  // x: seconds; y: devices, connects
	chartBars        = "bars"         // horizontal bars of counts
)

type echOption struct {
	Animation bool        `json:"animation"`
	Color     []string    `json:"color,omitempty"`
	Grid      *echGrid    `json:"grid,omitempty"`
	Legend    *echLegend  `json:"legend,omitempty"`
	Tooltip   *echTooltip `json:"tooltip,omitempty"`
	XAxis     []echAxis   `json:"xAxis"`
	YAxis     []echAxis   `json:"yAxis"`
	Series    []echSeries `json:"series"`
}

type echGrid struct {
	Left         any  `json:"left,omitempty"`
	Right        any  `json:"right,omitempty"`
	Top          any  `json:"top,omitempty"`
	Bottom       any  `json:"bottom,omitempty"`
	ContainLabel bool `json:"containLabel"`
}

type echLegend struct {
	Top  any    `json:"top,omitempty"`
	Left any    `json:"left,omitempty"`
	Type string `json:"type,omitempty"`
	Icon string `json:"icon,omitempty"`
}

type echTooltip struct {
	Trigger string `json:"trigger"`
}

type echAxis struct {
	Type         string        `json:"type"`
	Name         string        `json:"name,omitempty"`
	NameLocation string        `json:"nameLocation,omitempty"`
	NameGap      int           `json:"nameGap,omitempty"`
	Min          any           `json:"min,omitempty"`
	Max          any           `json:"max,omitempty"`
	LogBase      float64       `json:"logBase,omitempty"`
	Data         []string      `json:"data,omitempty"`
	Inverse      bool          `json:"inverse,omitempty"`
	Position     string        `json:"position,omitempty"`
	AxisLabel    *echAxisLabel `json:"axisLabel,omitempty"`
	SplitLine    *echSplitLine `json:"splitLine,omitempty"`
	MinInterval  float64       `json:"minInterval,omitempty"`
}

type echAxisLabel struct {
	Formatter string `json:"formatter,omitempty"`
}

type echSplitLine struct {
	Show bool `json:"show"`
}

type echSeries struct {
	Name         string        `json:"name"`
	Type         string        `json:"type"`
	Data         any           `json:"data"`
	YAxisIndex   int           `json:"yAxisIndex,omitempty"`
	ShowSymbol   bool          `json:"showSymbol"`
	Symbol       string        `json:"symbol,omitempty"`
	SymbolSize   int           `json:"symbolSize,omitempty"`
	ShowAll      string        `json:"showAllSymbol,omitempty"`
	ConnectNulls bool          `json:"connectNulls,omitempty"`
	Step         string        `json:"step,omitempty"`
	BarMaxWidth  int           `json:"barMaxWidth,omitempty"`
	LineStyle    *echLineStyle `json:"lineStyle,omitempty"`
	AreaStyle    *echAreaStyle `json:"areaStyle,omitempty"`
	Label        *echLabel     `json:"label,omitempty"`
	Z            int           `json:"z,omitempty"`
	MarkArea     *echMarkArea  `json:"markArea,omitempty"`
}

// echMarkArea shades x ranges of a chart (fault windows).
type echMarkArea struct {
	Silent    bool              `json:"silent"`
	ItemStyle echItemStyle      `json:"itemStyle"`
	Label     *echLabel         `json:"label,omitempty"`
	Data      [][2]echMarkPoint `json:"data"`
}

type echMarkPoint struct {
	Name  string  `json:"name,omitempty"`
	XAxis float64 `json:"xAxis"`
}

type echItemStyle struct {
	Color   string  `json:"color"`
	Opacity float64 `json:"opacity"`
}

// shadeFaults shades the fault windows on a time-series chart, each
// labelled with what was injected.
func shadeFaults(spec *chartSpec, faults []metrics.FaultWindow) {
	if len(faults) == 0 || len(spec.Option.Series) == 0 {
		return
	}
	ma := &echMarkArea{Silent: true, ItemStyle: echItemStyle{Color: "#f59e0b", Opacity: 0.15},
		Label: &echLabel{Show: true, Position: "insideTop"}}
	for _, f := range faults {
		ma.Data = append(ma.Data, [2]echMarkPoint{{Name: f.Kind, XAxis: f.FromS}, {XAxis: f.ToS}})
	}
	spec.Option.Series[0].MarkArea = ma
}

type echLineStyle struct {
	Width float64 `json:"width,omitempty"`
	Type  string  `json:"type,omitempty"`
}

type echAreaStyle struct {
	Opacity float64 `json:"opacity"`
}

type echLabel struct {
	Show     bool   `json:"show"`
	Position string `json:"position,omitempty"`
}

// Colours: one per QoS level (and "all"), and a palette for compared runs.
var (
	colorAll     = "#1f2937"
	qosColors    = map[string]string{"0": "#0d9488", "1": "#2563eb", "2": "#9333ea"}
	runPalette   = []string{"#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563"}
	colorPublish = "#2563eb"
	colorReceive = "#059669"
	colorAck     = "#94a3b8"
	colorP50     = "#2563eb"
	colorP99     = "#dc2626"
	colorAckP99  = "#d97706"
	colorBad     = "#cf222e"
)

// percentileMultipliers place the points of a percentile curve inside each
// decade of 1/(1-q): 2 is p50, 4 p75, 10 p90, 20 p95, 100 p99 and so on.
var percentileMultipliers = []float64{1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.25, 8}

// Percentile plot bounds: x = 1/(1-q) from p50 to at most p99.999. The
// axis of a plot ends where its longest curve does (percentileXLimit).
const (
	percentileXMin = 2.0
	percentileXMax = 100000.0
)

// latencyFloorMs stands in for a latency of 0 on a log axis, which cannot
// show 0: 1µs, the histograms' resolution (they record whole microseconds,
// so a 0 is a latency under 1µs).
const latencyFloorMs = 0.001

// percentileGrid returns the x = 1/(1-q) of the points of a percentile
// curve of n values: the grid points from p50 up to the highest percentile
// that n values resolve, x ≤ n (at least one value lies beyond it: 99.9 %
// for 1,000 values, 99 % for 100), and at most p99.999. A curve has at
// least its p50 point.
func percentileGrid(n int64) []float64 {
	if n <= 0 {
		return nil
	}
	var xs []float64
	for decade := 1.0; decade <= percentileXMax; decade *= 10 {
		for _, m := range percentileMultipliers {
			x := round6(decade * m)
			if x < percentileXMin || x > percentileXMax {
				continue
			}
			if x > float64(n) && len(xs) > 0 {
				return xs
			}
			xs = append(xs, x)
		}
	}
	return xs
}

// percentileXLimit is the end of the percentile axis for curves of counts:
// the last point of the longest curve (never the axis start itself, which
// would leave the axis without a range).
func percentileXLimit(counts ...int64) float64 {
	limit := 0.0
	for _, n := range counts {
		if xs := percentileGrid(n); len(xs) > 0 {
			limit = max(limit, xs[len(xs)-1])
		}
	}
	if limit <= percentileXMin {
		return 2 * percentileXMin // p75: a curve of one point still has an axis
	}
	return limit
}

// logYRatio is the ratio of the highest to the lowest median of the curves
// of a percentile plot beyond which its latency axis is logarithmic.
const logYRatio = 10

// percentileCurve returns the classic HdrHistogram percentile plot of h as
// [x, milliseconds] points, x = 1/(1-q) on percentileGrid: from p50 up to
// the highest percentile the number of values resolves (beyond it every
// percentile is the maximum).
func percentileCurve(h *metrics.Histogram) [][2]float64 {
	n := h.Count()
	if n == 0 {
		return nil
	}
	xs := percentileGrid(n)
	ps := make([]float64, len(xs))
	for i, x := range xs {
		ps[i] = 100 * (1 - 1/x)
	}
	vs := h.Percentiles(ps...)
	out := make([][2]float64, len(xs))
	for i := range xs {
		out[i] = [2]float64{xs[i], float64(vs[i]) / 1000}
	}
	return out
}

// round6 trims float noise from grid values (1.25·10 = 12.500000000000002).
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// curve is one line of a percentile plot.
type curve struct {
	name  string
	color string
	hist  *metrics.Histogram
	dash  bool
}

// percentileChart builds a percentile-distribution chart of several
// curves; its percentile axis ends at the last point of the longest curve.
func percentileChart(id string, curves []curve) chartSpec {
	counts := make([]int64, len(curves))
	for i, c := range curves {
		counts[i] = c.hist.Count()
	}
	opt := echOption{
		Grid:    &echGrid{Left: 12, Right: 36, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2, Type: "scroll"},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis: []echAxis{{
			Type: "log", LogBase: 10, Min: percentileXMin, Max: percentileXLimit(counts...),
			Name: "percentile", NameLocation: "middle", NameGap: 26,
		}},
		YAxis: []echAxis{{Type: "value", Name: "latency", Min: 0}},
	}
	lowest, highest := math.Inf(1), 0.0
	data := make([][][2]float64, len(curves))
	for i, c := range curves {
		data[i] = percentileCurve(c.hist)
		if len(data[i]) > 0 {
			lowest = min(lowest, data[i][0][1])
			highest = max(highest, data[i][0][1])
		}
	}
	// Curves whose medians differ by more than a factor of logYRatio (QoS 0
	// acks in microseconds beside QoS 2 in milliseconds) are unreadable on
	// a linear axis.
	if highest > 0 && highest/max(lowest, 0.001) > logYRatio {
		opt.YAxis[0] = echAxis{Type: "log", LogBase: 10, Name: "latency (log scale)"}
		for _, d := range data {
			for j := range d {
				d[j][1] = max(d[j][1], latencyFloorMs) // a log axis has no 0
			}
		}
	}
	for i, c := range curves {
		s := echSeries{Name: c.name, Type: "line", Data: data[i], Symbol: "circle", SymbolSize: 4,
			LineStyle: &echLineStyle{Width: 2}}
		if c.dash {
			s.LineStyle.Type = "dashed"
		}
		opt.Series = append(opt.Series, s)
		opt.Color = append(opt.Color, c.color)
	}
	return chartSpec{ID: id, Kind: chartPercentile, Option: opt}
}

// kindCurves returns the curves of one latency kind: every QoS level with
// samples, plus "all QoS" when there are several.
func kindCurves(res *metrics.Result, k metrics.Kind) []curve {
	all := summaryOf(res, k, "")
	if all.Count == 0 {
		return nil
	}
	levels := latencyQoS(res, k)
	if len(levels) <= 1 {
		name := "all"
		color := colorAll
		if len(levels) == 1 {
			name, color = "QoS "+levels[0], qosColors[levels[0]]
		}
		return []curve{{name: name, color: color, hist: all.Histogram}}
	}
	out := []curve{{name: "all QoS", color: colorAll, hist: all.Histogram, dash: true}}
	for _, q := range levels {
		out = append(out, curve{name: "QoS " + q, color: qosColors[q], hist: summaryOf(res, k, q).Histogram})
	}
	return out
}

// seriesPoint is an [x, y] point whose y may be missing (null).
type seriesPoint [2]any

func timeAxis() echAxis {
	return echAxis{Type: "value", Name: "seconds since start", NameLocation: "middle", NameGap: 26, Min: 0, Max: "dataMax",
		AxisLabel: &echAxisLabel{Formatter: "{value}s"}, MinInterval: 1}
}

// latencyAxis is the y axis of a latency-over-time chart: logarithmic, so
// that a p50 of a few hundred µs stays readable under a p99 spike of
// hundreds of ms (the page offers a switch to linear: LogToggle).
func latencyAxis(name string) echAxis {
	return echAxis{Type: "log", LogBase: 10, Name: name}
}

// latencyMs converts a latency in µs to a point of a log latency axis: ms,
// a 0 raised to latencyFloorMs.
func latencyMs(us int64) float64 {
	return max(float64(us)/1000, latencyFloorMs)
}

// latencyTimeChart plots the per-interval e2e p50/p99 and publish-ack p99
// on a log axis. An interval without samples is a gap; a latency of 0 (under
// 1µs) is drawn at latencyFloorMs. Each line has its own marker, and the
// publish→ack p99 is dashed and drawn over the wider e2e p99, so both show
// where they coincide.
func latencyTimeChart(id string, series []metrics.SeriesPoint) chartSpec {
	var p50, p99, ack []seriesPoint
	for _, p := range series {
		e50, e99, a99 := any(nil), any(nil), any(nil)
		if p.Received > 0 || p.E2EP99Us > 0 {
			e50, e99 = latencyMs(p.E2EP50Us), latencyMs(p.E2EP99Us)
		}
		if p.Acked > 0 || p.PublishAckP99Us > 0 {
			a99 = latencyMs(p.PublishAckP99Us)
		}
		p50 = append(p50, seriesPoint{p.T, e50})
		p99 = append(p99, seriesPoint{p.T, e99})
		ack = append(ack, seriesPoint{p.T, a99})
	}
	line := func(name string, data []seriesPoint, style echLineStyle, symbol string, size, z int) echSeries {
		return echSeries{Name: name, Type: "line", Data: data, LineStyle: &style,
			ShowSymbol: true, ShowAll: "auto", Symbol: symbol, SymbolSize: size, Z: z}
	}
	return chartSpec{ID: id, Kind: chartLatencyTime, LogToggle: true, Option: echOption{
		Color:   []string{colorP50, colorP99, colorAckP99},
		Grid:    &echGrid{Left: 12, Right: 36, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{timeAxis()},
		YAxis:   []echAxis{latencyAxis("latency")},
		Series: []echSeries{
			line("e2e p50", p50, echLineStyle{Width: 2}, "circle", 5, 2),
			line("e2e p99", p99, echLineStyle{Width: 3.5}, "triangle", 8, 2),
			line("publish→ack p99", ack, echLineStyle{Width: 2, Type: "dashed"}, "diamond", 6, 3),
		},
	}}
}

// rateTimeChart plots the publish, receive and ack rates per interval.
func rateTimeChart(id string, series []metrics.SeriesPoint) chartSpec {
	var pub, rcv, ack []seriesPoint
	for _, p := range series {
		pub = append(pub, seriesPoint{p.T, round6(p.PublishRate)})
		rcv = append(rcv, seriesPoint{p.T, round6(p.ReceiveRate)})
		ack = append(ack, seriesPoint{p.T, round6(p.AckRate)})
	}
	return chartSpec{ID: id, Kind: chartRateTime, Option: echOption{
		Color:   []string{colorPublish, colorReceive, colorAck},
		Grid:    &echGrid{Left: 12, Right: 36, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{timeAxis()},
		YAxis:   []echAxis{{Type: "value", Name: "msg/s", Min: 0}},
		Series: []echSeries{
			{Name: "published/s", Type: "line", Data: pub, LineStyle: &echLineStyle{Width: 2}, AreaStyle: &echAreaStyle{Opacity: 0.08}},
			{Name: "received/s", Type: "line", Data: rcv, LineStyle: &echLineStyle{Width: 2}},
			{Name: "acked/s", Type: "line", Data: ack, LineStyle: &echLineStyle{Width: 1.5, Type: "dashed"}},
		},
	}}
}

// connectionsChart plots the connected gauge and the connects per interval.
func connectionsChart(id string, series []metrics.SeriesPoint) chartSpec {
	var conn, ok, failed []seriesPoint
	for _, p := range series {
		conn = append(conn, seriesPoint{p.T, p.Connected})
		ok = append(ok, seriesPoint{p.T, p.ConnectOK})
		failed = append(failed, seriesPoint{p.T, p.ConnectFailed})
	}
	return chartSpec{ID: id, Kind: chartConnections, Option: echOption{
		Color:   []string{colorAll, colorReceive, colorBad},
		Grid:    &echGrid{Left: 12, Right: 12, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{timeAxis()},
		YAxis: []echAxis{
			{Type: "value", Name: "connected", Min: 0, MinInterval: 1},
			{Type: "value", Name: "per interval", Min: 0, MinInterval: 1, Position: "right", SplitLine: &echSplitLine{Show: false}},
		},
		Series: []echSeries{
			{Name: "connected", Type: "line", Data: conn, Step: "start", LineStyle: &echLineStyle{Width: 2}, Z: 3},
			{Name: "connects ok", Type: "bar", Data: ok, YAxisIndex: 1, BarMaxWidth: 10},
			{Name: "connects failed", Type: "bar", Data: failed, YAxisIndex: 1, BarMaxWidth: 10},
		},
	}}
}

// problemsChart draws the non-zero error and loss counts as horizontal
// bars.
func problemsChart(id string, ps []problem) chartSpec {
	names := make([]string, len(ps))
	values := make([]int64, len(ps))
	for i, p := range ps {
		names[i], values[i] = p.Name, p.Count
	}
	return chartSpec{ID: id, Kind: chartBars, Option: echOption{
		Color:   []string{colorBad},
		Grid:    &echGrid{Left: 24, Right: 48, Top: 8, Bottom: 8, ContainLabel: true},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{{Type: "value", MinInterval: 1}},
		YAxis:   []echAxis{{Type: "category", Data: names, Inverse: true}},
		Series:  []echSeries{{Name: "count", Type: "bar", Data: values, BarMaxWidth: 18, Label: &echLabel{Show: true, Position: "right"}}},
	}}
}

// nodeLines holds one line per node of a distributed run that has a time
// series, in the order of the result's nodes, with a colour each from the
// run palette (the same node has the same colour in every per-node chart).
type nodeLines struct {
	names  []string
	colors []string
	series [][]metrics.NodePoint
}

func perNodeLines(nodes []metrics.NodeResult) nodeLines {
	var nl nodeLines
	for _, n := range nodes {
		if len(n.Series) == 0 {
			continue
		}
		nl.colors = append(nl.colors, runPalette[len(nl.names)%len(runPalette)])
		nl.names = append(nl.names, orDash(n.Name))
		nl.series = append(nl.series, n.Series)
	}
	return nl
}

// chart builds a time chart of one line per node, y from value (nil: a
// gap).
func (nl nodeLines) chart(id, kind string, y echAxis, step string, value func(metrics.NodePoint) any) chartSpec {
	opt := echOption{
		Color:   nl.colors,
		Grid:    &echGrid{Left: 12, Right: 36, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2, Type: "scroll"},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{timeAxis()},
		YAxis:   []echAxis{y},
	}
	for i, pts := range nl.series {
		data := make([]seriesPoint, 0, len(pts))
		for _, p := range pts {
			data = append(data, seriesPoint{p.T, value(p)})
		}
		opt.Series = append(opt.Series, echSeries{Name: nl.names[i], Type: "line", Data: data, Step: step, LineStyle: &echLineStyle{Width: 2}})
	}
	return chartSpec{ID: id, Kind: kind, Option: opt}
}

// nodeRateChart plots each node's publish rate per interval.
func nodeRateChart(id string, nl nodeLines) chartSpec {
	return nl.chart(id, chartRateTime, echAxis{Type: "value", Name: "published msg/s", Min: 0},
		"", func(p metrics.NodePoint) any { return round6(p.PublishRate) })
}

// nodeLatencyChart plots each node's per-interval e2e p99 on a log axis; an
// interval without samples is a gap, not 0.
func nodeLatencyChart(id string, nl nodeLines) chartSpec {
	spec := nl.chart(id, chartLatencyTime, latencyAxis("e2e p99"),
		"", func(p metrics.NodePoint) any {
			if p.E2EP99Us <= 0 {
				return nil
			}
			return float64(p.E2EP99Us) / 1000
		})
	spec.LogToggle = true
	return spec
}

// nodeConnectedChart plots each node's connected devices.
func nodeConnectedChart(id string, nl nodeLines) chartSpec {
	return nl.chart(id, chartConnections, echAxis{Type: "value", Name: "connected", Min: 0, MinInterval: 1},
		"start", func(p metrics.NodePoint) any { return p.Connected })
}

// hasLatency reports whether any node recorded an e2e p99.
func (nl nodeLines) hasLatency() bool {
	for _, pts := range nl.series {
		for _, p := range pts {
			if p.E2EP99Us > 0 {
				return true
			}
		}
	}
	return false
}
