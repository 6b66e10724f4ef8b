package reports

import (
	"slices"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// This file derives the rows that the text, Markdown and HTML renderers
// share from a result, so that every format shows the same numbers.

// qosKeys are the QoS levels as result.json keys.
var qosKeys = []string{"0", "1", "2"}

// latencyKinds lists the latency kinds in report order: the four every run
// has, plus e2e_cross_node when any of the results is a distributed run
// with cross-node deliveries, and round_trip when any measured
// request/response.
func latencyKinds(results ...*metrics.Result) []metrics.Kind {
	kinds := []metrics.Kind{metrics.Connect, metrics.Subscribe, metrics.PublishAck, metrics.E2E}
	for _, k := range []metrics.Kind{metrics.E2ECrossNode, metrics.RoundTrip} {
		for _, r := range results {
			if r != nil && r.Latency.Get(k).Count > 0 {
				kinds = append(kinds, k)
				break
			}
		}
	}
	return kinds
}

// kindTitle is a latency kind for people.
func kindTitle(k metrics.Kind) string {
	switch k {
	case metrics.Connect:
		return "connect"
	case metrics.Subscribe:
		return "subscribe"
	case metrics.PublishAck:
		return "publish → ack"
	case metrics.E2E:
		return "end to end"
	case metrics.RoundTrip:
		return "request → reply"
	case metrics.E2ECrossNode:
		return "end to end, across nodes"
	}
	return k.String()
}

// messageQoS returns the QoS levels that carried messages.
func messageQoS(res *metrics.Result) []string {
	var out []string
	for _, q := range qosKeys {
		t := res.ByQoS[q]
		if t.Published > 0 || t.Expected > 0 || t.Received > 0 {
			out = append(out, q)
		}
	}
	return out
}

// latencyQoS returns the QoS levels at which a kind has samples (none for
// Connect).
func latencyQoS(res *metrics.Result, k metrics.Kind) []string {
	if !k.PerQoS() {
		return nil
	}
	var out []string
	for _, q := range qosKeys {
		if summaryOf(res, k, q).Count > 0 {
			out = append(out, q)
		}
	}
	return out
}

// latencyRow is one row of a latency table: a kind over all QoS levels, or
// one QoS level of it (Sub).
type latencyRow struct {
	Kind  metrics.Kind
	QoS   string
	Label string
	Sub   bool
	Empty bool
	Count string
	Min   string
	Mean  string
	P50   string
	P90   string
	P99   string
	P999  string
	P9999 string
	Max   string
}

func makeLatencyRow(s *metrics.LatencySummary, k metrics.Kind, qos, label string, sub bool) latencyRow {
	r := latencyRow{Kind: k, QoS: qos, Label: label, Sub: sub, Count: fmtCount(s.Count)}
	if s.Count == 0 {
		r.Empty = true
		r.Min, r.Mean, r.P50, r.P90, r.P99, r.P999, r.P9999, r.Max = dash, dash, dash, dash, dash, dash, dash, dash
		return r
	}
	r.Min, r.Mean = fmtMicros(float64(s.Min)), fmtMicros(s.Mean)
	r.P50, r.P90, r.P99 = fmtMicros(float64(s.P50)), fmtMicros(float64(s.P90)), fmtMicros(float64(s.P99))
	r.P999, r.P9999, r.Max = fmtMicros(float64(s.P999)), fmtMicros(float64(s.P9999)), fmtMicros(float64(s.Max))
	return r
}

// latencyRows returns every latency kind, each followed by its QoS levels
// when more than one has samples.
func latencyRows(res *metrics.Result) []latencyRow {
	var rows []latencyRow
	for _, k := range latencyKinds(res) {
		label := k.String()
		levels := latencyQoS(res, k)
		if len(levels) == 1 {
			label += " (QoS " + levels[0] + ")"
		}
		rows = append(rows, makeLatencyRow(summaryOf(res, k, ""), k, "", label, false))
		if len(levels) > 1 {
			for _, q := range levels {
				rows = append(rows, makeLatencyRow(summaryOf(res, k, q), k, q, "QoS "+q, true))
			}
		}
	}
	return rows
}

// messageColumns returns the columns of the message table: "" (all) and
// the QoS levels that carried messages, or the only level.
func messageColumns(res *metrics.Result) []string {
	levels := messageQoS(res)
	if len(levels) == 1 {
		return levels
	}
	if len(levels) == 0 {
		return []string{""}
	}
	return append([]string{""}, levels...)
}

func columnTitle(q string) string {
	if q == "" {
		return "all"
	}
	return "QoS " + q
}

// messageRow is one line of the message accounting table.
type messageRow struct {
	Name   string
	Help   string
	Values []string
	// Bad marks a row whose non-zero values are a problem (lost,
	// duplicates).
	Bad     bool
	Nonzero []bool
}

// messageRows returns the message accounting per column (see
// messageColumns).
func messageRows(res *metrics.Result) []messageRow {
	cols := messageColumns(res)
	var rows []messageRow
	for _, name := range []string{"published", "acked", "expected", "received", "lost", "duplicates", "reordered"} {
		d, _ := lookupMetric(name)
		r := messageRow{Name: name, Help: d.help, Bad: d.better == lowerBetter}
		for _, q := range cols {
			v, _ := measure(res, d, stat{}, q)
			r.Values = append(r.Values, fmtNumber(v))
			r.Nonzero = append(r.Nonzero, v != 0)
		}
		rows = append(rows, r)
	}
	for _, name := range []string{"loss_ratio", "duplicate_ratio", "publish_rate", "receive_rate"} {
		d, _ := lookupMetric(name)
		label := map[string]string{"loss_ratio": "loss", "duplicate_ratio": "duplicate ratio", "publish_rate": "publish rate", "receive_rate": "receive rate"}[name]
		r := messageRow{Name: label, Help: d.help, Bad: d.better == lowerBetter}
		for _, q := range cols {
			v, why := measure(res, d, stat{}, q)
			if why != "" {
				r.Values = append(r.Values, dash)
				r.Nonzero = append(r.Nonzero, false)
				continue
			}
			r.Values = append(r.Values, formatValue(d, stat{}, v))
			r.Nonzero = append(r.Nonzero, v != 0)
		}
		rows = append(rows, r)
	}
	return rows
}

// reasonList writes a count-by-name map in descending count order, skipping
// zeros: "timeout 7, refused_auth 4".
func reasonList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range m {
		if v != 0 {
			list = append(list, kv{k, v})
		}
	}
	slices.SortFunc(list, func(a, b kv) int {
		if a.v != b.v {
			if a.v > b.v {
				return -1
			}
			return 1
		}
		return strings.Compare(a.k, b.k)
	})
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = e.k + " " + fmtCount(e.v)
	}
	return strings.Join(parts, ", ")
}

