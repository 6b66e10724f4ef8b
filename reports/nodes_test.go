package reports

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// lostNodeName is the worker that distributedResult loses mid-run.
const lostNodeName = "10.0.0.7:7946"

// distributedResult is a two-node run of the fixture f: the coordinator's
// own share ("local") and a worker lost at 12.34 s, with clock offsets, a
// clock error bound, cross-node deliveries and the "node lost" fault
// window.
func distributedResult(t testing.TB, f fixture) *metrics.Result {
	t.Helper()
	f.nodes = true
	res := makeResult(t, f)
	local, worker := &res.Nodes[0], &res.Nodes[1]
	local.Name = "local"
	local.Devices, worker.Devices = local.Totals.Devices, worker.Totals.Devices
	local.Ranges = []string{"sensors[0,100)"}
	local.ClockOffsetUs, local.ClockUncertaintyUs = 0, 0
	local.Totals.CrossNodeReceived = local.Totals.Received / 2

	worker.Name, worker.Address = lostNodeName, lostNodeName
	worker.Ranges = []string{"sensors[100,200)", "<cloud>[0,10)"}
	worker.ClockOffsetUs, worker.ClockUncertaintyUs = 1250, 180
	worker.Lost, worker.LostAtS, worker.LostReason = true, 12.34, "heartbeat timeout"
	worker.Totals.CrossNodeReceived = worker.Totals.Received / 3

	res.Totals.CrossNodeReceived = local.Totals.CrossNodeReceived + worker.Totals.CrossNodeReceived
	res.ClockBoundUs = 180
	end := res.EndedAt.Sub(res.StartedAt).Seconds()
	res.Faults = append(res.Faults, metrics.FaultWindow{Kind: "node lost", FromS: worker.LostAtS, ToS: end, Target: lostNodeName, Devices: int(worker.Totals.Devices)})

	// Each node's series: its share of the run's, the worker's dropping to
	// zero (no samples) once it is lost.
	for _, p := range res.Series {
		local.Series = append(local.Series, metrics.NodePoint{T: p.T, Connected: p.Connected / 2,
			PublishRate: p.PublishRate / 2, ReceiveRate: p.ReceiveRate / 2, E2EP99Us: p.E2EP99Us})
		wp := metrics.NodePoint{T: p.T}
		if float64(p.T) <= worker.LostAtS {
			wp = metrics.NodePoint{T: p.T, Connected: p.Connected - p.Connected/2,
				PublishRate: p.PublishRate / 2, ReceiveRate: p.ReceiveRate / 2, E2EP99Us: p.E2EP99Us * 11 / 10}
		}
		worker.Series = append(worker.Series, wp)
	}
	return res
}

// render writes a result in one of the human formats.
func render(t *testing.T, format string, res *metrics.Result, v Verdict) string {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "text":
		err = WriteText(&b, res, v)
	case "markdown":
		err = WriteMarkdown(&b, res, v)
	case "junit":
		err = WriteJUnit(&b, res, v)
	case "html":
		err = WriteHTML(&b, res, Options{Thresholds: verdictThresholds(v)})
	default:
		t.Fatalf("unknown format %q", format)
	}
	if err != nil {
		t.Fatalf("write %s: %v", format, err)
	}
	return b.String()
}

// verdictThresholds returns the thresholds a verdict was evaluated from.
func verdictThresholds(v Verdict) []Threshold {
	out := make([]Threshold, 0, len(v.Results))
	for _, r := range v.Results {
		out = append(out, r.Threshold)
	}
	return out
}

func TestNodesGolden(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{})
	v := Evaluate(res, mustThresholds(t, "e2e.p99 < 50ms", "connect_failed_ratio < 5%"))
	for _, tc := range []struct{ format, file string }{
		{"text", "text/nodes-lost.txt"},
		{"markdown", "markdown/nodes-lost.md"},
		{"junit", "junit/nodes-lost.xml"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			out := render(t, tc.format, res, v)
			if tc.format == "junit" {
				if err := validateJUnit([]byte(out)); err != nil {
					t.Errorf("invalid JUnit XML: %v", err)
				}
			}
			golden(t, tc.file, []byte(out))
		})
	}
}

