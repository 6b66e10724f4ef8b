package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// DefaultTolerance is the relative change Compare uses when
// CompareOptions.Tolerance is 0: 10%.
const DefaultTolerance = 0.10

// CompareOptions configures Compare. The zero value works.
type CompareOptions struct {
	// Tolerance is the relative change beyond which a metric of the last
	// run counts as a regression from the first (0.1 = 10%); 0 means
	// DefaultTolerance. Regressions are computed for exactly two runs.
	Tolerance float64
	// Title heads the comparison; empty means "fleetbench comparison".
	Title string
	// Version is the fleetbench version shown in the HTML page.
	Version string
}

// Comparison lines several results up metric by metric. Build it with
// Compare.
type Comparison struct {
	// Title heads the comparison.
	Title string `json:"title"`
	// Runs describes each compared result, in the order given.
	Runs []CompareRun `json:"runs"`
	// Rows holds one metric per row, its value in every run and the
	// winner.
	Rows []CompareRow `json:"rows"`
	// Tolerance is the relative tolerance of Regressions.
	Tolerance float64 `json:"tolerance"`
	// Regressions lists the metrics in which the last run is worse than the
	// first beyond Tolerance; computed only when two runs are compared.
	Regressions []Regression `json:"regressions"`

	version string
	results []*metrics.Result
}

// CompareRun identifies one compared result.
type CompareRun struct {
	// Label names the run in tables and legends.
	Label string `json:"label"`
	// Scenario and File identify the scenario the run came from.
	Scenario string `json:"scenario"`
	File     string `json:"file,omitempty"`
	// StartedAt, EndedAt and Interrupted are the result's.
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	Interrupted bool      `json:"interrupted"`
	// Status is the run's verdict (its saved one; an older result is
	// judged by the thresholds it was run with) and Verdict the same in
	// one line with its reasons.
	Status  metrics.Status `json:"status"`
	Verdict string         `json:"verdict"`
}

// CompareRow is one metric across runs.
type CompareRow struct {
	// Group is the section of the row: connections, messages, latency.
	Group string `json:"group"`
	// Metric is the metric's threshold name, e.g. "e2e.p99{qos=1}".
	Metric string `json:"metric"`
	// Better is "lower", "higher" or "" (no winner is picked).
	Better string `json:"better,omitempty"`
	// Values holds the metric in each run, in run order.
	Values []CompareValue `json:"values"`
	// Winner is the index of the best run, or -1 when there is none (a
	// tie, fewer than two runs with data, or no better direction).
	Winner int `json:"winner"`
}

// CompareValue is one metric of one run.
type CompareValue struct {
	// Value is the metric in its unit (see Threshold.Limit).
	Value float64 `json:"value"`
	// Text is Value for people, or "—".
	Text string `json:"text"`
	// NoData says why the run has no value.
	NoData string `json:"no_data,omitempty"`
	// Delta is the relative change from the first run ("+12.3%", "0%");
	// empty for the first run and when either side has no value.
	Delta string `json:"delta,omitempty"`
}

// Regression is a metric in which a head run is worse than its base beyond
// the tolerance.
type Regression struct {
	// Metric is the metric's threshold name.
	Metric string `json:"metric"`
	// Base and Head are the values in the metric's unit; BaseText and
	// HeadText are the same for people.
	Base     float64 `json:"base"`
	Head     float64 `json:"head"`
	BaseText string  `json:"base_text"`
	HeadText string  `json:"head_text"`
	// Change is the relative change in the worse direction (0.25 = 25%
	// worse); 0 when FromZero.
	Change float64 `json:"change"`
	// FromZero is set when the base was 0 and the head is not (a loss or
	// error that was not there before), where a relative change is
	// undefined.
	FromZero bool `json:"from_zero,omitempty"`
	// Message is one line for people: "e2e.p99 is 25.3% worse: 12.1ms →
	// 15.2ms (tolerance 10%)".
	Message string `json:"message"`
}

// ChangeText is the change for people: "+25.3%", or "from 0".
func (r Regression) ChangeText() string {
	if r.FromZero {
		return "from 0"
	}
	return "+" + fmtPercent(r.Change)
}