// ratioText writes num/den as a percentage, or "—" when den is 0.
func ratioText(num, den int64) string {
	if den == 0 {
		return dash
	}
	return fmtPercent(float64(num) / float64(den))
}

// headline is the handful of numbers a reader looks at first.
type headline struct {
	Label string
	Value string
	Note  string
	// Bad marks a number that signals a problem (loss, failed
	// connects).
	Bad bool
}

func headlines(res *metrics.Result) []headline {
	t := &res.Totals
	secs := runDuration(res.StartedAt, res.EndedAt).Seconds()
	rate := func(n int64) string {
		if secs <= 0 {
			return dash
		}
		return fmtRate(float64(n) / secs)
	}
	e2e := summaryOf(res, metrics.E2E, "")
	ack := summaryOf(res, metrics.PublishAck, "")
	p99 := func(s *metrics.LatencySummary) string {
		if s.Count == 0 {
			return dash
		}
		return fmtMicros(float64(s.P99))
	}
	attempts := t.ConnectOK + t.ConnectFailed
	loss := dash
	if t.Expected > 0 {
		loss = fmtPercent(float64(t.Lost) / float64(t.Expected))
	}
	return []headline{
		{Label: "devices", Value: fmtCount(t.Devices), Note: fmtCount(t.Connected) + " connected at the end"},
		{Label: "connects", Value: fmtCount(t.ConnectOK), Note: fmtCount(t.ConnectFailed) + " failed (" + ratioText(t.ConnectFailed, attempts) + ")", Bad: t.ConnectFailed > 0},
		{Label: "published", Value: fmtCount(t.Published), Note: rate(t.Published)},
		{Label: "received", Value: fmtCount(t.Received), Note: "of " + fmtCount(t.Expected) + " expected · " + rate(t.Received)},
		{Label: "loss", Value: loss, Note: fmtCount(t.Lost) + " lost · " + fmtCount(t.Duplicates) + " duplicates", Bad: t.Lost > 0 || t.Duplicates > 0},
		{Label: "e2e p99", Value: p99(e2e), Note: "end to end · p50 " + orDashLatency(e2e.Count, e2e.P50)},
		{Label: "ack p99", Value: p99(ack), Note: "publish → ack · p50 " + orDashLatency(ack.Count, ack.P50)},
	}
}

func orDashLatency(count, us int64) string {
	if count == 0 {
		return dash
	}
	return fmtMicros(float64(us))
}

// brokerTarget describes the broker a run measured.
func brokerTarget(res *metrics.Result, opts Options) string {
	if opts.Broker != "" {
		return opts.Broker
	}
	if res.Meta.Broker != "" {
		return res.Meta.Broker
	}
	if res.Broker != nil {
		return "embedded (mochi-mqtt)"
	}
	return dash
}

// counterRow is one line of the counters-and-errors table.
type counterRow struct {
	Name  string
	Value string
	Help  string
	Bad   bool
}

