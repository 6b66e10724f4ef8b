package reports

import (
	"fmt"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// addThingRows adds the thing-model and RRPC lines of the connections
// table: posts, matched replies by Alink code, missing replies; RRPC
// calls, answered, timed out, failed.
func addThingRows(tb *table, res *metrics.Result) {
	t := &res.Totals
	if t.ThingPosts > 0 {
		codes := res.ReplyCodes()
		line := fmt.Sprintf("%s posts, %s replies matched, %s missing", fmtCount(t.ThingPosts),
			fmtCount(res.Latency.ThingReply.Count), fmtCount(t.ThingReplyMissing))
		if len(codes) > 0 {
			line += "; reply codes " + reasonList(codes)
		}
		tb.add("  "+"thing model", line)
	}
	if t.RRPCCalls > 0 {
		tb.add("  "+"rrpc", fmt.Sprintf("%s calls, %s answered in time, %s rrpc_timeouts, %s rrpc_failed",
			fmtCount(t.RRPCCalls), fmtCount(res.Latency.RRPC.Count), fmtCount(t.RRPCTimeouts), fmtCount(t.RRPCFailed)))
	}
}
