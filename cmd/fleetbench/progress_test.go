package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestProgressLine(t *testing.T) {
	p := actors.Progress{
		Phase: actors.PhaseRamp, Elapsed: 90 * time.Second, Total: 3 * time.Minute, Stage: 2, Target: 1000, Fleet: 1000,
		Point:  metrics.SeriesPoint{Connected: 998, PublishRate: 99.6, ReceiveRate: 98.4, E2EP99Us: 4200, Received: 98},
		Totals: metrics.Totals{ConnectFailed: 2, PublishErrors: 1},
	}
	line := progressLine(p)
	for _, want := range []string{"running", "██████████░░░░░░░░░░", "1m30s/3m0s", "stage 2", "devices 998/1000", "pub 100/s", "recv 98/s", "e2e p99 4.2ms", "errors 3"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
}

// The device count is against the fleet, with the ramp's target apart;
// an interval without deliveries has no p99; the clock stops at the
// planned duration and the drain counts on.
func TestProgressLineHonest(t *testing.T) {
	cases := []struct {
		name      string
		p         actors.Progress
		want, not []string
	}{
		{"ramping", actors.Progress{Phase: actors.PhaseRamp, Elapsed: 3 * time.Second, Total: 20 * time.Second, Target: 150, Fleet: 500,
			Point: metrics.SeriesPoint{Connected: 150}},
			[]string{"devices 150/500 (ramp 150)", "e2e p99 –"}, []string{"150/150", "e2e p99 0s"}},
		{"draining", actors.Progress{Phase: actors.PhaseDrain, Elapsed: 24 * time.Second, Total: 20 * time.Second, Target: 500, Fleet: 500,
			Point: metrics.SeriesPoint{Connected: 500, Received: 3, E2EP99Us: 1500}},
			[]string{"20s/20s +4s", "devices 500/500", "e2e p99 1.5ms"}, []string{"24s/20s", "ramp"}},
	}
	for _, tc := range cases {
		line := progressLine(tc.p)
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %q lacks %q", tc.name, line, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(line, w) {
				t.Errorf("%s: %q has %q", tc.name, line, w)
			}
		}
	}
}

// Not a terminal (CI logs): one plain line every 10 s, no carriage returns.
func TestProgressPlainEvery10s(t *testing.T) {
	var b bytes.Buffer
	show := progressPrinter(&b)
	for s := 1; s <= 25; s++ {
		show(actors.Progress{Phase: actors.PhaseRamp, Elapsed: time.Duration(s) * time.Second, Total: time.Minute})
	}
	out := b.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 3 {
		t.Fatalf("want 3 plain lines (at 1 s, 11 s, 21 s), got:\n%q", out)
	}
}