// counterRows lists every whole-run counter with its explanation.
func counterRows(res *metrics.Result) []counterRow {
	var rows []counterRow
	for _, d := range catalogue {
		if d.class != classCounter {
			continue
		}
		v, _ := measure(res, d, stat{}, "")
		value := fmtNumber(v)
		if strings.HasPrefix(d.name, "bytes_") {
			value = fmtBytes(int64(v))
		}
		rows = append(rows, counterRow{Name: d.name, Value: value, Help: d.help, Bad: d.better == lowerBetter && v > 0})
	}
	for _, extra := range []struct {
		name string
		v    int64
		help string
	}{
		{"latency_negative", res.Totals.LatencyNegative, "negative latencies (clock skew), recorded as 0"},
		{"latency_dropped", res.Totals.LatencyDropped, "latencies not recorded (invalid kind or QoS)"},
	} {
		rows = append(rows, counterRow{Name: extra.name, Value: fmtCount(extra.v), Help: extra.help, Bad: extra.v > 0})
	}
	return rows
}

// problem is one kind of error or loss with its count, for the errors
// chart and table.
type problem struct {
	Name  string
	Count int64
}

// problems lists the non-zero error, loss and disconnect counts, the
// connect failures split by reason.
func problems(res *metrics.Result) []problem {
	var out []problem
	reasons := make([]string, 0, len(res.ConnectFailedByReason))
	for k := range res.ConnectFailedByReason {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		if v := res.ConnectFailedByReason[k]; v > 0 {
			out = append(out, problem{"connect: " + k, v})
		}
	}
	t := &res.Totals
	for _, p := range []problem{
		{"subscribe failed", t.SubscribeFailed},
		{"disconnects", t.Disconnects},
		{"publish errors", t.PublishErrors},
		{"lost", t.Lost},
		{"duplicates", t.Duplicates},
		{"reordered", t.Reordered},
		{"foreign", t.Foreign},
		{"lagged publishes", t.Lagged},
		{"latency saturated", t.LatencySaturated},
		{"latency negative", t.LatencyNegative},
	} {
		if p.Count > 0 {
			out = append(out, p)
		}
	}
	if b := res.Broker; b != nil {
		for _, p := range []problem{
			{"broker dropped", b.MessagesDropped},
			{"broker inflight dropped", b.InflightDropped},
			{"broker QoS dropped", b.QosDropped},
			{"broker refused", b.Refused},
			{"broker publish denied", b.PublishDenied},
			{"broker subscribe denied", b.SubscribeDenied},
		} {
			if p.Count > 0 {
				out = append(out, p)
			}
		}
	}
	return out
}

// brokerRows lists the embedded broker's counters (nil for an external
// broker).
func brokerRows(b *metrics.BrokerStats) []counterRow {
	if b == nil {
		return nil
	}
	return []counterRow{
		{"messages received", fmtCount(b.MessagesReceived), "PUBLISH packets in", false},
		{"messages sent", fmtCount(b.MessagesSent), "PUBLISH packets out", false},
		{"messages dropped", fmtCount(b.MessagesDropped), "deliveries dropped: a subscriber's outbound queue was full", b.MessagesDropped > 0},
		{"inflight dropped", fmtCount(b.InflightDropped), "QoS 1/2 deliveries not attempted: inflight window full", b.InflightDropped > 0},
		{"QoS dropped", fmtCount(b.QosDropped), "QoS 1/2 flows abandoned after they started", b.QosDropped > 0},
		{"clients maximum", fmtCount(b.ClientsMaximum), "highest number of connected clients", false},
		{"connects refused", fmtCount(b.Refused), "CONNECTs the broker refused", b.Refused > 0},
		{"publishes denied", fmtCount(b.PublishDenied), "publishes refused by the ACL", b.PublishDenied > 0},
		{"subscribes denied", fmtCount(b.SubscribeDenied), "subscriptions refused by the ACL", b.SubscribeDenied > 0},
	}
}

// thresholdMark is the symbol of a threshold outcome in text and Markdown.
func thresholdMark(passed bool) string {
	if passed {
		return "✔ PASS"
	}
	return "✘ FAIL"
}

// verdictLine is the one-line verdict of a run: thresholds, whether it was
// interrupted and whether nodes of a distributed run were lost.
func verdictLine(res *metrics.Result, v Verdict) string {
	s := v.Summary()
	lost := len(lostNodes(res))
	switch {
	case len(v.Results) == 0 && res.Interrupted:
		s = "✘ INTERRUPTED (no thresholds)"
	case len(v.Results) == 0 && lost > 0:
		s = "✘ NODE LOST (no thresholds)"
	case len(v.Results) == 0:
		s = "✔ COMPLETED (no thresholds)"
	case v.Passed():
		s = "✔ " + s
	default:
		s = "✘ " + s
	}
	if len(v.Results) > 0 && res.Interrupted {
		s += ", run interrupted"
	}
	if lost > 0 && (len(v.Results) > 0 || res.Interrupted) {
		s += ", " + plural(lost, "node") + " lost"
	}
	return s
}
