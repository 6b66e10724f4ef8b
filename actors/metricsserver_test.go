package actors

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMetricsEndpointDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	addr := closedAddr(t)
	sc := selfRoundTrip(t, "", 10, 40, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), sc, Options{MetricsAddr: addr, Memory: true})
		done <- err
	}()
	var body string
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return strings.Contains(body, "fleetbench_devices_connected 10\n") && strings.Contains(body, `fleetbench_latency_seconds_count{kind="e2e",qos="1"}`)
	}, "10 connected devices and e2e latencies at /metrics")
	if !strings.Contains(body, "fleetbench_devices_connected 10\n") {
		t.Fatalf("no live device gauge at /metrics:\n%s", body)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, `fleetbench_messages_total{kind="published",qos="1"} `); ok {
			if n, _ := strconv.Atoi(v); n == 0 {
				t.Fatalf("published counter is 0 mid-run")
			}
		}
		// Bytes are counted as they cross the transport, not when a
		// device disconnects: 10 connected devices have written CONNECTs.
		for _, dir := range []string{"out", "in"} {
			if v, ok := strings.CutPrefix(line, `fleetbench_bytes_total{direction="`+dir+`"} `); ok {
				if n, _ := strconv.Atoi(v); n == 0 {
					t.Fatalf("bytes %s counter is 0 mid-run with 10 devices connected", dir)
				}
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("metrics endpoint still up after the run")
	}
}
