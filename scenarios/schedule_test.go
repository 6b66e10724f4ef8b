package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// scheduleScenario is a scenario at the bounds of the schedule: the given
// duration, churn every 10 ms (the shortest period), 100 fault windows
// and 1,000 stages spread over the run, and 10,000 devices in 4 groups.
func scheduleScenario(t *testing.T, duration time.Duration) *Scenario {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: schedule\nduration: %s\ndevices:\n", duration)
	for g := range 4 {
		fmt.Fprintf(&b, "  - {name: g%d, count: 2500, device_name: 'g%d-${index}', publish: [{topic: 'p/${index}', interval: 10s}]}\n", g, g)
	}
	b.WriteString("churn:\n  - {fraction: 0.01, every: 10ms, down: 1ms}\n  - {group: g1, fraction: 0.5, every: 1h, down: 1m, start: 1s}\nfaults:\n")
	step := duration / MaxFaults
	for k := range MaxFaults {
		fmt.Fprintf(&b, "  - {at: %s, for: %s, latency: 1ms}\n", time.Duration(k)*step, step/2)
	}
	b.WriteString("stages:\n")
	for k := range MaxStages {
		fmt.Fprintf(&b, "  - {duration: %s, target: %d}\n", duration/MaxStages, (k*7919)%10001)
	}
	s, err := Parse("schedule.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// walkSchedule does what a run asks of the scenario over its whole
// duration, the way the coordinator does: the ramp's targets on a sample
// of ticks, each churn entry's cycles armed one at a time (the first few
// and the last ones), the fault windows, and every device's plan.
func walkSchedule(t *testing.T, s *Scenario) {
	var dst []int
	const ticks = 2000
	for k := range ticks + 1 {
		at := time.Duration(k) * (s.Duration / ticks)
		dst = s.GroupTargetsAt(at, dst)
		if n := s.TargetAt(at); n < 0 || n > s.Total() {
			t.Fatalf("TargetAt(%s) = %d", at, n)
		}
	}
	for k := range s.Churn {
		c := &s.Churn[k]
		n := c.Cycles(s.Duration)
		if n <= 0 || c.CycleStart(n-1) >= s.Duration || c.CycleStart(n) < s.Duration {
			t.Fatalf("churn %d: %d cycles, the last at %s of %s", k, n, c.CycleStart(n-1), s.Duration)
		}
		for _, cycle := range []int{0, 1, 2, n / 2, n - 2, n - 1} {
			_ = c.CycleStart(cycle)
			for i := 0; i < s.Total(); i += 97 {
				_ = s.InChurn(k, cycle, i)
			}
		}
	}
	for k := range s.Faults {
		_ = s.Faults[k].End()
		for i := 0; i < s.Total(); i += 97 {
			_ = s.InFault(k, i)
		}
	}
	n := 0
	for range s.Devices() {
		n++
	}
	if n != s.Total() {
		t.Fatalf("%d plans of %d devices", n, s.Total())
	}
}

// TestScheduleDoesNotScaleWithDuration: a 720 h run with churn every 10 ms
// (259,200,000 cycles), 100 fault windows and 1,000 stages is planned and
// walked within 50 MB of heap and 2 s, and allocates no more than a 1 h
// run of the same shape: nothing per tick or per cycle is built up front.
func TestScheduleDoesNotScaleWithDuration(t *testing.T) {
	var allocs [2]uint64
	for i, duration := range []time.Duration{time.Hour, MaxDuration} {
		var s *Scenario
		el, total, peak := measure(func() {
			s = scheduleScenario(t, duration)
			walkSchedule(t, s)
		})
		t.Logf("duration %s: %d churn cycles, %v, %.1f MB allocated, peak heap +%.1f MB",
			duration, s.Churn[0].Cycles(s.Duration), el.Round(time.Millisecond), float64(total)/mib, float64(peak)/mib)
		if peak > 50*mib || el > 2*time.Second {
			t.Errorf("duration %s: peak heap +%.1f MB (limit 50 MB), %v (limit 2s)", duration, float64(peak)/mib, el)
		}
		allocs[i] = total
	}
	// The same shape, 720 times as long: the allocations may differ by
	// the length of the numbers in the text, not by the duration.
	if allocs[1] > allocs[0]+allocs[0]/4+mib {
		t.Errorf("720h allocates %.1f MB, 1h %.1f MB: something grows with the duration",
			float64(allocs[1])/mib, float64(allocs[0])/mib)
	}
}
