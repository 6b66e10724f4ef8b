package reports

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// reportPage is what the report template renders. Every field is
// pre-formatted text; html/template escapes all of it.
type reportPage struct {
	pageAssets
	Title        string
	Scenario     string
	ScenarioRef  string
	Started      string
	Duration     string
	Target       string
	Version      string
	Verdict      verdictView
	Meta         []metaItem
	Headlines    []headline
	Thresholds   []thresholdView
	LatencyBox   []chartBox
	LatencyRows  []latencyRow
	TimeBox      []chartBox
	MessageCols  []string
	Messages     []messageRow
	Connections  []counterRow
	Problems     *chartBox
	Counters     [2][]counterRow
	Broker       []counterRow
	Nodes        []nodeRow
	Endpoints    []endpointRow
	EndpointCol  []string
	EndpointNote []string
	NodeBox      []chartBox
	NodesLost    bool
	ClockBound   string
	Groups       []groupRow
	GroupHeads   []string
	Text         string
	Schema       string
	Charts       []chartSpec
}

// verdictView is the banner at the top of a report.
type verdictView struct {
	Class  string // pass, fail, warn, neutral
	Badge  string
	Title  string
	Detail string
	// Reasons lists why the run failed, one sentence each.
	Reasons []string
}

// metaItem is one labelled fact about the run.
type metaItem struct {
	Label string
	Value string
	Mono  bool
	Bad   bool
}

// chartBox is a chart with its heading; Empty replaces the chart when
// there is nothing to draw.
type chartBox struct {
	ID    string
	Title string
	Desc  string
	Class string
	Empty string
	Wide  bool
	// Height overrides the chart's height in pixels (0: the CSS default).
	Height int
}

// thresholdView is one row of the threshold table.
type thresholdView struct {
	Passed bool
	Name   string
	Value  string
	Limit  string
	Detail string
}

// thresholdRows returns the threshold table: each threshold with how far
// the observed value is from its limit.
func thresholdRows(v Verdict) []thresholdView {
	out := make([]thresholdView, 0, len(v.Results))
	for _, r := range v.Results {
		tv := thresholdView{Passed: r.Passed, Name: r.Threshold.Name(), Value: r.Value, Limit: r.Limit, Detail: r.NoData}
		if tv.Detail == "" {
			tv.Detail = margin(r)
		}
		out = append(out, tv)
	}
	return out
}

// margin says how far an observed value is from its limit: "4.2% under
// the limit", "44% over the limit".
func margin(r ThresholdResult) string {
	lim, obs := r.Threshold.Limit, r.Observed
	if lim == 0 || obs == lim {
		if obs == lim {
			return "at the limit"
		}
		return ""
	}
	rel := fmtPercent(math.Abs(obs-lim) / math.Abs(lim))
	switch r.Threshold.Op {
	case OpLess, OpLessEqual, OpGreater, OpGreaterEqual:
		if obs < lim {
			return rel + " under the limit"
		}
		return rel + " over the limit"
	}
	return ""
}

// groupRow is one device group of a run: its name and one cell per group
// column (groupHeads).
type groupRow struct {
	Name  string
	Cells []string
}

// groupHeads are the headings of the group table's columns, one per group
// column of the result model (metrics.GroupColumns).
func groupHeads() []string {
	cols := metrics.GroupColumns()
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = strings.ReplaceAll(c.Name, "_", " ")
	}
	return out
}

// groupRows returns the per-group table of a result (none for a result
// without groups, such as one from an older version).
func groupRows(res *metrics.Result) []groupRow {
	cols := metrics.GroupColumns()
	var rows []groupRow
	for i := range res.Groups {
		g := &res.Groups[i]
		row := groupRow{Name: g.Name, Cells: make([]string, len(cols))}
		for j, c := range cols {
			row.Cells[j] = fmtCount(c.OfGroup(g))
		}
		rows = append(rows, row)
	}
	return rows
}

