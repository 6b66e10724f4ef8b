package reports

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// metricClass is what kind of number a metric is, which decides how its
// values are written and read.
type metricClass uint8

const (
	// classLatency metrics have statistics (p99, max…) in microseconds.
	classLatency metricClass = iota
	// classCounter metrics are whole-run counts.
	classCounter
	// classRatio metrics are fractions 0..1, written as percentages.
	classRatio
	// classRate metrics are average events per second over the run.
	classRate
)

// direction says which way a metric is better, for comparisons and
// regressions.
type direction int8

const (
	neutral      = direction(metrics.Neutral)
	lowerBetter  = direction(metrics.LowerBetter)
	higherBetter = direction(metrics.HigherBetter)
)

// metricDef is one entry of the metric catalogue: a name thresholds,
// comparisons and regressions use, and how to read it from a result. To add
// a metric, add an entry to catalogue.
type metricDef struct {
	name   string
	class  metricClass
	kind   metrics.Kind // classLatency only
	perQoS bool
	better direction
	help   string
	// total reads a counter over all QoS levels (classCounter, classRate).
	total func(*metrics.Totals) int64
	// byQoS reads a per-QoS counter (perQoS counters and rates).
	byQoS func(*metrics.QoSTotals) int64
	// ratio returns numerator, denominator and, for a zero denominator,
	// why there is no value (classRatio). qos is "" for all levels.
	ratio func(res *metrics.Result, qos string) (num, den int64, why string)
}

func latencyDef(k metrics.Kind, help string) *metricDef {
	return &metricDef{name: k.String(), class: classLatency, kind: k, perQoS: k.PerQoS(), better: lowerBetter, help: help}
}

// counterDefs returns a metric for every whole-run counter column of the
// result model (metrics.Columns), in its order: a counter added there is
// a threshold metric, a comparison row and a report row at once.
func counterDefs() []*metricDef {
	cols := metrics.Columns()
	out := make([]*metricDef, len(cols))
	for i, c := range cols {
		d := &metricDef{name: c.Name, class: classCounter, perQoS: c.PerQoS, better: direction(c.Better), help: c.Help,
			total: c.Of}
		if c.PerQoS {
			d.byQoS = c.OfQoS
		}
		out[i] = d
	}
	return out
}

// catalogue lists every metric by name, in the order error messages list
// them: latencies, counters (from the result model's columns), ratios and
// rates.
var catalogue = slices.Concat(latencyDefs, counterDefs(), derivedDefs)

// latencyDefs are the latency metrics.
var latencyDefs = []*metricDef{
	latencyDef(metrics.Connect, "dial to CONNACK"),
	latencyDef(metrics.Subscribe, "SUBSCRIBE to SUBACK"),
	latencyDef(metrics.PublishAck, "intended publish time to PUBACK/PUBCOMP (QoS 0: write done)"),
	latencyDef(metrics.E2E, "intended publish time to arrival at a subscriber"),
	latencyDef(metrics.RoundTrip, "request's intended publish time to the reply's arrival (request/response)"),
	latencyDef(metrics.E2ECrossNode, "e2e of deliveries published on another node (distributed runs; clock-offset corrected)"),
	latencyDef(metrics.ThingReply, "thing-model post's intended publish time to its post_reply (matched by Alink id) at the device"),
	latencyDef(metrics.RRPC, "cloud-side RRPC request to the device's answer at the cloud side (answers within the call's timeout)"),
}

// derivedDefs are the ratios and rates computed from counters.
var derivedDefs = []*metricDef{
	{name: "connect_failed_ratio", class: classRatio, better: lowerBetter,
		help: "connect_failed / (connect_ok + connect_failed)",
		ratio: func(res *metrics.Result, _ string) (int64, int64, string) {
			t := &res.Totals
			return t.ConnectFailed, t.ConnectOK + t.ConnectFailed, "no connect was attempted"
		}},
	{name: "subscribe_failed_ratio", class: classRatio, better: lowerBetter,
		help: "subscribe_failed / (subscribe_ok + subscribe_failed)",
		ratio: func(res *metrics.Result, _ string) (int64, int64, string) {
			t := &res.Totals
			return t.SubscribeFailed, t.SubscribeOK + t.SubscribeFailed, "no subscription was attempted"
		}},
	{name: "loss_ratio", class: classRatio, perQoS: true, better: lowerBetter,
		help: "lost / expected",
		ratio: func(res *metrics.Result, qos string) (int64, int64, string) {
			if qos == "" {
				return res.Totals.Lost, res.Totals.Expected, "no delivery was expected"
			}
			q := res.ByQoS[qos]
			return q.Lost, q.Expected, "no delivery was expected"
		}},
	{name: "duplicate_ratio", class: classRatio, perQoS: true, better: lowerBetter,
		help: "duplicates / received",
		ratio: func(res *metrics.Result, qos string) (int64, int64, string) {
			if qos == "" {
				return res.Totals.Duplicates, res.Totals.Received, "no message was received"
			}
			q := res.ByQoS[qos]
			return q.Duplicates, q.Received, "no message was received"
		}},

	{name: "publish_rate", class: classRate, perQoS: true, better: higherBetter,
		help:  "published per second of the load phase (first to last intended publish; the drain apart)",
		total: func(t *metrics.Totals) int64 { return t.Published }, byQoS: func(q *metrics.QoSTotals) int64 { return q.Published }},
	{name: "receive_rate", class: classRate, perQoS: true, better: higherBetter,
		help:  "received per second over the run",
		total: func(t *metrics.Totals) int64 { return t.Received }, byQoS: func(q *metrics.QoSTotals) int64 { return q.Received }},
}