// compareMetric is one metric of the comparison table.
type compareMetric struct {
	group string
	name  string
	stat  string
	qos   string
}

func (m compareMetric) threshold() Threshold {
	return Threshold{Metric: m.name, Stat: m.stat, QoS: m.qos, Op: OpLess}
}

// compareMetrics returns the rows of the comparison table; per-QoS latency
// rows are included for the levels any run has samples at.
func compareMetrics(results []*metrics.Result) []compareMetric {
	var out []compareMetric
	for _, n := range []string{"devices", "connected_peak", "connect_ok", "connect_failed", "connect_failed_ratio", "disconnects", "reconnects"} {
		out = append(out, compareMetric{group: "connections", name: n})
	}
	for _, n := range []string{"published", "publish_rate", "expected", "received", "receive_rate", "lost", "loss_ratio", "duplicates", "duplicate_ratio", "reordered", "publish_errors"} {
		out = append(out, compareMetric{group: "messages", name: n})
	}
	for _, k := range latencyKinds(results...) {
		for _, st := range []string{"p50", "p90", "p99", "p999", "max", "mean"} {
			out = append(out, compareMetric{group: "latency", name: k.String(), stat: st})
		}
		if !k.PerQoS() {
			continue
		}
		for _, q := range qosKeys {
			for _, res := range results {
				if summaryOf(res, k, q).Count > 0 {
					out = append(out, compareMetric{group: "latency", name: k.String(), stat: "p99", qos: q})
					break
				}
			}
		}
	}
	return out
}

// regressionMetrics are the metrics Regressions checks (plus per-QoS p99 of
// publish_ack and e2e where both runs have samples).
var regressionMetrics = []compareMetric{
	{name: "connect", stat: "p99"},
	{name: "subscribe", stat: "p99"},
	{name: "publish_ack", stat: "p50"},
	{name: "publish_ack", stat: "p99"},
	{name: "publish_ack", stat: "p999"},
	{name: "e2e", stat: "p50"},
	{name: "e2e", stat: "p99"},
	{name: "e2e", stat: "p999"},
	{name: "connect_failed_ratio"},
	{name: "loss_ratio"},
	{name: "duplicate_ratio"},
	{name: "publish_rate"},
	{name: "receive_rate"},
}

// measureMetric reads a catalogue metric; why is non-empty when it does not
// resolve or has no value.
func measureMetric(res *metrics.Result, m compareMetric) (d *metricDef, st stat, v float64, why string) {
	d, st, err := m.threshold().resolve()
	if err != nil {
		return nil, stat{}, 0, err.Error()
	}
	v, why = measure(res, d, st, m.qos)
	return d, st, v, why
}

func betterName(d direction) string {
	switch d {
	case lowerBetter:
		return "lower"
	case higherBetter:
		return "higher"
	}
	return ""
}

// Compare lines results up side by side. labels name the runs (missing or
// empty labels become the scenario name or "run N"; repeated labels get
// "#N"). Lower latency, loss and error counts win, higher throughput wins.
// With exactly two results, the comparison also holds
// Regressions(results[0], results[1], tolerance). A nil result compares as
// an empty one.
func Compare(results []*metrics.Result, labels []string, opts CompareOptions) Comparison {
	tol := opts.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	c := Comparison{Title: opts.Title, Tolerance: tol, version: opts.Version, Regressions: []Regression{}}
	if c.Title == "" {
		c.Title = "fleetbench comparison"
	}
	seen := map[string]int{}
	for i, res := range results {
		if res == nil {
			res = &metrics.Result{}
		}
		c.results = append(c.results, res)
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		if label == "" {
			label = res.Scenario.Name
		}
		if label == "" {
			label = "run " + strconv.Itoa(i+1)
		}
		if seen[label]++; seen[label] > 1 {
			label += " #" + strconv.Itoa(i+1)
		}
		rv := savedVerdict(res)
		c.Runs = append(c.Runs, CompareRun{
			Label: label, Scenario: res.Scenario.Name, File: res.Scenario.File,
			StartedAt: res.StartedAt, EndedAt: res.EndedAt, Interrupted: res.Interrupted,
			Status: rv.Status, Verdict: verdictSummary(&rv),
		})
	}
	for _, m := range compareMetrics(c.results) {
		row := CompareRow{Group: m.group, Metric: m.threshold().Name(), Winner: -1}
		var d *metricDef
		for i, res := range c.results {
			def, st, v, why := measureMetric(res, m)
			if def != nil {
				d = def
			}
			cv := CompareValue{Text: dash, NoData: why}
			if why == "" {
				cv.Value, cv.Text = v, formatValue(def, st, v)
				if m.name == "publish_rate" && !hasLoadPhase(res) {
					cv.Text += " (whole run)"
				}
				if i > 0 && row.Values[0].NoData == "" {
					cv.Delta = relDelta(row.Values[0].Value, v)
				}
			}
			row.Values = append(row.Values, cv)
		}
		if d != nil {
			row.Better = betterName(d.better)
			row.Winner = winner(row.Values, d.better)
		}
		if m.name == "publish_rate" && !allHaveLoadPhase(c.results) {
			// An older result's rate covers the whole run: not comparable
			// with the rate of a load phase, so no run is the best.
			row.Winner = -1
		}
		c.Rows = append(c.Rows, row)
	}
	if len(c.results) == 2 {
		c.Regressions = Regressions(c.results[0], c.results[1], tol)
	}
	return c
}