func TestNodesInEveryFormat(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{seconds: 10, devices: 200})
	v := Evaluate(res, nil)
	// What every human format must say about a distributed run with a lost
	// node, and what none may say about a single-node run.
	common := []string{"local", lostNodeName, "1.25ms ±180µs", "0µs ±0µs", "12.3 s", "heartbeat timeout",
		"error bound ±180µs", "cross-node deliveries", "deliveries to its 100 devices after the loss count as lost"}
	tests := []struct {
		format string
		want   []string
	}{
		{"text", []string{
			"NODE LOST: node 10.0.0.7:7946 was lost at 12.3 s (heartbeat timeout): deliveries to its 100 devices after the loss count as lost.\n",
			"\nNodes ", "  local ", "  +1.25ms ±180µs  ", "  ok\n", "  LOST at 12.3 s (heartbeat timeout)\n",
			"  cross-node latencies corrected for clock offsets: error bound ±180µs (",
			"Verdict: ✘ FAILED\n  - node 10.0.0.7:7946 lost at 12.3 s (100 devices): heartbeat timeout\n",
		}},
		{"markdown", []string{
			"**NODE LOST:** node 10.0.0.7:7946 was lost at 12.3 s (heartbeat timeout): deliveries to its 100 devices after the loss count as lost.\n",
			"| node ", "| status ", "| +1.25ms ±180µs |", "| ok ", "**LOST at 12.3 s (heartbeat timeout)**",
			"\ncross-node latencies corrected for clock offsets: error bound ±180µs (",
			"**✘ FAILED**\n\n- node 10.0.0.7:7946 lost at 12.3 s (100 devices): heartbeat timeout\n",
		}},
		{"html", []string{
			`id="nodes"`, `<a href="#nodes">Nodes</a>`, `<tr class="lost"><td>10.0.0.7:7946<div class="node-detail">sensors[100,200) &lt;cloud&gt;[0,10)</div></td>`,
			`<span class="status fail">LOST</span> at 12.3 s (heartbeat timeout)</td>`, `<td class="node-status"><span class="status pass">OK</span></td>`,
			`<td class="num">&#43;1.25ms ±180µs</td>`, `<p class="note">cross-node latencies corrected for clock offsets: error bound ±180µs (`,
			`Deliveries to a lost node's devices after the loss count as lost.</p>`,
			`<dt>Nodes</dt><dd class=" bad">2 (1 lost)</dd>`, `class="verdict fail"`, `<span class="badge">FAILED</span>`,
			`<strong>A node was lost</strong>`, `<li>Node 10.0.0.7:7946 was lost at 12.3 s (heartbeat timeout): deliveries to its 100 devices after the loss count as lost.</li>`,
		}},
		{"junit", []string{
			`<testcase name="node 10.0.0.7:7946 lost" classname="fleetbench.run" time="10.000">`,
			`<failure message="node 10.0.0.7:7946 was lost at 12.3 s (heartbeat timeout): deliveries to its 100 devices after the loss count as lost" type="node lost">`,
			`<property name="nodes" value="2"></property>`, `<property name="nodes_lost" value="1"></property>`,
			`<property name="clock_bound_us" value="180"></property>`,
		}},
	}
	single := makeResult(t, fixture{seconds: 10, devices: 200})
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			out := render(t, tc.format, res, v)
			for _, want := range append(tc.want, common...) {
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %q:\n%s", tc.format, want, clipPage(out))
				}
			}
			out = render(t, tc.format, single, Evaluate(single, nil))
			for _, unwanted := range []string{"NODE LOST", "cross-node", "clock offset", "LOST at", `id="nodes"`, `name="nodes"`} {
				if strings.Contains(out, unwanted) {
					t.Errorf("%s of a single-node run contains %q", tc.format, unwanted)
				}
			}
		})
	}
}

// clipPage drops the embedded library from an HTML page so that a failure
// message stays readable.
func clipPage(page string) string {
	return strings.Replace(page, echartsJS, "/* echarts */", 1)
}