// kindDesc says what a latency kind measures.
func kindDesc(k metrics.Kind) string {
	switch k {
	case metrics.Connect:
		return "TCP/TLS dial to CONNACK, per connect attempt"
	case metrics.Subscribe:
		return "SUBSCRIBE to SUBACK"
	case metrics.PublishAck:
		return "intended publish time to PUBACK (QoS 1) / PUBCOMP (QoS 2); QoS 0: write done"
	case metrics.E2E:
		return "intended publish time to arrival at the subscriber"
	case metrics.RoundTrip:
		return "request's intended publish time to the reply's arrival at the requester"
	case metrics.E2ECrossNode:
		return "end to end for messages published on another node: both clocks on the run's shared epoch, corrected by the measured offsets (see the clock bound)"
	case metrics.ThingReply:
		return "thing-model post's intended publish time to the platform's post_reply at the device, matched by the Alink id"
	case metrics.RRPC:
		return "cloud-side RRPC request to the device's answer at the cloud side; answers after the call's timeout are counted as rrpc_timeouts instead"
	}
	return ""
}

// verdictOf builds the banner from the run's verdict (rv) and the
// threshold detail (v): the status as badge, a title and the reasons of a
// failed run, one list item each.
func verdictOf(res *metrics.Result, rv metrics.Verdict, v Verdict) verdictView {
	out := verdictView{Class: verdictClass(rv.Status), Badge: rv.Status.Headline()}
	n := len(v.Results)
	switch rv.Status {
	case metrics.StatusPassed:
		switch n {
		case 0:
			out.Title = "Every measurement was taken; no thresholds were set"
			out.Detail = "Pass thresholds (such as e2e.p99 < 50ms or loss_ratio == 0) to turn this report into a pass/fail gate."
		case 1:
			out.Title = "The threshold held"
		default:
			out.Title = fmt.Sprintf("All %d thresholds held", n)
		}
	case metrics.StatusThresholdsFailed:
		out.Title = fmt.Sprintf("%d of %s failed", v.Failed(), plural(n, "threshold"))
	case metrics.StatusFailed:
		out.Title = "The run failed: it could not measure what it was asked to"
		if lost := len(lostNodes(res)); lost > 0 && lost == len(rv.Reasons) {
			out.Title = lostTitle(lost)
		}
	default:
		out.Title = capitalize(statusSentence(res, rv.Status))
	}
	var details []string
	if rv.Status != metrics.StatusPassed && rv.Status != metrics.StatusThresholdsFailed && n > 0 {
		details = append(details, capitalize(thresholdCount(&rv))+".")
	}
	var failed []string
	for _, r := range v.Results {
		if !r.Passed {
			failed = append(failed, r.Message)
		}
	}
	if len(failed) > 3 {
		failed = append(failed[:3], fmt.Sprintf("and %d more", len(failed)-3))
	}
	if len(failed) > 0 {
		details = append(details, strings.Join(failed, "; "))
	}
	if len(details) > 0 {
		out.Detail = strings.Join(details, " ")
	}
	// A lost node is said with what its loss means for the numbers.
	nodes, lost := lostNodes(res), 0
	for _, r := range rv.Reasons {
		msg := r.Message
		if r.Code == metrics.ReasonCodeNodeLost {
			if lost++; lost > 3 {
				continue
			}
			if len(nodes) == countReasons(&rv, metrics.ReasonCodeNodeLost) {
				msg = lostNodeWarning(&nodes[lost-1])
			}
		}
		out.Reasons = append(out.Reasons, capitalize(oneLine(msg))+".")
	}
	if lost > 3 {
		out.Reasons = append(out.Reasons, fmt.Sprintf("And %s lost.", plural(lost-3, "more node")))
	}
	return out
}

// countReasons counts the reasons of a verdict with a code.
func countReasons(v *metrics.Verdict, code string) int {
	n := 0
	for _, r := range v.Reasons {
		if r.Code == code {
			n++
		}
	}
	return n
}