// hasLoadPhase reports whether a result records its load phase (first to
// last intended publish), so that its publish rate is the load phase's and
// not the whole run's.
func hasLoadPhase(res *metrics.Result) bool { return res.LoadSeconds() > 0 }

func allHaveLoadPhase(results []*metrics.Result) bool {
	for _, r := range results {
		if !hasLoadPhase(r) {
			return false
		}
	}
	return true
}

// relDelta writes the relative change from base to v: "+12.3%", "-4%",
// "0%"; "" when base is 0 and v is not.
func relDelta(base, v float64) string {
	if base == 0 {
		if v == 0 {
			return "0%"
		}
		return ""
	}
	ch := (v - base) / math.Abs(base)
	s := sig3(math.Abs(ch*100)) + "%"
	switch {
	case s == "0%":
		return s
	case ch > 0:
		return "+" + s
	}
	return "-" + s
}

// winner returns the index of the best value, or -1.
func winner(vs []CompareValue, better direction) int {
	if better == neutral {
		return -1
	}
	best, n := -1, 0
	for i, v := range vs {
		if v.NoData != "" {
			continue
		}
		n++
		if best < 0 || (better == lowerBetter && v.Value < vs[best].Value) || (better == higherBetter && v.Value > vs[best].Value) {
			best = i
		}
	}
	if n < 2 {
		return -1
	}
	for i, v := range vs {
		if i != best && v.NoData == "" && v.Value == vs[best].Value {
			return -1 // a tie
		}
	}
	return best
}

// Regressions returns the metrics in which head is worse than base by more
// than tolerance, relative to base (0.1 = 10%): latency p50/p99/p99.9 (and
// per-QoS p99 of publish_ack and e2e), connect-failure, loss and duplicate
// ratios (higher is worse) and publish/receive rates (lower is worse). A
// metric without data in either run is skipped. A base of 0 that became
// non-zero is a regression whatever the tolerance. The command line exits
// with status 99 (--fail-on-regression) when the list is not empty.
func Regressions(base, head *metrics.Result, tolerance float64) []Regression {
	out := []Regression{}
	if base == nil || head == nil {
		return out
	}
	if tolerance < 0 {
		tolerance = 0
	}
	checks := append([]compareMetric{}, regressionMetrics...)
	for _, k := range []metrics.Kind{metrics.PublishAck, metrics.E2E} {
		for _, q := range qosKeys {
			checks = append(checks, compareMetric{name: k.String(), stat: "p99", qos: q})
		}
	}
	for _, m := range checks {
		d, st, b, whyB := measureMetric(base, m)
		_, _, h, whyH := measureMetric(head, m)
		if whyB != "" || whyH != "" || d == nil || d.better == neutral {
			continue
		}
		if m.name == "publish_rate" && (!hasLoadPhase(base) || !hasLoadPhase(head)) {
			continue // a whole-run rate and a load-phase rate do not compare
		}
		worse := h - b // lower is better: an increase is worse
		if d.better == higherBetter {
			worse = b - h
		}
		if worse <= 0 {
			continue
		}
		name := m.threshold().Name()
		r := Regression{Metric: name, Base: b, Head: h, BaseText: formatValue(d, st, b), HeadText: formatValue(d, st, h)}
		if b == 0 {
			r.FromZero = true
			r.Message = fmt.Sprintf("%s went from 0 to %s", name, r.HeadText)
		} else {
			r.Change = worse / math.Abs(b)
			if r.Change <= tolerance {
				continue
			}
			r.Message = fmt.Sprintf("%s is %s worse: %s → %s (tolerance %s)", name, fmtPercent(r.Change), r.BaseText, r.HeadText, fmtPercent(tolerance))
		}
		out = append(out, r)
	}
	return out
}