func TestNodesVerdict(t *testing.T) {
	t.Parallel()
	lost := distributedResult(t, fixture{seconds: 10, devices: 200})
	healthy := distributedResult(t, fixture{seconds: 10, devices: 200})
	healthy.Nodes[1].Lost = false
	interrupted := distributedResult(t, fixture{seconds: 10, devices: 200, interrupted: true})
	twoLost := distributedResult(t, fixture{seconds: 10, devices: 200})
	twoLost.Nodes[0].Lost, twoLost.Nodes[0].LostAtS = true, 3

	pass := mustThresholds(t, "e2e.p99 < 1h")
	tests := []struct {
		name      string
		res       *metrics.Result
		ths       []Threshold
		wantLine  string
		wantClass string
		wantBadge string
		wantCases []string
	}{
		{"healthy nodes", healthy, nil, "✔ PASSED (no thresholds set)", "pass", "PASSED", []string{"run passed"}},
		{"lost without thresholds", lost, nil, "✘ FAILED", "fail", "FAILED", []string{"node " + lostNodeName + " lost"}},
		{"lost with passing thresholds", lost, pass, "✘ FAILED (the threshold held)", "fail", "FAILED", []string{"e2e.p99 < 1h", "node " + lostNodeName + " lost"}},
		{"lost and interrupted", interrupted, nil, "✘ INTERRUPTED — the run was stopped before its end; the numbers cover the part that ran", "warn", "INTERRUPTED", []string{"run interrupted", "node " + lostNodeName + " lost"}},
		{"two lost", twoLost, pass, "✘ FAILED (the threshold held)", "fail", "FAILED", []string{"e2e.p99 < 1h", "node local lost", "node " + lostNodeName + " lost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Evaluate(tc.res, tc.ths)
			rv := runVerdict(tc.res, v)
			if got := headlineText(tc.res, &rv); got != tc.wantLine {
				t.Errorf("verdict line %q, want %q", got, tc.wantLine)
			}
			vv := verdictOf(tc.res, rv, v)
			if vv.Class != tc.wantClass || vv.Badge != tc.wantBadge {
				t.Errorf("banner %s/%s, want %s/%s", vv.Class, vv.Badge, tc.wantClass, tc.wantBadge)
			}
			if n := len(lostNodes(tc.res)); n > 0 && strings.Count(strings.Join(vv.Reasons, " "), " lost at ") != n {
				t.Errorf("banner reasons %q do not name the %d lost nodes", vv.Reasons, n)
			}
			var doc junitSuites
			if err := xml.Unmarshal([]byte(render(t, "junit", tc.res, v)), &doc); err != nil {
				t.Fatal(err)
			}
			var names []string
			failures := 0
			for _, c := range doc.Suites[0].Cases {
				names = append(names, c.Name)
				if c.Failure != nil {
					failures++
					if strings.HasPrefix(c.Name, "node ") && c.Failure.Type != "node lost" {
						t.Errorf("case %q has failure type %q", c.Name, c.Failure.Type)
					}
				}
			}
			if strings.Join(names, "|") != strings.Join(tc.wantCases, "|") {
				t.Errorf("cases %q, want %q", names, tc.wantCases)
			}
			if doc.Failures != failures || doc.Suites[0].Tests != len(tc.wantCases) {
				t.Errorf("suite counts tests=%d failures=%d, cases %d with %d failures", doc.Suites[0].Tests, doc.Failures, len(names), failures)
			}
		})
	}
}

func TestNodesBannerCapsLostList(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{seconds: 5, devices: 200})
	for i := range 4 {
		n := res.Nodes[1]
		n.Name = "worker-" + string(rune('a'+i))
		res.Nodes = append(res.Nodes, n)
	}
	v := Evaluate(res, nil)
	vv := verdictOf(res, runVerdict(res, v), v)
	if got := strings.Count(strings.Join(vv.Reasons, " "), " lost at "); got != 3 {
		t.Errorf("banner names %d lost nodes, want 3: %q", got, vv.Reasons)
	}
	if len(vv.Reasons) != 4 || vv.Reasons[3] != "And 2 more nodes lost." || vv.Title != "5 nodes were lost" {
		t.Errorf("banner %q / %q", vv.Title, vv.Reasons)
	}
}

func TestNodesUserStrings(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{seconds: 5, devices: 200})
	res.Nodes[1].Name = "evil\nnode|*x*\x1b[31m"
	res.Nodes[1].LostReason = "reset\r\nby <peer> ]]>"

	text := render(t, "text", res, Verdict{})
	for _, line := range strings.Split(text, "\n") {
		if strings.ContainsAny(line, "\r\x1b") || line == "node|*x* [31m" {
			t.Errorf("text line %q holds a control character or a broken name", line)
		}
	}
	if !strings.Contains(text, "  evil node|*x* [31m ") || !strings.Contains(text, "LOST at 12.3 s (reset  by <peer> ]]>)") {
		t.Errorf("text does not flatten the node name and reason:\n%s", text)
	}

	md := render(t, "markdown", res, Verdict{})
	if !strings.Contains(md, `| evil node\|\*x\* \[31m `) || !strings.Contains(md, `(reset  by &lt;peer&gt; \]\]&gt;)`) {
		t.Errorf("markdown does not escape the node name and reason:\n%s", md)
	}

	out := render(t, "junit", res, Verdict{})
	if err := validateJUnit([]byte(out)); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, out)
	}
	var doc junitSuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	cases := doc.Suites[0].Cases
	if got := cases[len(cases)-1].Name; got != "node evil node|*x* [31m lost" {
		t.Errorf("lost node case %q", got)
	}
}

func TestFmtClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		offset, unc int64
		want        string
	}{
		{0, 0, "0µs ±0µs"},
		{1250, 180, "+1.25ms ±180µs"},
		{-340, 95, "-340µs ±95µs"},
		{2_500_000, 12_000, "+2.5s ±12ms"},
	} {
		if got := fmtClock(tc.offset, tc.unc); got != tc.want {
			t.Errorf("fmtClock(%d, %d) = %q, want %q", tc.offset, tc.unc, got, tc.want)
		}
	}
}

// TestLostNodeWarningUnreported: deliveries of a lost node's unreported
// last messages are said, in the warning every format shows.
func TestLostNodeWarningUnreported(t *testing.T) {
	res := distributedResult(t, fixture{})
	n := &res.Nodes[1]
	if w := lostNodeWarning(n); strings.Contains(w, "last report") {
		t.Fatalf("no unreported deliveries, yet: %s", w)
	}
	n.UnreportedDeliveries = 1234
	want := "; 1,234 deliveries of messages it published after its last report were received elsewhere and counted as expected"
	if w := lostNodeWarning(n); !strings.HasSuffix(w, want) {
		t.Fatalf("warning %q lacks %q", w, want)
	}
	if out := render(t, "text", res, Verdict{}); !strings.Contains(out, want) {
		t.Fatalf("text summary lacks it:\n%s", out)
	}
}

// nodeChartIDs are the per-node charts of a distributed run's HTML report.
var nodeChartIDs = []string{"chart-node-rates", "chart-node-latency", "chart-node-connected"}

// chartByID returns the chart id of a page's chart data, or nil.
func chartByID(specs []chartSpec, id string) *chartSpec {
	for i := range specs {
		if specs[i].ID == id {
			return &specs[i]
		}
	}
	return nil
}

// chartYs returns the y values of one series of a decoded chart, nil where
// the point is a gap.
func chartYs(t *testing.T, s echSeries) (ts []float64, ys []any) {
	t.Helper()
	data, ok := s.Data.([]any)
	if !ok {
		t.Fatalf("series %q data is %T", s.Name, s.Data)
	}
	for _, d := range data {
		pt, ok := d.([]any)
		if !ok || len(pt) != 2 {
			t.Fatalf("series %q point %v", s.Name, d)
		}
		ts = append(ts, pt[0].(float64))
		ys = append(ys, pt[1])
	}
	return ts, ys
}