// lookupMetric returns the catalogue entry of a name.
func lookupMetric(name string) (*metricDef, bool) {
	for _, d := range catalogue {
		if d.name == name {
			return d, true
		}
	}
	return nil, false
}

// metricNames returns every metric name in catalogue order.
func metricNames() []string {
	out := make([]string, len(catalogue))
	for i, d := range catalogue {
		out[i] = d.name
	}
	return out
}

// statOp is what a latency statistic computes.
type statOp uint8

const (
	statPercentile statOp = iota
	statMin
	statMax
	statMean
	statCount
)

// stat is a parsed latency statistic.
type stat struct {
	// name is the canonical spelling: p50, p999, p95, min, max, mean, count.
	name string
	op   statOp
	pct  float64 // statPercentile only, 0..100
}

// statNames lists the statistics in the order error messages list them.
var statNames = []string{"p50", "p90", "p99", "p999", "p9999", "max", "min", "mean", "count"}

// parseStat reads a latency statistic: p50 p90 p99 p999 p9999 max min mean
// count, any other percentile as pNN (p95, p995 = 99.5), p99.9 or the k6
// spelling p(99.9), and the aliases avg and median.
func parseStat(s string) (stat, error) {
	switch s {
	case "min":
		return stat{name: s, op: statMin}, nil
	case "max":
		return stat{name: s, op: statMax}, nil
	case "mean", "avg":
		return stat{name: "mean", op: statMean}, nil
	case "count":
		return stat{name: s, op: statCount}, nil
	case "median", "med":
		return stat{name: "p50", op: statPercentile, pct: 50}, nil
	}
	if len(s) < 2 || s[0] != 'p' {
		return stat{}, unknownStat(s)
	}
	body := s[1:]
	if strings.HasPrefix(body, "(") && strings.HasSuffix(body, ")") {
		body = body[1 : len(body)-1]
		if !strings.Contains(body, ".") && body != "" && allDigits(body) {
			body += ".0" // p(95) is 95, not 9.5
		}
	}
	var pct float64
	switch {
	case body == "":
		return stat{}, unknownStat(s)
	case allDigits(body):
		switch {
		case len(body) == 1, body == "100":
			pct, _ = strconv.ParseFloat(body, 64)
		case len(body) > 2 && strings.HasSuffix(body, "0"):
			// p990 would read as 99.0 and p1000 as 10.00: say it plainly.
			return stat{}, fmt.Errorf("ambiguous percentile %q: write it as p(N), e.g. p(99.5)", s)
		default:
			// HdrHistogram naming: the first two digits are the integer
			// part, the rest the fraction (p999 = 99.9, p995 = 99.5).
			pct, _ = strconv.ParseFloat(body[:2]+"."+body[2:], 64)
		}
	case strings.Count(body, ".") == 1 && allDigits(strings.Replace(body, ".", "", 1)) &&
		!strings.HasPrefix(body, ".") && !strings.HasSuffix(body, "."):
		pct, _ = strconv.ParseFloat(body, 64)
	default:
		return stat{}, unknownStat(s)
	}
	if pct < 0 || pct > 100 || math.IsNaN(pct) {
		return stat{}, fmt.Errorf("percentile %s is outside 0..100", s)
	}
	return stat{name: pctName(pct), op: statPercentile, pct: pct}, nil
}

// pctName is the canonical name of a percentile: p50, p999, p95, p05.
func pctName(pct float64) string {
	if pct == 100 {
		return "p100"
	}
	s := strconv.FormatFloat(pct, 'f', -1, 64)
	ip, fp, _ := strings.Cut(s, ".")
	if len(ip) == 1 {
		ip = "0" + ip
	}
	return "p" + ip + fp
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func unknownStat(s string) error {
	msg := fmt.Sprintf("unknown statistic %q", s)
	if m := didYouMean(s, statNames); m != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", m)
	}
	return fmt.Errorf("%s; valid statistics: %s, or any percentile as pNN (p95, p995) or p(99.5)", msg, strings.Join(statNames, " "))
}

// summaryOf returns the latency summary of a kind over all QoS levels (qos
// "") or at one level. It never returns nil.
func summaryOf(res *metrics.Result, k metrics.Kind, qos string) *metrics.LatencySummary {
	if qos == "" {
		if s := res.Latency.Get(k); s != nil {
			return s
		}
		return &metrics.LatencySummary{}
	}
	ql, ok := res.LatencyByQoS[qos]
	if !ok {
		return &metrics.LatencySummary{}
	}
	if s := ql.Get(k); s != nil {
		return s
	}
	return &metrics.LatencySummary{}
}

