package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWritePrometheus(t *testing.T) {
	r, err := NewRecorder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{50 * time.Microsecond, 2 * time.Millisecond, 2 * time.Millisecond, 3 * time.Second} {
		r.Record(E2E, 1, 0, d)
	}
	r.Record(Connect, 0, 0, time.Millisecond)
	r.IncQoS(Published, 1)
	r.ConnectFailed(ReasonTimeout)
	r.Add(Connected, 7)
	snap := r.Snapshot(true)
	var b bytes.Buffer
	if err := WritePrometheus(&b, &snap); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"fleetbench_devices_connected 7\n",
		`fleetbench_connects_total{result="timeout"} 1` + "\n",
		`fleetbench_messages_total{kind="published",qos="1"} 1` + "\n",
		`fleetbench_latency_seconds_bucket{kind="e2e",qos="1",le="0.0001"} 1` + "\n",
		`fleetbench_latency_seconds_bucket{kind="e2e",qos="1",le="0.0025"} 3` + "\n",
		`fleetbench_latency_seconds_bucket{kind="e2e",qos="1",le="2.5"} 3` + "\n",
		`fleetbench_latency_seconds_bucket{kind="e2e",qos="1",le="5"} 4` + "\n",
		`fleetbench_latency_seconds_bucket{kind="e2e",qos="1",le="+Inf"} 4` + "\n",
		`fleetbench_latency_seconds_count{kind="e2e",qos="1"} 4` + "\n",
		`fleetbench_latency_seconds_count{kind="connect"} 1` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Every sample line is "name{labels} value" or "name value".
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) != 2 || !strings.HasPrefix(f[0], "fleetbench_") {
			t.Errorf("malformed sample line %q", line)
		}
	}
}
