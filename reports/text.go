package reports

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// WriteText writes the terminal summary of a run: what ran and its load
// phase, connections, message accounting per QoS (each row with what it
// counts), a latency table (p50 p90 p99 p99.9 max per kind and QoS), for a
// distributed run the per-node table (lost nodes flagged, clock offsets
// and the error bound of cross-node latencies), the threshold table and
// the run's verdict with its reasons. The status comes from res.Verdict
// (see Judge; an unjudged result is judged by verdict's thresholds on a
// copy), the threshold detail from verdict. Columns are aligned with
// spaces; durations are humanised (45µs, 1.23ms, 2.1s).
func WriteText(w io.Writer, res *metrics.Result, verdict Verdict) error {
	if res == nil {
		return errors.New("reports: write text: nil result")
	}
	var b strings.Builder
	writeText(&b, res, verdict)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("reports: write text: %w", err)
	}
	return nil
}

func writeText(b *strings.Builder, res *metrics.Result, verdict Verdict) {
	rv := runVerdict(res, verdict)
	t := &res.Totals
	name := orDash(res.Scenario.Name)
	if res.Scenario.File != "" {
		name += "  (" + res.Scenario.File + ")"
	}
	fmt.Fprintf(b, "fleetbench  %s\n", oneLine(name))
	fmt.Fprintf(b, "started %s · duration %s · %s\n", fmtTime(res.StartedAt), fmtDuration(runDuration(res.StartedAt, res.EndedAt)), loadPhaseText(res))
	switch rv.Status {
	case metrics.StatusPartial, metrics.StatusInterrupted:
		b.WriteString(rv.Status.Headline() + ": " + statusSentence(res, rv.Status) + ".\n")
	}
	for _, n := range lostNodes(res) {
		b.WriteString("NODE LOST: " + oneLine(lostNodeWarning(&n)) + ".\n")
	}

	b.WriteString("\n")
	conn := &table{header: []string{"Connections", ""}, align: []align{alignLeft, alignLeft}}
	started := fmtCount(t.Devices) + " started"
	if res.PlannedDevices > 0 && t.Devices < res.PlannedDevices {
		started += " of " + fmtCount(res.PlannedDevices) + " planned"
	}
	conn.add("  "+"devices", fmt.Sprintf("%s; connected: %s", started, connectedText(t)))
	connects := fmt.Sprintf("%s ok, %s failed", fmtCount(t.ConnectOK), fmtCount(t.ConnectFailed))
	if t.ConnectFailed > 0 {
		connects += fmt.Sprintf(" (%s: %s)", ratioText(t.ConnectFailed, t.ConnectOK+t.ConnectFailed), reasonList(res.ConnectFailedByReason))
	}
	conn.add("  "+"connects", connects)
	for _, reason := range sortedCounts(res.ConnectFailedByReason) {
		if help := connectReasonHelp[reason]; help != "" {
			conn.add("    "+reason, help)
		}
	}
	for _, reason := range sortedKeys(res.FirstConnectErrors) {
		conn.add("    first "+reason, clip(res.FirstConnectErrors[reason], 160))
	}
	subscribes := fmt.Sprintf("%s ok, %s failed", fmtCount(t.SubscribeOK), fmtCount(t.SubscribeFailed))
	if why := subscribeFailures(t); why != "" {
		subscribes += " (" + why + ")"
	}
	conn.add("  "+"subscribes", subscribes)
	if t.ProtocolErrors > 0 {
		conn.add("  "+"protocol errors", fmtCount(t.ProtocolErrors)+" broker packets broke the protocol on an established connection")
	}
	if len(res.ReasonCodes) > 0 {
		conn.add("  "+"reason codes", reasonList(res.ReasonCodes)+" (MQTT reason codes the broker answered with)")
	}
	if t.ThingPosts > 0 || t.RRPCCalls > 0 {
		addThingRows(conn, res)
	}
	conn.add("  "+"disconnects", fmt.Sprintf("%s, %s reconnects", fmtCount(t.Disconnects), fmtCount(t.Reconnects)))
	if t.PublishErrors > 0 || t.Lagged > 0 {
		conn.add("  "+"problems", fmt.Sprintf("%s publish errors, %s lagged publishes",
			fmtCount(t.PublishErrors), fmtCount(t.Lagged)))
	}
	conn.add("  "+"traffic", fmt.Sprintf("%s out, %s in", fmtBytes(t.BytesOut), fmtBytes(t.BytesIn)))
	if bs := res.Broker; bs != nil {
		conn.add("  "+"broker", fmt.Sprintf("%s dropped, %s inflight dropped, %s QoS dropped (embedded broker)",
			fmtCount(bs.MessagesDropped), fmtCount(bs.InflightDropped), fmtCount(bs.QosDropped)))
	}
	_ = conn.text(b, "")

	b.WriteString("\n")
	cols := messageColumns(res)
	msg := newTable("Messages")
	for _, q := range cols {
		msg.header = append(msg.header, columnTitle(q))
		msg.align = append(msg.align, alignRight)
	}
	msg.header = append(msg.header, "")
	msg.align = append(msg.align, alignLeft)
	for _, r := range messageRows(res) {
		msg.add(append(append([]string{"  " + r.Name}, r.Values...), r.Help)...)
	}
	_ = msg.text(b, "")

	b.WriteString("\n")
	lat := newTable("Latency", "count", "p50", "p90", "p99", "p99.9", "max")
	for _, r := range latencyRows(res) {
		label := "  " + r.Label
		if r.Sub {
			label = "      " + r.Label
		}
		lat.add(label, r.Count, r.P50, r.P90, r.P99, r.P999, r.Max)
	}
	_ = lat.text(b, "")
	writeTextEndpoints(b, res)

	if len(res.Nodes) > 0 {
		b.WriteString("\n")
		writeTextNodes(b, res)
	}

	if len(verdict.Results) > 0 {
		b.WriteString("\n")
		th := &table{header: []string{"Thresholds", "", "observed"}, align: []align{alignLeft, alignLeft, alignRight}}
		for _, r := range verdict.Results {
			observed := r.Value
			if r.NoData != "" {
				observed = r.NoData
			}
			th.add("  "+thresholdMark(r.Passed), oneLine(thresholdExpr(r.Threshold)), oneLine(observed))
		}
		_ = th.text(b, "")
	}
	b.WriteString("\nVerdict: " + headlineText(res, &rv) + "\n")
	for _, r := range reasonLines(&rv) {
		b.WriteString("  - " + r + "\n")
	}
}

// writeTextNodes writes the per-node table of a distributed run and the
// clock error bound of its cross-node latencies.
func writeTextNodes(b *strings.Builder, res *metrics.Result) {
	nodes := newTable("Nodes", "devices", "connects ok", "published", "received", "clock offset", "")
	nodes.align[len(nodes.align)-1] = alignLeft
	for _, r := range nodeRows(res) {
		nodes.add("  "+oneLine(r.Name), r.Devices, r.ConnectOK, r.Published, r.Received, r.Clock, oneLine(r.Status()))
	}
	_ = nodes.text(b, "")
	b.WriteString("  " + clockBoundLine(res) + "\n")
}

// oneLine replaces line breaks and other control characters so that a
// user string cannot break the layout of a terminal or table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// thresholdExpr is a threshold as the user wrote it, or its canonical form.
func thresholdExpr(t Threshold) string {
	if t.Expr != "" {
		return t.Expr
	}
	return t.String()
}

// sortedCounts returns the keys of a count map with a non-zero count, in
// order.
func sortedCounts(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sortedKeys returns a map's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clip flattens s to one line of at most n runes.
func clip(s string, n int) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