// WriteCompareJSON writes the comparison as indented JSON.
func WriteCompareJSON(w io.Writer, cmp Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cmp); err != nil {
		return fmt.Errorf("reports: write comparison json: %w", err)
	}
	return nil
}

// comparePage is what the compare template renders.
type comparePage struct {
	pageAssets
	Title       string
	Version     string
	Runs        []compareRunView
	Verdict     *verdictView
	Regressions []Regression
	Boxes       []chartBox
	TimeBoxes   []chartBox
	Groups      []compareGroup
	Charts      []chartSpec
}

type compareRunView struct {
	CompareRun
	Color    string
	Started  string
	Duration string
	Devices  string
	Badge    string
	Class    string
}

type compareGroup struct {
	Title string
	Rows  []compareRowView
}

type compareRowView struct {
	Metric string
	Better string
	Cells  []compareCell
}

type compareCell struct {
	Text  string
	Delta string
	Win   bool
	Worse bool
}

// WriteCompareHTML writes the comparison as one self-contained offline HTML
// page: the runs, the regressions (for two runs), the latency percentile
// distributions of every run overlaid per kind, e2e p99 and publish rate
// over time, and the side-by-side table with the winner of each metric
// marked.
func WriteCompareHTML(w io.Writer, cmp Comparison) error {
	if len(cmp.results) != len(cmp.Runs) {
		return errors.New("reports: write comparison html: the comparison was not built by Compare")
	}
	assets, err := loadAssets()
	if err != nil {
		return fmt.Errorf("reports: write comparison html: %w", err)
	}
	p := &comparePage{pageAssets: assets, Title: cmp.Title, Version: orDash(cmp.version), Regressions: cmp.Regressions}
	colors := make([]string, len(cmp.Runs))
	for i, r := range cmp.Runs {
		colors[i] = runPalette[i%len(runPalette)]
		res := cmp.results[i]
		p.Runs = append(p.Runs, compareRunView{
			CompareRun: r, Color: colors[i], Started: fmtTime(r.StartedAt),
			Duration: fmtDuration(runDuration(r.StartedAt, r.EndedAt)), Devices: fmtCount(res.Totals.Devices),
			Badge: r.Status.Headline(), Class: verdictClass(r.Status),
		})
	}
	var notPassed []string
	for _, r := range cmp.Runs {
		if !r.Status.OK() {
			notPassed = append(notPassed, r.Label+" "+r.Status.Headline())
		}
	}
	if len(cmp.Runs) == 2 {
		v := verdictView{Class: "pass", Badge: "NO REGRESSION", Title: fmt.Sprintf("%s is within %s of %s on every checked metric", cmp.Runs[1].Label, fmtPercent(cmp.Tolerance), cmp.Runs[0].Label)}
		if n := len(cmp.Regressions); n > 0 {
			v = verdictView{Class: "fail", Badge: "REGRESSION", Title: fmt.Sprintf("%s is worse than %s in %s beyond the %s tolerance", cmp.Runs[1].Label, cmp.Runs[0].Label, plural(n, "metric"), fmtPercent(cmp.Tolerance))}
		}
		if len(notPassed) > 0 {
			if v.Class != "fail" {
				v.Class = "warn"
			}
			v.Detail = "Not every run passed: " + strings.Join(notPassed, ", ") + "; its numbers may not stand for what the scenario asked."
		}
		p.Verdict = &v
	}
	for _, k := range latencyKinds(cmp.results...) {
		box := chartBox{ID: "chart-compare-" + k.String(), Title: kindTitle(k), Desc: kindDesc(k)}
		var curves []curve
		for i, res := range cmp.results {
			if s := summaryOf(res, k, ""); s.Count > 0 {
				curves = append(curves, curve{name: cmp.Runs[i].Label, color: colors[i], hist: s.Histogram})
			}
		}
		if len(curves) == 0 {
			box.Empty = noSamples(k, "") + " in any run"
		} else {
			p.Charts = append(p.Charts, percentileChart(box.ID, curves))
		}
		p.Boxes = append(p.Boxes, box)
	}
	if spec, ok := overlayTimeChart("chart-compare-e2e-time", chartLatencyTime, "e2e p99", cmp, colors, func(sp metrics.SeriesPoint) any {
		if sp.Received == 0 && sp.E2EP99Us == 0 {
			return nil
		}
		return latencyMs(sp.E2EP99Us)
	}); ok {
		p.TimeBoxes = append(p.TimeBoxes, chartBox{ID: spec.ID, Title: "e2e p99 over time", Desc: "per interval, seconds since each run's start"})
		p.Charts = append(p.Charts, spec)
	}
	if spec, ok := overlayTimeChart("chart-compare-rate-time", chartRateTime, "msg/s", cmp, colors, func(sp metrics.SeriesPoint) any {
		return round6(sp.PublishRate)
	}); ok {
		p.TimeBoxes = append(p.TimeBoxes, chartBox{ID: spec.ID, Title: "Publish rate over time", Desc: "messages per second, per interval"})
		p.Charts = append(p.Charts, spec)
	}
	regressed := map[string]bool{}
	for _, r := range cmp.Regressions {
		regressed[r.Metric] = true
	}
	var cur *compareGroup
	for _, row := range cmp.Rows {
		if cur == nil || cur.Title != row.Group {
			p.Groups = append(p.Groups, compareGroup{Title: row.Group})
			cur = &p.Groups[len(p.Groups)-1]
		}
		v := compareRowView{Metric: row.Metric, Better: row.Better}
		for i, val := range row.Values {
			delta := val.Delta
			if delta == "0%" {
				delta = ""
			}
			v.Cells = append(v.Cells, compareCell{Text: val.Text, Delta: delta, Win: i == row.Winner,
				Worse: len(cmp.Runs) == 2 && i == 1 && regressed[row.Metric]})
		}
		cur.Rows = append(cur.Rows, v)
	}
	return renderPage(w, "compare", p)
}

