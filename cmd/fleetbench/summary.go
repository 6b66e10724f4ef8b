package main

import (
	"fmt"
	"io"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// printSummary prints the end-of-run summary.
func printSummary(w io.Writer, res *metrics.Result) {
	t := res.Totals
	secs := res.EndedAt.Sub(res.StartedAt).Seconds()
	fmt.Fprintf(w, "\n%s — %s\n", res.Scenario.Name, res.EndedAt.Sub(res.StartedAt).Round(time.Millisecond))
	fmt.Fprintf(w, "devices    %d started, %d connects ok, %d failed\n", t.Devices, t.ConnectOK, t.ConnectFailed)
	fmt.Fprintf(w, "messages   published %d (%.0f/s), acked %d, received %d (%.0f/s)\n", t.Published, float64(t.Published)/secs, t.Acked, t.Received, float64(t.Received)/secs)
	fmt.Fprintf(w, "accounting expected %d, lost %d, duplicates %d, reordered %d, foreign %d\n", t.Expected, t.Lost, t.Duplicates, t.Reordered, t.Foreign)
	fmt.Fprintf(w, "%-12s %8s %10s %10s %10s %10s %10s\n", "latency", "count", "p50", "p90", "p99", "p99.9", "max")
	for _, k := range []metrics.Kind{metrics.Connect, metrics.Subscribe, metrics.PublishAck, metrics.E2E} {
		s := res.Latency.Get(k)
		if s == nil || s.Count == 0 {
			continue
		}
		us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
		fmt.Fprintf(w, "%-12s %8d %10v %10v %10v %10v %10v\n", k, s.Count, us(s.P50), us(s.P90), us(s.P99), us(s.P999), us(s.Max))
	}
}
