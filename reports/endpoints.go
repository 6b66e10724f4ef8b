package reports

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// This file derives what the text, Markdown and HTML renderers show about
// the broker endpoints of a run against several brokers (broker.url as a
// list): one line per endpoint, so that a slow or failing node of a
// cluster stands out. A run against one broker shows nothing of this.

// endpointRow is one broker endpoint. URL is the user's string,
// unescaped: each renderer escapes it.
type endpointRow struct {
	URL         string
	Devices     string
	ConnectOK   string
	Failed      string
	Disconnects string
	Failovers   string
	Published   string
	Acked       string
	Received    string
	Errors      string
	ConnectP50  string
	ConnectP99  string
	AckP50      string
	AckP90      string
	AckP99      string
	AckMax      string
	// Slowest marks the endpoint whose publish-ack p99 is the highest and
	// at least twice the next one's.
	Slowest bool
	// Bad marks an endpoint with failed connects, publish errors or
	// devices that left it.
	Bad bool
}

// endpointHeads are the column heads after the URL.
var endpointHeads = []string{"devices", "connects ok", "failed", "disconnects", "failovers", "published", "acked",
	"received", "pub errors", "connect p50", "connect p99", "ack p50", "ack p90", "ack p99", "ack max"}

// Cells returns the row's cells after the URL, in endpointHeads' order.
func (r endpointRow) Cells() []string {
	return []string{r.Devices, r.ConnectOK, r.Failed, r.Disconnects, r.Failovers, r.Published, r.Acked,
		r.Received, r.Errors, r.ConnectP50, r.ConnectP99, r.AckP50, r.AckP90, r.AckP99, r.AckMax}
}

// endpointRows returns the per-endpoint table (none unless the run had
// more than one endpoint).
func endpointRows(res *metrics.Result) []endpointRow {
	if len(res.Endpoints) < 2 {
		return nil
	}
	lat := func(s metrics.LatencySummary, v int64) string {
		if s.Count == 0 {
			return dash
		}
		return fmtMicros(float64(v))
	}
	rows := make([]endpointRow, len(res.Endpoints))
	slow, second := -1, int64(0)
	for i := range res.Endpoints {
		e := &res.Endpoints[i]
		rows[i] = endpointRow{
			URL: orDash(e.URL), Devices: fmtCount(e.Devices), ConnectOK: fmtCount(e.ConnectOK), Failed: fmtCount(e.ConnectFailed),
			Disconnects: fmtCount(e.Disconnects), Failovers: fmtCount(e.FailoversTotal()), Published: fmtCount(e.Published),
			Acked: fmtCount(e.Acked), Received: fmtCount(e.Received), Errors: fmtCount(e.PublishErrors),
			ConnectP50: lat(e.Connect, e.Connect.P50), ConnectP99: lat(e.Connect, e.Connect.P99),
			AckP50: lat(e.PublishAck, e.PublishAck.P50), AckP90: lat(e.PublishAck, e.PublishAck.P90),
			AckP99: lat(e.PublishAck, e.PublishAck.P99), AckMax: lat(e.PublishAck, e.PublishAck.Max),
			Bad: e.ConnectFailed > 0 || e.PublishErrors > 0 || e.FailoversTotal() > 0,
		}
		p := e.PublishAck.P99
		switch {
		case slow < 0 || p > res.Endpoints[slow].PublishAck.P99:
			if slow >= 0 {
				second = res.Endpoints[slow].PublishAck.P99
			}
			slow = i
		case p > second:
			second = p
		}
	}
	if slow >= 0 && res.Endpoints[slow].PublishAck.Count > 0 && res.Endpoints[slow].PublishAck.P99 >= 2*max(second, 1) {
		rows[slow].Slowest = true
	}
	return rows
}

// endpointNotes are the lines under the endpoint table: connect failures
// by reason and failovers, per endpoint (URLs unescaped).
func endpointNotes(res *metrics.Result) []string {
	if len(res.Endpoints) < 2 {
		return nil
	}
	var out []string
	for _, e := range res.Endpoints {
		if len(e.ConnectFailedByReason) > 0 {
			out = append(out, fmt.Sprintf("%s: connect failures %s", e.URL, countList(e.ConnectFailedByReason)))
		}
		if len(e.Failovers) > 0 {
			out = append(out, fmt.Sprintf("%s: devices failed over to %s", e.URL, countList(e.Failovers)))
		}
		if e.Devices > 0 && e.ConnectOK == 0 {
			out = append(out, fmt.Sprintf("%s: none of its %d devices connected to it", e.URL, e.Devices))
		}
	}
	return out
}

// countList formats counts by name, largest first: "network 3, timeout 1".
func countList(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %s", k, fmtCount(m[k]))
	}
	return strings.Join(parts, ", ")
}

// slowMark is the marker of the slowest endpoint in text and Markdown.
const slowMark = " (slowest)"

// writeTextEndpoints writes the per-endpoint table.
func writeTextEndpoints(b *strings.Builder, res *metrics.Result) {
	rows := endpointRows(res)
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n")
	t := newTable(append([]string{"Endpoints"}, endpointHeads...)...)
	for _, r := range rows {
		name := "  " + oneLine(r.URL)
		if r.Slowest {
			name += slowMark
		}
		t.add(append([]string{name}, r.Cells()...)...)
	}
	_ = t.text(b, "")
	for _, n := range endpointNotes(res) {
		b.WriteString("  " + oneLine(n) + "\n")
	}
}

// writeMarkdownEndpoints writes the per-endpoint table.
func writeMarkdownEndpoints(b *strings.Builder, res *metrics.Result) {
	rows := endpointRows(res)
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n")
	t := newTable(append([]string{"endpoint"}, endpointHeads...)...)
	for _, r := range rows {
		name := mdCode(oneLine(r.URL))
		if r.Slowest {
			name = "**" + name + "**" + slowMark
		}
		cells := r.Cells()
		for i := range cells {
			cells[i] = mdEscape(cells[i])
		}
		t.add(append([]string{name}, cells...)...)
	}
	t.raw = true
	_ = t.markdown(b)
	if notes := endpointNotes(res); len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + mdEscape(oneLine(n)) + "\n")
		}
	}
}