// overlayTimeChart draws one series value of every run over time.
func overlayTimeChart(id, kind, yName string, cmp Comparison, colors []string, value func(metrics.SeriesPoint) any) (chartSpec, bool) {
	opt := echOption{
		Grid:    &echGrid{Left: 12, Right: 36, Top: 56, Bottom: 34, ContainLabel: true},
		Legend:  &echLegend{Top: 2, Type: "scroll"},
		Tooltip: &echTooltip{Trigger: "axis"},
		XAxis:   []echAxis{timeAxis()},
		YAxis:   []echAxis{{Type: "value", Name: yName, Min: 0}},
	}
	for i, res := range cmp.results {
		if len(res.Series) == 0 {
			continue
		}
		data := make([]seriesPoint, 0, len(res.Series))
		for _, sp := range res.Series {
			data = append(data, seriesPoint{sp.T, value(sp)})
		}
		opt.Series = append(opt.Series, echSeries{Name: cmp.Runs[i].Label, Type: "line", Data: data, LineStyle: &echLineStyle{Width: 2}})
		opt.Color = append(opt.Color, colors[i])
	}
	if len(opt.Series) == 0 {
		return chartSpec{}, false
	}
	if kind == chartLatencyTime {
		opt.YAxis[0] = latencyAxis(yName)
		return chartSpec{ID: id, Kind: kind, Option: opt, LogToggle: true}, true
	}
	return chartSpec{ID: id, Kind: kind, Option: opt}, true
}
