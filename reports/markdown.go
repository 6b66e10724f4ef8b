package reports

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// WriteMarkdown writes a summary for a CI job summary or a pull-request
// comment: the run's verdict (✔ only for a passed run, ✘ otherwise; no
// emoji) with the reasons of a failed run, the threshold table, the
// headline numbers, the message and connection tables (each row says what
// it counts), the latency table and, for a distributed run, the per-node
// table with lost nodes flagged. Every string from the user is escaped.
func WriteMarkdown(w io.Writer, res *metrics.Result, verdict Verdict) error {
	if res == nil {
		return errors.New("reports: write markdown: nil result")
	}
	var b strings.Builder
	writeMarkdown(&b, res, verdict)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("reports: write markdown: %w", err)
	}
	return nil
}

func writeMarkdown(b *strings.Builder, res *metrics.Result, verdict Verdict) {
	rv := runVerdict(res, verdict)
	fmt.Fprintf(b, "### fleetbench · %s\n\n", mdEscape(orDash(res.Scenario.Name)))
	fmt.Fprintf(b, "**%s**\n\n", mdEscape(headlineText(res, &rv)))
	if reasons := reasonLines(&rv); len(reasons) > 0 {
		for _, r := range reasons {
			b.WriteString("- " + mdEscape(r) + "\n")
		}
		b.WriteString("\n")
	}
	meta := []string{"started " + fmtTime(res.StartedAt), "duration " + fmtDuration(runDuration(res.StartedAt, res.EndedAt)), mdEscape(loadPhaseText(res))}
	if res.Scenario.File != "" {
		meta = append([]string{"scenario " + mdCode(res.Scenario.File)}, meta...)
	}
	b.WriteString(strings.Join(meta, " · ") + "\n\n")
	for _, n := range lostNodes(res) {
		b.WriteString("**NODE LOST:** " + mdEscape(oneLine(lostNodeWarning(&n))) + ".\n\n")
	}

	if len(verdict.Results) > 0 {
		th := &table{header: []string{"", "threshold", "observed", "limit"}, align: []align{alignLeft, alignLeft, alignRight, alignLeft}, raw: true}
		for _, r := range verdict.Results {
			observed := mdEscape(r.Value)
			if r.NoData != "" {
				observed = mdEscape(r.NoData)
			}
			th.add(mdEscape(thresholdMark(r.Passed)), mdCode(r.Threshold.Name()), observed, mdCode(r.Limit))
		}
		_ = th.markdown(b)
		b.WriteString("\n")
	}

	t := &res.Totals
	published := fmtCount(t.Published)
	if rate, ok := res.PublishRate(); ok {
		published += " · " + fmtRate(rate)
	}
	loss := dash
	if t.Expected > 0 {
		loss = fmtPercent(float64(t.Lost)/float64(t.Expected)) + " (" + fmtCount(t.Lost) + ")"
	}
	head := newTable("devices", "connected peak / at end", "connects ok / failed", "published", "received / expected", "loss", "duplicates", "e2e p99", "publish→ack p99")
	head.add(
		fmtCount(t.Devices),
		fmtCount(t.ConnectedPeak)+" / "+fmtCount(t.Connected),
		fmtCount(t.ConnectOK)+" / "+fmtCount(t.ConnectFailed),
		published,
		fmtCount(t.Received)+" / "+fmtCount(t.Expected),
		loss,
		fmtCount(t.Duplicates),
		orDashLatency(res.Latency.E2E.Count, res.Latency.E2E.P99),
		orDashLatency(res.Latency.PublishAck.Count, res.Latency.PublishAck.P99),
	)
	head.align[0] = alignRight
	_ = head.markdown(b)
	b.WriteString("\n")

	msg := newTable("messages")
	for _, q := range messageColumns(res) {
		msg.header = append(msg.header, columnTitle(q))
		msg.align = append(msg.align, alignRight)
	}
	msg.header = append(msg.header, "counts")
	msg.align = append(msg.align, alignLeft)
	for _, r := range messageRows(res) {
		msg.add(append(append([]string{r.Name}, r.Values...), r.Help)...)
	}
	_ = msg.markdown(b)
	b.WriteString("\n")

	conn := &table{header: []string{"connections", "", "counts"}, align: []align{alignLeft, alignRight, alignLeft}}
	for _, r := range connectionRows(res) {
		conn.add(strings.TrimSpace(r.Name), r.Value, r.Help)
	}
	_ = conn.markdown(b)
	b.WriteString("\n")

	lat := newTable("latency", "count", "p50", "p90", "p99", "p99.9", "max")
	lat.raw = true
	for _, r := range latencyRows(res) {
		label := mdCode(r.Kind.String())
		if r.Sub {
			label = "  ↳ " + mdEscape(r.Label)
		} else if r.Label != r.Kind.String() {
			label += " " + mdEscape(strings.TrimPrefix(r.Label, r.Kind.String()+" "))
		}
		lat.add(label, r.Count, r.P50, r.P90, r.P99, r.P999, r.Max)
	}
	_ = lat.markdown(b)
	writeMarkdownEndpoints(b, res)

	if len(res.Nodes) > 0 {
		b.WriteString("\n")
		writeMarkdownNodes(b, res)
	}
}

// writeMarkdownNodes writes the per-node table of a distributed run and the
// clock error bound of its cross-node latencies.
func writeMarkdownNodes(b *strings.Builder, res *metrics.Result) {
	nodes := newTable("node", "devices", "connects ok", "published", "received", "clock offset", "status")
	nodes.align[len(nodes.align)-1] = alignLeft
	for _, r := range nodeRows(res) {
		status := mdEscape(oneLine(r.Status()))
		if r.LostNode {
			status = "**" + status + "**"
		}
		nodes.add(mdEscape(oneLine(r.Name)), r.Devices, r.ConnectOK, r.Published, r.Received, mdEscape(r.Clock), status)
	}
	nodes.raw = true
	_ = nodes.markdown(b)
	b.WriteString("\n" + mdEscape(clockBoundLine(res)) + "\n")
}