// lostTitle says how many nodes were lost: "A node was lost", "2 nodes were
// lost".
func lostTitle(n int) string {
	if n == 1 {
		return "A node was lost"
	}
	return plural(n, "node") + " were lost"
}

// WriteHTML writes the report of a run as one self-contained HTML file that
// works offline: styles, scripts and Apache ECharts are inlined and the page
// references no external URL. It holds the verdict and threshold table
// (from opts.Thresholds), the run's metadata, headline numbers, latency
// percentile distributions per kind and QoS (the HdrHistogram plot, p50 to
// p99.999 on a log axis), latencies, rates and connections over time,
// errors by reason, broker-side drops, the per-group table, the per-node
// table of a distributed run (lost nodes highlighted, clock offsets and the
// error bound of cross-node latencies) with each node's publish rate, e2e
// p99 and connected devices over time, and the scenario source. Every string
// from the result is escaped.
func WriteHTML(w io.Writer, res *metrics.Result, opts Options) error {
	if res == nil {
		return errors.New("reports: write html: nil result")
	}
	page, err := buildReportPage(res, opts)
	if err != nil {
		return fmt.Errorf("reports: write html: %w", err)
	}
	return renderPage(w, "report", page)
}

func renderPage(w io.Writer, name string, page any) error {
	t, err := pageTemplates()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, page); err != nil {
		return fmt.Errorf("reports: render %s: %w", name, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("reports: write %s: %w", name, err)
	}
	return nil
}

func buildReportPage(res *metrics.Result, opts Options) (*reportPage, error) {
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	verdict := Evaluate(res, opts.Thresholds)
	rv := runVerdict(res, verdict)
	t := &res.Totals
	p := &reportPage{
		pageAssets: assets,
		Scenario:   orDash(res.Scenario.Name),
		Version:    orDash(cmp.Or(opts.Version, res.Meta.Version)),
		Verdict:    verdictOf(res, rv, verdict),
		Headlines:  headlines(res),
		Thresholds: thresholdRows(verdict),
		Text:       res.Scenario.Text,
		Schema:     orDash(res.Schema),
	}
	p.Title = rv.Status.Headline() + " · fleetbench · " + p.Scenario
	p.ScenarioRef = res.Scenario.File
	p.Started = fmtTime(res.StartedAt)
	p.Target = brokerTarget(res, opts)
	p.Duration = fmtDuration(runDuration(res.StartedAt, res.EndedAt))

	interrupted := "no"
	if res.Interrupted {
		interrupted = "yes"
	}
	p.Meta = []metaItem{
		{Label: "Scenario", Value: p.Scenario},
		{Label: "Scenario file", Value: orDash(res.Scenario.File), Mono: res.Scenario.File != ""},
		{Label: "Broker", Value: p.Target},
		{Label: "Started", Value: fmtTime(res.StartedAt)},
		{Label: "Ended", Value: fmtTime(res.EndedAt)},
		{Label: "Duration", Value: fmtDuration(runDuration(res.StartedAt, res.EndedAt))},
		{Label: "Load phase", Value: loadPhaseText(res)},
		{Label: "Status", Value: rv.Status.Headline(), Bad: !rv.Status.OK()},
		{Label: "Interrupted", Value: interrupted, Bad: res.Interrupted},
		{Label: "Nodes", Value: nodeCountText(res), Bad: len(lostNodes(res)) > 0},
		{Label: "fleetbench", Value: p.Version},
		{Label: "Traffic", Value: fmtBytes(t.BytesOut) + " out · " + fmtBytes(t.BytesIn) + " in"},
	}

	for _, k := range latencyKinds(res) {
		box := chartBox{ID: "chart-latency-" + k.String(), Title: kindTitle(k), Desc: kindDesc(k)}
		if curves := kindCurves(res, k); len(curves) > 0 {
			p.Charts = append(p.Charts, percentileChart(box.ID, curves))
		} else {
			box.Empty = noSamples(k, "")
		}
		p.LatencyBox = append(p.LatencyBox, box)
	}
	p.LatencyRows = latencyRows(res)

	if len(res.Series) > 0 {
		boxes := []struct {
			box   chartBox
			chart func(string, []metrics.SeriesPoint) chartSpec
		}{
			{chartBox{ID: "chart-latency-time", Title: "Latency over time", Desc: "per-second e2e p50 and p99, publish→ack p99", Wide: true}, latencyTimeChart},
			{chartBox{ID: "chart-rates", Title: "Message rates", Desc: "messages per second, per interval"}, rateTimeChart},
			{chartBox{ID: "chart-connections", Title: "Connections", Desc: "connected devices; connects per interval"}, connectionsChart},
		}
		for _, b := range boxes {
			if len(res.Faults) > 0 {
				b.box.Desc += "; shaded: injected faults"
			}
			p.TimeBox = append(p.TimeBox, b.box)
			spec := b.chart(b.box.ID, res.Series)
			shadeFaults(&spec, res.Faults)
			p.Charts = append(p.Charts, spec)
		}
	}

	for _, q := range messageColumns(res) {
		p.MessageCols = append(p.MessageCols, columnTitle(q))
	}
	p.Messages = messageRows(res)
	p.Connections = connectionRows(res)

	if ps := problems(res); len(ps) > 0 {
		p.Problems = &chartBox{ID: "chart-problems", Title: "Errors, losses and disconnects", Desc: "counts over the whole run; connect failures by reason",
			Wide: true, Height: 40 + 26*len(ps)}
		p.Charts = append(p.Charts, problemsChart(p.Problems.ID, ps))
	}
	counters := counterRows(res)
	half := (len(counters) + 1) / 2
	p.Counters = [2][]counterRow{counters[:half], counters[half:]}
	p.Broker = brokerRows(res.Broker)
	p.Nodes = nodeRows(res)
	p.Endpoints, p.EndpointCol, p.EndpointNote = endpointRows(res), endpointHeads, endpointNotes(res)
	if len(res.Nodes) > 0 {
		p.ClockBound = clockBoundLine(res)
		p.NodesLost = len(lostNodes(res)) > 0
	}
	p.NodeBox = nodeCharts(p, res)
	p.Groups, p.GroupHeads = groupRows(res), groupHeads()
	return p, nil
}

