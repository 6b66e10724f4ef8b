package metrics

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// promBucketsUs are the upper bounds (µs) of the exported latency histogram
// buckets, from 100 µs to 30 s.
var promBucketsUs = [...]int64{
	100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
	100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
}

// WritePrometheus writes snap in the Prometheus text exposition format
// (version 0.0.4): device gauges, connect results by reason, message
// counters by direction and QoS, and whole-run latency histograms by kind
// and QoS, all named fleetbench_….
func WritePrometheus(w io.Writer, snap *Snapshot) error {
	b := bufio.NewWriter(w)
	c := &snap.Counts
	family := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("fleetbench_devices_connected", "gauge", "Devices connected now.")
	fmt.Fprintf(b, "fleetbench_devices_connected %d\n", c.Get(Connected))
	family("fleetbench_devices_started_total", "counter", "Device actors started.")
	fmt.Fprintf(b, "fleetbench_devices_started_total %d\n", c.Get(DevicesStarted))

	family("fleetbench_connects_total", "counter", "Connect attempts by result (ok, or the failure reason).")
	fmt.Fprintf(b, "fleetbench_connects_total{result=\"ok\"} %d\n", c.Get(ConnectOK))
	for r := FailReason(0); r < NumFailReasons; r++ {
		fmt.Fprintf(b, "fleetbench_connects_total{result=%q} %d\n", r.String(), c.ConnectFailed[r])
	}
	family("fleetbench_events_total", "counter", "Connection and message events outside the per-QoS counters.")
	for _, k := range []Counter{Disconnects, Reconnects, SubscribeOK, SubscribeFailed, Foreign, Lagged, PublishErrors} {
		fmt.Fprintf(b, "fleetbench_events_total{event=%q} %d\n", k.String(), c.Get(k))
	}
	family("fleetbench_bytes_total", "counter", "Bytes on device connections by direction.")
	fmt.Fprintf(b, "fleetbench_bytes_total{direction=\"out\"} %d\nfleetbench_bytes_total{direction=\"in\"} %d\n", c.Get(BytesOut), c.Get(BytesIn))

	family("fleetbench_messages_total", "counter", "Messages by kind (published, acked, expected, received, lost, duplicates, reordered) and QoS.")
	for k := QoSCounter(0); k < NumQoSCounters; k++ {
		for q := 0; q < NumQoS; q++ {
			fmt.Fprintf(b, "fleetbench_messages_total{kind=%q,qos=\"%d\"} %d\n", k.String(), q, c.GetQoS(k, q))
		}
	}

	family("fleetbench_latency_seconds", "histogram", "Whole-run latency by kind and QoS (connect has no QoS).")
	for k := Connect; k < NumKinds; k++ {
		for q := 0; q < NumQoS; q++ {
			if k == Connect && q > 0 {
				break
			}
			h := snap.Total.Get(k, q)
			if h.Count() == 0 {
				continue
			}
			labels := fmt.Sprintf("kind=%q", k.String())
			if k.PerQoS() {
				labels += fmt.Sprintf(",qos=\"%d\"", q)
			}
			writePromHistogram(b, "fleetbench_latency_seconds", labels, h)
		}
	}
	return b.Flush()
}

func writePromHistogram(b *bufio.Writer, name, labels string, h *Histogram) {
	var counts [len(promBucketsUs)]int64
	var sum float64
	h.ForEachBucket(func(v, n int64) bool {
		sum += float64(v) * float64(n)
		for i, le := range promBucketsUs {
			if v <= le {
				counts[i] += n
				break
			}
		}
		return true
	})
	var cum int64
	for i, le := range promBucketsUs {
		cum += counts[i]
		fmt.Fprintf(b, "%s_bucket{%s,le=%q} %d\n", name, labels, strconv.FormatFloat(float64(le)/1e6, 'g', -1, 64), cum)
	}
	fmt.Fprintf(b, "%s_bucket{%s,le=\"+Inf\"} %d\n", name, labels, h.Count())
	fmt.Fprintf(b, "%s_sum{%s} %g\n%s_count{%s} %d\n", name, labels, sum/1e6, name, labels, h.Count())
}