func TestNodesHTMLCharts(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{})
	worker := &res.Nodes[1]
	page := renderHTML(t, res, Options{})
	for _, want := range []string{`<h2 id="node-timeline">Per node `, `id="chart-node-rates"`, `id="chart-node-latency"`, `id="chart-node-connected"`,
		`<h3>Publish rate per node</h3>`, `<h3>E2E p99 per node</h3>`, `<h3>Connected devices per node</h3>`, `gaps: no samples; shaded: injected faults`} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The section follows the node table.
	if i, j := strings.Index(page, `id="nodes"`), strings.Index(page, `id="node-timeline"`); i < 0 || j < i {
		t.Errorf("per-node charts at %d, node table at %d", j, i)
	}
	specs := chartSpecs(t, page)
	kinds := map[string]string{"chart-node-rates": chartRateTime, "chart-node-latency": chartLatencyTime, "chart-node-connected": chartConnections}
	for _, id := range nodeChartIDs {
		spec := chartByID(specs, id)
		if spec == nil {
			t.Errorf("no chart data for %s", id)
			continue
		}
		if spec.Kind != kinds[id] {
			t.Errorf("%s kind %q, want %q", id, spec.Kind, kinds[id])
		}
		var names []string
		for _, s := range spec.Option.Series {
			names = append(names, s.Name)
			if _, ys := chartYs(t, s); len(ys) != len(res.Series) {
				t.Errorf("%s/%s has %d points, want %d", id, s.Name, len(ys), len(res.Series))
			}
		}
		if strings.Join(names, "|") != "local|"+lostNodeName {
			t.Errorf("%s series %q, want one per node", id, names)
		}
		if len(spec.Option.Color) != 2 || spec.Option.Color[0] == spec.Option.Color[1] {
			t.Errorf("%s colours %q", id, spec.Option.Color)
		}
		if x := spec.Option.XAxis[0]; x.Name != "seconds since start" || x.AxisLabel == nil || x.AxisLabel.Formatter != "{value}s" {
			t.Errorf("%s x axis %+v is not the time axis", id, x)
		}
		ma := spec.Option.Series[0].MarkArea
		if ma == nil || len(ma.Data) != len(res.Faults) || ma.Data[len(ma.Data)-1][0].Name != "node lost" || ma.Data[len(ma.Data)-1][0].XAxis != worker.LostAtS {
			t.Errorf("%s does not shade the fault windows: %+v", id, ma)
		}
	}
	if t.Failed() {
		return
	}

	// After the loss the worker publishes nothing and has nothing
	// connected; its e2e p99 is a gap, never 0.
	for _, id := range []string{"chart-node-rates", "chart-node-connected"} {
		ts, ys := chartYs(t, chartByID(specs, id).Option.Series[1])
		for i := range ts {
			if lost := ts[i] > worker.LostAtS; lost != (ys[i] == 0.0) {
				t.Errorf("%s: worker at %vs is %v (lost at %vs)", id, ts[i], ys[i], worker.LostAtS)
			}
		}
	}
	lat := chartByID(specs, "chart-node-latency")
	for k, s := range lat.Option.Series {
		ts, ys := chartYs(t, s)
		for i := range ts {
			lost := k == 1 && ts[i] > worker.LostAtS
			switch v := ys[i].(type) {
			case nil:
				if !lost {
					t.Errorf("%s at %vs is a gap", s.Name, ts[i])
				}
			case float64:
				if lost || v <= 0 {
					t.Errorf("%s at %vs is %v ms (lost at %vs)", s.Name, ts[i], v, worker.LostAtS)
				}
				if want := float64(res.Nodes[k].Series[i].E2EP99Us) / 1000; v != want {
					t.Errorf("%s at %vs is %v ms, want %v", s.Name, ts[i], v, want)
				}
			default:
				t.Errorf("%s at %vs is %T", s.Name, ts[i], v)
			}
		}
	}

	// Neither a single-node run nor a distributed one without node series
	// has any of it.
	noSeries := distributedResult(t, fixture{})
	for i := range noSeries.Nodes {
		noSeries.Nodes[i].Series = nil
	}
	for name, r := range map[string]*metrics.Result{"single-node": makeResult(t, fixture{}), "no node series": noSeries} {
		page := renderHTML(t, r, Options{})
		for _, unwanted := range append([]string{"node-timeline", "Per node", "per node"}, nodeChartIDs...) {
			if strings.Contains(page, unwanted) {
				t.Errorf("%s report contains %q", name, unwanted)
			}
		}
	}
}

// TestNodesHTMLChartsNoLatency: without a single e2e sample on any node the
// latency chart is a note, and the other two charts remain.
func TestNodesHTMLChartsNoLatency(t *testing.T) {
	t.Parallel()
	res := distributedResult(t, fixture{seconds: 10, devices: 200})
	for i := range res.Nodes {
		for j := range res.Nodes[i].Series {
			res.Nodes[i].Series[j].E2EP99Us = 0
		}
	}
	page := renderHTML(t, res, Options{})
	specs := chartSpecs(t, page)
	if chartByID(specs, "chart-node-latency") != nil || strings.Contains(page, `id="chart-node-latency"`) {
		t.Error("a latency chart without samples")
	}
	if !strings.Contains(page, `<h3>E2E p99 per node</h3>`) || !strings.Contains(page, noSamples(metrics.E2E, "")) {
		t.Error("the latency box does not say there are no samples")
	}
	for _, id := range []string{"chart-node-rates", "chart-node-connected"} {
		if s := chartByID(specs, id); s == nil || len(s.Option.Series) != 2 {
			t.Errorf("chart %s missing or without its two series", id)
		}
	}
}

// TestNodesHTMLChartsEscapeNames: node names reach the chart data as JSON
// strings, JS-escaped, never as markup.
func TestNodesHTMLChartsEscapeNames(t *testing.T) {
	t.Parallel()
	const evil = `</script><script>alert(1)</script>"'&`
	res := distributedResult(t, fixture{seconds: 10, devices: 200})
	res.Nodes[1].Name = evil
	page := clipPage(renderHTML(t, res, Options{}))
	if strings.Contains(page, "alert(1)</script>") || strings.Contains(page, "<script>alert") {
		t.Error("the report contains the node name unescaped")
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
		t.Errorf("%d <script> tags, want exactly the 3 of the page", n)
	}
	specs := chartSpecs(t, page)
	for _, id := range nodeChartIDs {
		spec := chartByID(specs, id)
		if spec == nil || len(spec.Option.Series) != 2 || spec.Option.Series[1].Name != evil {
			t.Errorf("chart %s does not carry the node name intact", id)
		}
	}
	if !strings.Contains(page, `\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Error("the chart data does not carry the node name JS-escaped")
	}
}