// nodeCharts adds the per-node time charts of a distributed run to the page
// and returns their boxes: publish rate, e2e p99 and connected devices, one
// line per node with a time series, the fault windows shaded as on the
// run's own time charts. A single-node run has none.
func nodeCharts(p *reportPage, res *metrics.Result) []chartBox {
	nl := perNodeLines(res.Nodes)
	if len(nl.names) == 0 {
		return nil
	}
	boxes := []struct {
		box   chartBox
		chart func(string, nodeLines) chartSpec
	}{
		{chartBox{ID: "chart-node-rates", Title: "Publish rate per node", Desc: "messages published per second by each node's devices", Wide: true}, nodeRateChart},
		{chartBox{ID: "chart-node-latency", Title: "E2E p99 per node", Desc: "per-interval e2e p99 of the messages each node's subscribers received; gaps: no samples"}, nodeLatencyChart},
		{chartBox{ID: "chart-node-connected", Title: "Connected devices per node", Desc: "each node's connected devices"}, nodeConnectedChart},
	}
	var out []chartBox
	for _, b := range boxes {
		if b.box.ID == "chart-node-latency" && !nl.hasLatency() {
			b.box.Empty = noSamples(metrics.E2E, "")
			out = append(out, b.box)
			continue
		}
		if len(res.Faults) > 0 {
			b.box.Desc += "; shaded: injected faults"
		}
		spec := b.chart(b.box.ID, nl)
		shadeFaults(&spec, res.Faults)
		p.Charts = append(p.Charts, spec)
		out = append(out, b.box)
	}
	return out
}
