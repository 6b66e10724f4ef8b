package reports

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// This file derives what the text, Markdown, HTML and JUnit renderers show
// about the nodes of a distributed run. A single-node result has no nodes,
// and then every renderer shows nothing of this.

// nodeRow is one node of a multi-node run. Name, Detail and Reason are the
// user's strings, unescaped: each renderer escapes them.
type nodeRow struct {
	Name string
	// Detail is the node's address (when it differs from its name) and its
	// device ranges.
	Detail    string
	Devices   string
	Connected string
	ConnectOK string
	Failed    string
	Published string
	Received  string
	Lost      string
	// Clock is the node's clock offset to the coordinator with its
	// uncertainty: "+1.25ms ±180µs".
	Clock string
	// LostNode marks a node that died or was cut off mid-run, LostAt when
	// ("12.3 s") and Reason why (may be empty).
	LostNode bool
	LostAt   string
	Reason   string
}

// Status is the node's outcome for text and Markdown: "ok" or
// "LOST at 12.3 s (reason)".
func (r nodeRow) Status() string {
	if !r.LostNode {
		return "ok"
	}
	s := "LOST at " + r.LostAt
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// nodeRows returns the per-node table of a result (none for a single-node
// run).
func nodeRows(res *metrics.Result) []nodeRow {
	rows := make([]nodeRow, 0, len(res.Nodes))
	for _, n := range res.Nodes {
		rows = append(rows, makeNodeRow(&n))
	}
	return rows
}

func makeNodeRow(n *metrics.NodeResult) nodeRow {
	t := &n.Totals
	r := nodeRow{
		Name: orDash(n.Name), Detail: nodeDetail(n), Devices: fmtCount(t.Devices), Connected: fmtCount(t.Connected),
		ConnectOK: fmtCount(t.ConnectOK), Failed: fmtCount(t.ConnectFailed),
		Published: fmtCount(t.Published), Received: fmtCount(t.Received), Lost: fmtCount(t.Lost),
		Clock: fmtClock(n.ClockOffsetUs, n.ClockUncertaintyUs),
	}
	if n.Lost {
		r.LostNode, r.LostAt, r.Reason = true, fmtSeconds(n.LostAtS), strings.TrimSpace(n.LostReason)
	}
	return r
}

// nodeDetail is the address of a node (when its name is not already the
// address) followed by its device ranges.
func nodeDetail(n *metrics.NodeResult) string {
	var parts []string
	if n.Address != "" && n.Address != n.Name {
		parts = append(parts, n.Address)
	}
	if len(n.Ranges) > 0 {
		parts = append(parts, strings.Join(n.Ranges, " "))
	}
	return strings.Join(parts, " · ")
}

// fmtClock formats a clock offset with its uncertainty: "+1.25ms ±180µs",
// "-340µs ±95µs", "0µs ±0µs".
func fmtClock(offsetUs, uncertaintyUs int64) string {
	sign := ""
	if offsetUs > 0 {
		sign = "+"
	}
	return sign + fmtMicros(float64(offsetUs)) + " ±" + fmtMicros(float64(uncertaintyUs))
}

// fmtSeconds formats seconds since the run start with one decimal: "12.3 s".
func fmtSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', 1, 64) + " s"
}

// lostNodes returns the nodes that were lost during the run.
func lostNodes(res *metrics.Result) []metrics.NodeResult {
	var out []metrics.NodeResult
	for _, n := range res.Nodes {
		if n.Lost {
			out = append(out, n)
		}
	}
	return out
}

// lostNodeWarning says what losing a node means for the numbers, in plain
// text (the name and reason unescaped): "node 10.0.0.7:7946 was lost at
// 12.3 s (heartbeat timeout): deliveries to its 200 devices after the loss
// count as lost".
func lostNodeWarning(n *metrics.NodeResult) string {
	r := makeNodeRow(n)
	at := r.LostAt
	if r.Reason != "" {
		at += " (" + r.Reason + ")"
	}
	w := fmt.Sprintf("node %s was lost at %s: deliveries to its %s after the loss count as lost",
		r.Name, at, plural64(n.Totals.Devices, "device"))
	if n.UnreportedDeliveries > 0 {
		w += fmt.Sprintf("; %s of messages it published after its last report were received elsewhere and counted as expected",
			fmtCount(n.UnreportedDeliveries)+" "+pluralWord(n.UnreportedDeliveries, "delivery", "deliveries"))
	}
	return w
}

// clockBoundLine states how far cross-node latencies can be off because of
// the clocks of the nodes, with how many deliveries crossed nodes.
func clockBoundLine(res *metrics.Result) string {
	t := &res.Totals
	return fmt.Sprintf("cross-node latencies corrected for clock offsets: error bound ±%s (%s cross-node %s, %s of received)",
		fmtMicros(float64(res.ClockBoundUs)), fmtCount(t.CrossNodeReceived), pluralWord(t.CrossNodeReceived, "delivery", "deliveries"),
		ratioText(t.CrossNodeReceived, t.Received))
}

// nodeCountText is the number of nodes with how many were lost: "2",
// "3 (1 lost)"; "—" for a single-node run.
func nodeCountText(res *metrics.Result) string {
	if len(res.Nodes) == 0 {
		return dash
	}
	s := strconv.Itoa(len(res.Nodes))
	if lost := len(lostNodes(res)); lost > 0 {
		s += " (" + strconv.Itoa(lost) + " lost)"
	}
	return s
}

// plural64 is plural for an int64 count with thousands separators.
func plural64(n int64, word string) string {
	return fmtCount(n) + " " + pluralWord(n, word, word+"s")
}

func pluralWord(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