// noSamples says why a latency kind has no value.
func noSamples(k metrics.Kind, qos string) string {
	var why string
	switch k {
	case metrics.Connect:
		why = "no connect was accepted"
	case metrics.Subscribe:
		why = "no subscription was acknowledged"
	case metrics.PublishAck:
		why = "no publish was acknowledged"
	case metrics.E2E:
		why = "no message was received"
	case metrics.RoundTrip:
		why = "no reply was received"
	case metrics.E2ECrossNode:
		why = "no message crossed nodes (not a distributed run?)"
	case metrics.ThingReply:
		why = "no thing-model reply was matched"
	case metrics.RRPC:
		why = "no RRPC call was answered in time"
	default:
		why = "nothing was recorded"
	}
	if qos != "" {
		why += " at QoS " + qos
	}
	return "no samples: " + why
}

// statValue reads one statistic of a summary, in µs (a count for
// statCount). why is non-empty when there is no value.
func statValue(s *metrics.LatencySummary, st stat) (v float64, why string) {
	if st.op == statCount {
		return float64(s.Count), ""
	}
	if s.Count == 0 {
		return 0, "no samples"
	}
	switch st.op {
	case statMin:
		return float64(s.Min), ""
	case statMax:
		return float64(s.Max), ""
	case statMean:
		return s.Mean, ""
	}
	if s.Histogram.Count() > 0 {
		return float64(s.Histogram.Percentile(st.pct)), ""
	}
	for _, f := range []struct {
		pct float64
		v   int64
	}{{50, s.P50}, {90, s.P90}, {99, s.P99}, {99.9, s.P999}, {99.99, s.P9999}, {100, s.Max}} {
		if f.pct == st.pct {
			return float64(f.v), ""
		}
	}
	return 0, fmt.Sprintf("percentile %s needs the histogram, which this result does not hold", st.name)
}

// measure reads one metric from a result. stat applies to latency metrics
// only; qos is "" for all levels. why is non-empty when there is no value.
func measure(res *metrics.Result, d *metricDef, st stat, qos string) (v float64, why string) {
	if res == nil {
		return 0, "no result"
	}
	switch d.class {
	case classLatency:
		v, why := statValue(summaryOf(res, d.kind, qos), st)
		if why == "no samples" {
			why = noSamples(d.kind, qos)
		}
		return v, why
	case classCounter:
		if qos != "" {
			q := res.ByQoS[qos]
			return float64(d.byQoS(&q)), ""
		}
		return float64(d.total(&res.Totals)), ""
	case classRatio:
		num, den, none := d.ratio(res, qos)
		if den == 0 {
			if qos != "" {
				none += " at QoS " + qos
			}
			return 0, "no data: " + none
		}
		return float64(num) / float64(den), ""
	case classRate:
		if d.name == "publish_rate" {
			return publishRate(res, qos)
		}
		secs := runDuration(res.StartedAt, res.EndedAt).Seconds()
		if secs <= 0 {
			return 0, "no data: the run has no duration"
		}
		n := d.total(&res.Totals)
		if qos != "" {
			q := res.ByQoS[qos]
			n = d.byQoS(&q)
		}
		return float64(n) / secs, ""
	}
	return 0, "unknown metric class"
}

// publishRate is the publish rate of the load phase (Result.PublishRate),
// at one QoS level over the same span.
func publishRate(res *metrics.Result, qos string) (float64, string) {
	rate, ok := res.PublishRate()
	if !ok {
		if res.Totals.Published == 0 {
			return 0, "no data: nothing was published"
		}
		return 0, "no data: the load phase has no length"
	}
	if qos == "" || res.Totals.Published == 0 {
		return rate, ""
	}
	// The same span for every level: rate × published(qos) / published.
	q := res.ByQoS[qos]
	return rate * float64(q.Published) / float64(res.Totals.Published), ""
}

// formatValue writes a value of a metric in its unit: latencies humanised,
// ratios as percentages, rates per second, counts with separators.
func formatValue(d *metricDef, st stat, v float64) string {
	switch d.class {
	case classLatency:
		if st.op == statCount {
			return fmtNumber(v)
		}
		return fmtMicros(v)
	case classRatio:
		return fmtPercent(v)
	case classRate:
		return fmtRate(v)
	}
	return fmtNumber(v)
}

// didYouMean returns the candidate closest to s by edit distance, or "" if
// none is close enough to be a plausible typo.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", math.MaxInt
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(2, len([]rune(s))/3)
	if bestD <= limit {
		return best
	}
	for _, c := range candidates {
		if s != "" && (strings.HasPrefix(c, strings.ToLower(s)) || strings.HasPrefix(strings.ToLower(s), c)) {
			return c
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Too long to be a typo of a metric name; avoid quadratic work.
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
