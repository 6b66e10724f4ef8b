package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	show, _ := progressPrinter(&b)
	for s := 1; s <= 25; s++ {
		show(actors.Progress{Phase: actors.PhaseRamp, Elapsed: time.Duration(s) * time.Second, Total: time.Minute})
	}
	out := b.String()
	if strings.Contains(out, "\r") || strings.Count(out, "\n") != 3 {
		t.Fatalf("want 3 plain lines (at 1 s, 11 s, 21 s), got:\n%q", out)
	}
}

// A status line fits the terminal: the bar shrinks, then goes, then the
// line is cut, never wider than the width less one column.
func TestFitProgress(t *testing.T) {
	p := actors.Progress{
		Phase: actors.PhaseRamp, Elapsed: 90 * time.Second, Total: 3 * time.Minute, Target: 1000, Fleet: 1000,
		Point: metrics.SeriesPoint{Connected: 998, PublishRate: 99.6, ReceiveRate: 98.4, E2EP99Us: 4200, Received: 98},
	}
	full := progressLine(p)
	if got := fitProgress(p, 200); got != full {
		t.Errorf("200 columns: %q, want the whole line %q", got, full)
	}
	for _, width := range []int{100, 80, 60, 40, 2, 1} {
		got := fitProgress(p, width)
		if n := utf8.RuneCountInString(got); n > max(width-1, 0) {
			t.Errorf("%d columns: %d wide: %q", width, n, got)
		}
		if width == 80 && (!strings.Contains(got, "errors 0") || strings.Contains(got, "█")) {
			t.Errorf("80 columns: want the line whole without its bar, got %q", got)
		}
	}
}

// In a log, each line carries the worst p99 of the seconds since the
// previous line (not the last second's) and the p99 of the run so far.
func TestProgressPlainWorstP99(t *testing.T) {
	var b bytes.Buffer
	show, _ := progressPrinter(&b)
	total := metrics.NewHistogram()
	for s := 1; s <= 21; s++ {
		p99 := int64(2600)
		if s == 18 {
			p99 = 294000 // a spike between two lines
		}
		for range 100 {
			total.Record(2000)
		}
		total.Record(p99)
		var snap metrics.Snapshot
		if err := snap.Total.Set(metrics.E2E, 1, total.Clone()); err != nil {
			t.Fatal(err)
		}
		show(actors.Progress{Phase: actors.PhaseRamp, Elapsed: time.Duration(s) * time.Second, Total: time.Minute,
			Point: metrics.SeriesPoint{Received: 100, E2EP99Us: p99}, Snapshot: &snap})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %q", lines)
	}
	if !strings.Contains(lines[1], "e2e p99 2.6ms (worst 1s of 10s)") {
		t.Errorf("line at 11 s: %q", lines[1])
	}
	if !strings.Contains(lines[2], "e2e p99 294ms (worst 1s of 10s), run 2ms") {
		t.Errorf("line at 21 s does not carry the 294 ms at 18 s: %q", lines[2])
	}
}
