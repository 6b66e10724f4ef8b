// Unit tests of the fault model: how faults combine, the jitter draws, and
// the size and allocations of the wrapped connection.

package hal

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

func TestFaultEffectCombines(t *testing.T) {
	faults := []*activeFault{
		{sel: nil, f: Fault{Latency: 10 * time.Millisecond, Bandwidth: 100_000}},
		{sel: device(1), f: Fault{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Bandwidth: 50_000}},
		{sel: device(1, 2), f: Fault{Stall: true, Bandwidth: 200_000}},
		{sel: device(3), f: Fault{Refuse: true}},
	}
	for _, tc := range []struct {
		device int
		want   effect
		refuse bool
	}{
		{0, effect{latency: 10 * time.Millisecond, bandwidth: 100_000}, false},
		{1, effect{latency: 30 * time.Millisecond, jitter: 5 * time.Millisecond, bandwidth: 50_000, stall: true}, false},
		{2, effect{latency: 10 * time.Millisecond, bandwidth: 100_000, stall: true}, false},
		{3, effect{latency: 10 * time.Millisecond, bandwidth: 100_000}, true},
	} {
		got, refuse := effectOf(faults, tc.device)
		if got != tc.want || refuse != tc.refuse {
			t.Errorf("device %d: effect %+v refuse %v, want %+v %v", tc.device, got, refuse, tc.want, tc.refuse)
		}
	}
	if _, err := NewInjector(nil, 1).Apply(nil, Fault{Latency: -1}); err == nil {
		t.Error("negative latency accepted")
	}
}

func TestFaultJitterSample(t *testing.T) {
	src := rand.NewPCG(1, 2)
	for _, tc := range []struct{ lat, jit, lo, hi time.Duration }{
		{20 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond},
		{5 * time.Millisecond, 10 * time.Millisecond, 0, 15 * time.Millisecond}, // clamped at 0
	} {
		e := effect{latency: tc.lat, jitter: tc.jit}
		lo, hi, sum, zeros := time.Hour, time.Duration(0), time.Duration(0), 0
		const n = 20000
		for range n {
			d := e.sample(src)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("%v±%v: sample %v outside [%v, %v]", tc.lat, tc.jit, d, tc.lo, tc.hi)
			}
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
			if d == 0 {
				zeros++
			}
		}
		if lo > tc.lo+tc.jit/10 || hi < tc.hi-tc.jit/10 {
			t.Errorf("%v±%v: samples span only [%v, %v]", tc.lat, tc.jit, lo, hi)
		}
		if tc.lo > 0 {
			if mean := sum / n; mean < tc.lat-time.Millisecond || mean > tc.lat+time.Millisecond {
				t.Errorf("%v±%v: mean %v", tc.lat, tc.jit, mean)
			}
		} else if zeros == 0 {
			t.Errorf("%v±%v: never clamped to 0", tc.lat, tc.jit)
		}
	}
}

func TestFaultConnSize(t *testing.T) {
	if got := unsafe.Sizeof(faultConn{}); got != 72 {
		t.Errorf("faultConn is %d bytes; update the documented per-connection cost", got)
	}
	if got := unsafe.Sizeof(faultDialer{}); got != 32 {
		t.Errorf("faultDialer is %d bytes; update the documented per-device cost", got)
	}
	c := &faultConn{Conn: &nopConn{}, in: NewInjector(nil, 1)}
	b := make([]byte, 64)
	if a := testing.AllocsPerRun(100, func() { c.Write(b); c.Read(b) }); a != 0 {
		t.Errorf("fast path allocates %.1f times per Read+Write", a)
	}
}

// TestFaultStateSize keeps the documented cost of fault state true.
func TestFaultStateSize(t *testing.T) {
	if got := unsafe.Sizeof(connState{}); got != 400 {
		t.Errorf("connState is %d bytes; update the documented fault-state cost", got)
	}
}
