package scenarios

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestTargetAtStages(t *testing.T) {
	s := mustParse(t, `stages:
  - {duration: 10s, target: 100}
  - {duration: 20s, target: 100}
  - {duration: 0s, target: 150}
  - {duration: 10s, target: 50}
devices: [{name: g, count: 150}]
`)
	if s.Duration != 40*time.Second {
		t.Errorf("Duration = %s, want the stages' 40s", s.Duration)
	}
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{
		{-time.Second, 0}, {0, 0}, {time.Second, 10}, {5500 * time.Millisecond, 55}, {10 * time.Second, 100},
		{29 * time.Second, 100}, {30 * time.Second, 150}, {35 * time.Second, 100}, {40 * time.Second, 50},
		{time.Hour, 50},
	} {
		if got := s.TargetAt(tt.at); got != tt.want {
			t.Errorf("TargetAt(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestTargetAtRates(t *testing.T) {
	s := mustParse(t, `duration: 1m
devices:
  - {name: a, count: 100, connect: {rate: 50/s}}
  - {name: b, count: 10, connect: {rate: 30/m}}
`)
	for _, tt := range []struct {
		at   time.Duration
		want []int
	}{
		{0, []int{0, 0}},
		{time.Second, []int{50, 0}},
		{2 * time.Second, []int{100, 1}},
		{10 * time.Second, []int{100, 5}},
		{time.Hour, []int{100, 10}},
	} {
		got := s.GroupTargetsAt(tt.at, nil)
		if !slices.Equal(got, tt.want) || s.TargetAt(tt.at) != tt.want[0]+tt.want[1] {
			t.Errorf("at %s: %v (total %d), want %v", tt.at, got, s.TargetAt(tt.at), tt.want)
		}
	}
}

func TestGroupTargetsWithStages(t *testing.T) {
	s := mustParse(t, `stages: [{duration: 10s, target: 110}]
devices:
  - {name: a, count: 100}
  - {name: b, count: 10, device_name: "b-${index}"}
`)
	got := s.GroupTargetsAt(5*time.Second, make([]int, 0, 2))
	if !slices.Equal(got, []int{50, 5}) {
		t.Errorf("half-way: %v, want [50 5]", got)
	}
}

// TestSplit compares Split with a brute-force sort of the proportional
// order and checks its promises: sums, bounds and monotonicity.
func TestSplit(t *testing.T) {
	for _, counts := range [][]int{{1}, {3, 1}, {1, 1, 1}, {7, 3, 5}, {100, 1}, {2, 4, 8, 16}, {13, 7, 7, 1, 30}} {
		s := &Scenario{}
		for _, c := range counts {
			s.Groups = append(s.Groups, &Group{Count: c, First: s.total})
			s.total += c
		}
		type dev struct{ g, j int }
		var order []dev
		for g, c := range counts {
			for j := range c {
				order = append(order, dev{g, j})
			}
		}
		sort.SliceStable(order, func(a, b int) bool {
			x, y := order[a], order[b]
			// (2j+1)/(2c) compared exactly.
			l := (2*x.j + 1) * counts[y.g]
			r := (2*y.j + 1) * counts[x.g]
			if l != r {
				return l < r
			}
			return x.g < y.g
		})
		prev := make([]int, len(counts))
		want := make([]int, len(counts))
		for target := 0; target <= s.total; target++ {
			if target > 0 {
				want[order[target-1].g]++
			}
			got := s.Split(target, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("counts %v target %d: Split = %v, want %v", counts, target, got, want)
			}
			for k := range got {
				if got[k] < prev[k] {
					t.Fatalf("counts %v: group %d went down at target %d", counts, k, target)
				}
			}
			copy(prev, got)
		}
		if got := s.Split(s.total+5, nil); !slices.Equal(got, counts) {
			t.Errorf("Split above total = %v", got)
		}
	}
}

func TestSplitLarge(t *testing.T) {
	s := &Scenario{}
	for _, c := range []int{10_000_000, 3, 2_500_000} {
		s.Groups = append(s.Groups, &Group{Count: c, First: s.total})
		s.total += c
	}
	for _, target := range []int{1, 2, 6_250_001, 12_499_999} {
		got := s.Split(target, nil)
		if sum := got[0] + got[1] + got[2]; sum != target {
			t.Errorf("Split(%d) = %v sums to %d", target, got, sum)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]string{
		"500/s": "500/s", "30/m": "30/m", "2/h": "2/h", "1/10s": "1/10s", " 5 / sec ": "5/s",
	} {
		r, err := ParseRate(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
	r, _ := ParseRate("1/10s")
	if r.Interval() != 10*time.Second || r.PerSecond() != 0.1 {
		t.Errorf("1/10s: interval %s, %g/s", r.Interval(), r.PerSecond())
	}
	for _, in := range []string{"0/s", "-1/s", "0.5/s", "5", "5/x", "5/-1s", "/s", "a/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
	if (Rate{}).String() != "0" || !(Rate{}).IsZero() || (Rate{}).Interval() != 0 {
		t.Error("zero Rate")
	}
}

func ExampleScenario_TargetAt() {
	s, err := Parse("ramp.yaml", []byte(`
stages:
  - {duration: 10s, target: 1000}   # ramp up
  - {duration: 1m, target: 1000}    # hold
  - {duration: 10s, target: 0}      # ramp down
devices: [{name: sensors, count: 1000}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, at := range []time.Duration{0, 2 * time.Second, 30 * time.Second, 75 * time.Second} {
		fmt.Printf("%s: %d\n", at, s.TargetAt(at))
	}
	// Output:
	// 0s: 0
	// 2s: 200
	// 30s: 1000
	// 1m15s: 500
}
