package scenarios

import (
	"math/bits"
	"time"
)

// TargetAt returns how many devices should be connected elapsed after the
// start of the run.
//
// With stages it ramps linearly, like k6: from 0 (or the previous stage's
// target) to each stage's Target over the stage's Duration; a stage of 0s
// jumps; after the last stage its target holds. The group connect rates
// then act only as caps that the coordinator applies.
//
// Without stages every group ramps at its own connect rate, device k of a
// group being due at k/rate, and then holds: the result is the sum over the
// groups of min(Count, ⌊elapsed·rate⌋).
//
// The result is 0 at elapsed ≤ 0 and never more than Total.
func (s *Scenario) TargetAt(elapsed time.Duration) int {
	if len(s.Stages) == 0 {
		n := 0
		for _, g := range s.Groups {
			n += g.rampTarget(elapsed)
		}
		return n
	}
	return s.stageTarget(elapsed)
}

// GroupTargetsAt splits TargetAt(elapsed) over the groups and stores the
// per-group targets in dst (reallocated if too short; dst[k] is for
// Groups[k]). Devices of a group are started in index order, so group k
// should have devices 0 … dst[k]-1 connected.
//
// Without stages each group follows its own connect rate. With stages the
// fleet target is shared in proportion to the group sizes, interleaving the
// groups evenly; a group's share never decreases while the fleet target
// grows, so a coordinator that tracks these targets never stops a device
// during a ramp-up.
func (s *Scenario) GroupTargetsAt(elapsed time.Duration, dst []int) []int {
	if cap(dst) < len(s.Groups) {
		dst = make([]int, len(s.Groups))
	}
	dst = dst[:len(s.Groups)]
	if len(s.Stages) == 0 {
		for k, g := range s.Groups {
			dst[k] = g.rampTarget(elapsed)
		}
		return dst
	}
	return s.Split(s.stageTarget(elapsed), dst)
}

// rampTarget is the group's target without stages.
func (g *Group) rampTarget(elapsed time.Duration) int {
	if elapsed <= 0 {
		return 0
	}
	r := g.Connect.Rate
	if r.IsZero() {
		return g.Count
	}
	// ⌊elapsed·N/Per⌋ without overflow.
	n := mulDiv(uint64(elapsed), uint64(r.N), uint64(r.Per))
	if n >= uint64(g.Count) {
		return g.Count
	}
	return int(n)
}

func (s *Scenario) stageTarget(elapsed time.Duration) int {
	if elapsed <= 0 {
		return 0
	}
	prev := 0
	var start time.Duration
	for _, st := range s.Stages {
		end := start + st.Duration
		if elapsed < end {
			// prev + (target-prev)·(elapsed-start)/duration, truncated
			// toward prev.
			into := uint64(elapsed - start)
			if st.Target >= prev {
				return prev + int(mulDiv(uint64(st.Target-prev), into, uint64(st.Duration)))
			}
			return prev - int(mulDiv(uint64(prev-st.Target), into, uint64(st.Duration)))
		}
		prev, start = st.Target, end
	}
	return prev
}

// mulDiv returns ⌊a·b/c⌋ for c > 0, saturating at the maximum uint64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// Split shares a fleet-wide target of connected devices among the groups
// in proportion to their sizes, storing the per-group counts in dst
// (reallocated if too short). The counts sum to target (clamped to
// 0 … Total) and each is non-decreasing in target.
//
// The order behind it: device j of a group of c devices has the key
// (j+½)/c, the fraction of its group it completes; the first target
// devices by key (ties go to the earlier group) are the ones counted.
func (s *Scenario) Split(target int, dst []int) []int {
	if cap(dst) < len(s.Groups) {
		dst = make([]int, len(s.Groups))
	}
	dst = dst[:len(s.Groups)]
	target = min(max(target, 0), s.total)
	for k := range dst {
		dst[k] = 0
	}
	if target == 0 {
		return dst
	}
	if target == s.total {
		for k, g := range s.Groups {
			dst[k] = g.Count
		}
		return dst
	}
	for k, g := range s.Groups {
		// The number of devices of group k among the first target is the
		// number j with rank(k, j) ≤ target; ranks grow with j.
		lo, hi := 0, g.Count // answer in [lo, hi]
		for lo < hi {
			mid := (lo + hi + 1) / 2 // try j = mid-1
			if s.rank(k, mid-1) <= target {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		dst[k] = lo
	}
	return dst
}

// rank returns the 1-based position of device j of group k in the
// proportional order used by Split.
func (s *Scenario) rank(k, j int) int {
	gk := s.Groups[k]
	ck := uint64(gk.Count)
	num := uint64(2*j + 1) // key = num / (2·ck)
	r := 0
	for h, gh := range s.Groups {
		ch := uint64(gh.Count)
		// Devices j' of group h with (2j'+1)/ch < num/ck, i.e.
		// (2j'+1)·ck < num·ch: odd numbers below A/B.
		a, b := num*ch, ck
		q := (a + b - 1) / b // ⌈A/B⌉
		less := min((q)/2, ch)
		// Is there a device with exactly the same key? Only odd quotients.
		equal := a%b == 0 && (a/b)%2 == 1 && (a/b-1)/2 < ch
		r += int(less)
		if equal && h <= k {
			r++
		}
	}
	return r
}
