// Tests of the token bucket on simulated time.

package hal

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestFaultBucketRate runs the token bucket on simulated time, with timers
// on time and timers up to 150 ms late.
func TestFaultBucketRate(t *testing.T) {
	src := rand.New(rand.NewPCG(3, 4))
	for _, late := range []time.Duration{0, 150 * time.Millisecond} {
		for _, rate := range []int64{100, 1000, 50_000, 10 << 20} {
			var b bucket
			now := time.Unix(0, 0)
			b.setRate(rate, now)
			moved := 0
			end := now.Add(10 * time.Second)
			for now.Before(end) {
				if d := b.delay(now); d > 0 {
					now = now.Add(d + time.Duration(src.Int64N(int64(late)+1)))
					continue
				}
				p := b.piece(1 << 20)
				b.take(p, now)
				moved += p
			}
			want := float64(rate) * 10
			if got := float64(moved); got < want*0.99 || got > want*1.01+float64(2*burstOf(rate)) {
				t.Errorf("rate %d, timers up to %v late: moved %d bytes in 10 s, want ≈ %.0f", rate, late, moved, want)
			}
		}
	}
	// Idle time earns one burst at most.
	var b bucket
	now := time.Unix(0, 0)
	b.setRate(50_000, now)
	b.take(100_000, now) // a big debt, repaid while idle
	now = now.Add(time.Minute)
	if d := b.delay(now); d != 0 || b.tokens > float64(burstOf(50_000)) {
		t.Errorf("after a minute idle: delay %v, %.0f tokens, want at most one burst (%d)", d, b.tokens, burstOf(50_000))
	}
}
