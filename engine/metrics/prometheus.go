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

// promFamily is a Prometheus metric family of the node-wide counters; each
// counter names its family (and label value) in counterTable.
type promFamily uint8

// The families, in exposition order.
const (
	promConnected promFamily = iota
	promStarted
	promConnects
	promEvents
	promBytes
	numPromFamilies
)

// promFamilies names, types and explains each family; label is the label
// key of its samples ("" for a single unlabelled sample).
var promFamilies = [numPromFamilies]struct{ name, typ, help, label string }{
	promConnected: {"fleetbench_devices_connected", "gauge", "Devices connected now.", ""},
	promStarted:   {"fleetbench_devices_started_total", "counter", "Device actors started.", ""},
	promConnects:  {"fleetbench_connects_total", "counter", "Connect attempts by result (ok, or the failure reason).", "result"},
	promEvents:    {"fleetbench_events_total", "counter", "Connection and message events outside the per-QoS counters.", "event"},
	promBytes:     {"fleetbench_bytes_total", "counter", "Bytes on device connections by direction.", "direction"},
}

// WritePrometheus writes snap in the Prometheus text exposition format
// (version 0.0.4): every node-wide counter in the family counterTable
// gives it (device gauges, connect results by reason, events, bytes by
// direction), message counters by kind and QoS, and whole-run latency
// histograms by kind and QoS, all named fleetbench_….
func WritePrometheus(w io.Writer, snap *Snapshot) error {
	b := bufio.NewWriter(w)
	c := &snap.Counts
	family := func(name, typ, help string) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	for f := range promFamilies {
		fam := &promFamilies[f]
		family(fam.name, fam.typ, fam.help)
		for k := range counterTable {
			d := &counterTable[k]
			if d.prom != promFamily(f) {
				continue
			}
			if fam.label == "" {
				fmt.Fprintf(b, "%s %d\n", fam.name, c.Counter[k])
				continue
			}
			label := d.label
			if label == "" {
				label = d.name
			}
			fmt.Fprintf(b, "%s{%s=%q} %d\n", fam.name, fam.label, label, c.Counter[k])
		}
		if promFamily(f) == promConnects {
			for r := FailReason(0); r < NumFailReasons; r++ {
				fmt.Fprintf(b, "%s{%s=%q} %d\n", fam.name, fam.label, r.String(), c.ConnectFailed[r])
			}
		}
	}

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
