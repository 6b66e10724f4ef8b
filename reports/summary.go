package reports

import (
	"fmt"
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
// with cross-node deliveries, round_trip when any measured
// request/response, thing_reply and rrpc when any measured them.
func latencyKinds(results ...*metrics.Result) []metrics.Kind {
	kinds := []metrics.Kind{metrics.Connect, metrics.Subscribe, metrics.PublishAck, metrics.E2E}
	for _, k := range []metrics.Kind{metrics.E2ECrossNode, metrics.RoundTrip, metrics.ThingReply, metrics.RRPC} {
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
	case metrics.ThingReply:
		return "thing post → reply"
	case metrics.RRPC:
		return "RRPC call → answer"
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
	Name string
	// Help says exactly what the row counts.
	Help   string
	Values []string
	// Bad marks a row whose non-zero values are a problem (lost,
	// duplicates).
	Bad     bool
	Nonzero []bool
}

// messageHelp says what each row of the message table counts. Every
// renderer shows it next to the numbers.
var messageHelp = map[string]string{
	"published":       "PUBLISH packets sent",
	"acked":           "PUBACK (QoS 1) or PUBCOMP (QoS 2) received; QoS 0: written",
	"expected":        "deliveries the plan predicts, at the delivery QoS",
	"received":        "stamped deliveries, duplicates included",
	"unique":          "received − duplicates",
	"duplicates":      "sequence number already received on its stream (over the whole stream)",
	"reordered":       "arrived after a later sequence number of its stream",
	"lost":            "expected − unique, after the drain",
	"foreign":         "unstamped messages on subscribed topics: not counted as received or lost",
	"loss":            "lost / expected",
	"duplicate ratio": "duplicates / received",
	"publish rate":    "published / load phase (first to last intended publish)",
	"receive rate":    "received / whole run",
}

// messageRows returns the message accounting per column (see
// messageColumns): the counters, foreign messages, QoS mismatches (only
// when there are any), then the ratios and rates.
func messageRows(res *metrics.Result) []messageRow {
	cols := messageColumns(res)
	var rows []messageRow
	counter := func(name string, bad bool, value func(q string) (float64, bool)) {
		r := messageRow{Name: name, Help: messageHelp[name], Bad: bad}
		for _, q := range cols {
			v, ok := value(q)
			if !ok {
				r.Values = append(r.Values, dash)
				r.Nonzero = append(r.Nonzero, false)
				continue
			}
			r.Values = append(r.Values, fmtNumber(v))
			r.Nonzero = append(r.Nonzero, v != 0)
		}
		rows = append(rows, r)
	}
	catalogued := func(name string) {
		d, _ := lookupMetric(name)
		counter(name, d.better == lowerBetter, func(q string) (float64, bool) {
			v, _ := measure(res, d, stat{}, q)
			return v, true
		})
	}
	for _, name := range []string{"published", "acked", "expected", "received"} {
		catalogued(name)
	}
	counter("unique", false, func(q string) (float64, bool) {
		if q == "" {
			return float64(res.Totals.Received - res.Totals.Duplicates), true
		}
		t := res.ByQoS[q]
		return float64(t.Received - t.Duplicates), true
	})
	for _, name := range []string{"duplicates", "reordered", "lost"} {
		catalogued(name)
	}
	// Foreign messages are counted per node, not per QoS.
	counter("foreign", true, func(q string) (float64, bool) {
		return float64(res.Totals.Foreign), q == ""
	})
	if pairs := mismatchPairs(res); len(pairs) > 0 {
		r := messageRow{Name: "QoS mismatch", Bad: true, Help: mismatchHelp(pairs)}
		for _, q := range cols {
			var n int64
			for _, p := range pairs {
				if q == "" || p.expected == q {
					n += p.count
				}
			}
			r.Values = append(r.Values, fmtCount(n))
			r.Nonzero = append(r.Nonzero, n != 0)
		}
		rows = append(rows, r)
	}
	for _, name := range []string{"loss_ratio", "duplicate_ratio", "publish_rate", "receive_rate"} {
		d, _ := lookupMetric(name)
		label := map[string]string{"loss_ratio": "loss", "duplicate_ratio": "duplicate ratio", "publish_rate": "publish rate", "receive_rate": "receive rate"}[name]
		r := messageRow{Name: label, Help: messageHelp[label], Bad: d.better == lowerBetter}
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

// mismatchPair is one kind of QoS mismatch: deliveries expected at one QoS
// that arrived at another.
type mismatchPair struct {
	key, expected, delivered string
	count                    int64
}

// mismatchPairs lists the non-zero QoS mismatches of res, in key order.
func mismatchPairs(res *metrics.Result) []mismatchPair {
	keys := make([]string, 0, len(res.QoSMismatch))
	for k, v := range res.QoSMismatch {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]mismatchPair, 0, len(keys))
	for _, k := range keys {
		e, d, _ := strings.Cut(k, "->")
		out = append(out, mismatchPair{key: k, expected: e, delivered: d, count: res.QoSMismatch[k]})
	}
	return out
}

// mismatchHelp explains the QoS mismatches: "80 × 1->0: expected QoS 1,
// delivered at QoS 0; counted as received".
func mismatchHelp(pairs []mismatchPair) string {
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		parts = append(parts, fmt.Sprintf("%s × %s: expected QoS %s, delivered at QoS %s", fmtCount(p.count), p.key, p.expected, p.delivered))
	}
	return strings.Join(parts, "; ") + "; counted as received, never as lost"
}

// connectReasonHelp explains the connect failure reasons that are not
// self-explanatory.
var connectReasonHelp = map[string]string{
	"not_mqtt": "the server's first bytes were not a CONNACK: not an MQTT server (an HTTP server, TLS spoken to in plain TCP…)",
	"protocol": "the CONNACK broke the protocol: a return code MQTT 3.1.1 does not define (6–255) or a malformed packet",
}

// subscribeFailures splits the failed subscriptions: "2 never acknowledged
// within the request timeout, 1 refused" ("" when none failed).
func subscribeFailures(t *metrics.Totals) string {
	if t.SubscribeFailed == 0 {
		return ""
	}
	refused := t.SubscribeFailed - t.SubscribeTimeout
	return fmt.Sprintf("%s never acknowledged within the request timeout, %s refused", fmtCount(t.SubscribeTimeout), fmtCount(refused))
}

// connectionRows lists the connection facts of a run with what each
// counts, for the Markdown and HTML connection tables.
func connectionRows(res *metrics.Result) []counterRow {
	t := &res.Totals
	rows := []counterRow{
		{"devices", fmtCount(t.Devices), "devices started", false},
		{"connected", connectedText(t), "connected devices: the highest one-second sample, and at the end (normally 0)", false},
		{"connects ok", fmtCount(t.ConnectOK), "connects the broker accepted (CONNACK 0), reconnects included", false},
		{"connects failed", fmtCount(t.ConnectFailed), "failed connect attempts, by reason below", t.ConnectFailed > 0},
	}
	reasons := make([]string, 0, len(res.ConnectFailedByReason))
	for k, v := range res.ConnectFailedByReason {
		if v > 0 {
			reasons = append(reasons, k)
		}
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		help := connectReasonHelp[k]
		if first := res.FirstConnectErrors[k]; first != "" {
			help = strings.TrimPrefix(help+"; first: "+clip(first, 160), "; ")
		}
		rows = append(rows, counterRow{"connects failed: " + k, fmtCount(res.ConnectFailedByReason[k]), help, true})
	}
	rows = append(rows, counterRow{"subscribes ok", fmtCount(t.SubscribeOK), "subscriptions acknowledged with a granted QoS", false})
	// The problems only when they happened (every counter is in the
	// HTML report's counter table anyway).
	for _, r := range []struct {
		name string
		n    int64
		help string
	}{
		{"subscribes timed out", t.SubscribeTimeout, "subscriptions never acknowledged within the request timeout"},
		{"subscribes refused", t.SubscribeFailed - t.SubscribeTimeout, "subscriptions the broker refused (SUBACK 0x80) or that failed locally"},
		{"protocol errors", t.ProtocolErrors, "broker packets that broke the protocol on an established connection"},
	} {
		if r.n != 0 {
			rows = append(rows, counterRow{r.name, fmtCount(r.n), r.help, true})
		}
	}
	for _, k := range sortedCounts(res.ReasonCodes) {
		packet, name, _ := strings.Cut(k, ":")
		rows = append(rows, counterRow{"reason " + k, fmtCount(res.ReasonCodes[k]),
			"the broker answered " + strings.ToUpper(packet) + " with reason " + strings.ReplaceAll(name, "_", " "), true})
	}
	rows = append(rows,
		counterRow{"disconnects", fmtCount(t.Disconnects), "unexpected connection losses", t.Disconnects > 0},
		counterRow{"reconnects", fmtCount(t.Reconnects), "reconnects the broker accepted after a connection loss", false},
	)
	return rows
}

// connectedText is the connected gauge: "peak 389, at end 0".
func connectedText(t *metrics.Totals) string {
	return "peak " + fmtCount(t.ConnectedPeak) + ", at end " + fmtCount(t.Connected)
}

// loadPhaseText describes the load phase and the drain: "load 29.9 s
// (first to last intended publish), drain 5.0 s".
func loadPhaseText(res *metrics.Result) string {
	switch {
	case res.LoadSeconds() > 0:
		s := "load " + fmtSeconds(res.LoadSeconds()) + " (first to last intended publish)"
		if res.DrainS > 0 {
			s += ", drain " + fmtSeconds(res.DrainS)
		}
		return s
	case res.FirstPublishS == 0 && res.LastPublishS == 0 && res.Totals.Published > 0:
		return "load phase not recorded (older result): publish rate over the whole run"
	case res.Totals.Published == 0:
		return "no load phase: nothing was published"
	}
	return "no load phase: every publish was planned at one instant"
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
	published := loadPhaseText(res)
	if rate, ok := res.PublishRate(); ok {
		published = fmtRate(rate) + " · " + published
	}
	received := "of " + fmtCount(t.Expected) + " expected"
	if secs > 0 {
		received += " · " + fmtRate(float64(t.Received)/secs) + " over the run"
	}
	return []headline{
		{Label: "devices", Value: fmtCount(t.Devices), Note: "started"},
		{Label: "connected", Value: fmtCount(t.ConnectedPeak), Note: "peak · " + fmtCount(t.Connected) + " at end", Bad: t.Devices > 0 && t.ConnectedPeak == 0},
		{Label: "connects", Value: fmtCount(t.ConnectOK), Note: fmtCount(t.ConnectFailed) + " failed (" + ratioText(t.ConnectFailed, attempts) + ")", Bad: t.ConnectFailed > 0},
		{Label: "published", Value: fmtCount(t.Published), Note: published},
		{Label: "received", Value: fmtCount(t.Received), Note: received},
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
		{"subscribe timed out", t.SubscribeTimeout},
		{"subscribe refused", t.SubscribeFailed - t.SubscribeTimeout},
		{"protocol errors", t.ProtocolErrors},
		{"disconnects", t.Disconnects},
		{"publish errors", t.PublishErrors},
		{"lost", t.Lost},
		{"duplicates", t.Duplicates},
		{"reordered", t.Reordered},
		{"foreign", t.Foreign},
		{"QoS mismatch", t.QoSMismatch},
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
