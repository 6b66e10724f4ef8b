// Fault injection, the model: what a Fault is, the errors it causes, the
// counters, and how the faults that select one device combine into its
// effect. The Injector is in fault_injector.go, the wrapped connection in
// fault_conn.go, the delay line of each direction in fault_delay.go, and the
// slow paths of Read and Write with the pump and the sender in fault_io.go.

package hal

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// ErrConnectionCut is the error, wrapped in a *net.OpError, of every Read and
// Write on a connection reset by a Cut fault. errors.Is(err,
// syscall.ECONNRESET) holds too. Its text deliberately avoids "use of closed
// network connection", which paho takes for a close of its own and ignores.
var ErrConnectionCut error = cutError{}

// ErrConnectionRefused is wrapped by Establish while a Refuse fault applies
// to the device; errors.Is(err, syscall.ECONNREFUSED) holds too.
var ErrConnectionRefused error = refusedError{}

type cutError struct{}

func (cutError) Error() string            { return "fleetbench: connection cut by fault injection" }
func (cutError) Is(target error) bool     { return target == syscall.ECONNRESET }
func (refusedError) Error() string        { return "connection refused (fault injection)" }
func (refusedError) Is(target error) bool { return target == syscall.ECONNREFUSED }

type refusedError struct{}

// Fault is what to do to the transports of the selected devices. The zero
// value does nothing.
type Fault struct {
	// Latency is the one-way delay added to each direction.
	Latency time.Duration
	// Jitter spreads the latency of each chunk uniformly over
	// [Latency-Jitter, Latency+Jitter], never below zero. Bytes are never
	// reordered: a chunk waits for the one before it.
	Jitter time.Duration
	// Bandwidth limits each direction of each connection, in bytes per
	// second; 0 means unlimited.
	Bandwidth int64
	// Stall blocks all reads and writes (no byte moves) until the fault is
	// cleared, without closing the connection.
	Stall bool
	// Cut resets the live connections of the selected devices when the fault
	// is applied: their pending and later reads and writes fail with
	// ErrConnectionCut. Connections established later are not affected.
	Cut bool
	// Refuse makes Establish fail at once with ErrConnectionRefused.
	Refuse bool
}

func (f Fault) validate() error {
	if f.Latency < 0 || f.Jitter < 0 || f.Bandwidth < 0 {
		return fmt.Errorf("hal: fault %+v: latency, jitter and bandwidth must not be negative", f)
	}
	return nil
}

// lasting reports whether f changes how live connections move bytes.
func (f Fault) lasting() bool {
	return f.Latency > 0 || f.Jitter > 0 || f.Bandwidth > 0 || f.Stall
}

// FaultID names an applied fault for Clear.
type FaultID uint64

// FaultStats counts what the faults of an Injector did.
type FaultStats struct {
	Active          int           // faults applied and not cleared
	Conns           int           // connections established through the injector and not yet closed by their owner
	ConnsCut        uint64        // connections reset by Cut
	ConnectsRefused uint64        // Establish calls failed by Refuse
	BytesDelayed    uint64        // bytes moved under latency, jitter, bandwidth or stall, both directions
	StallTime       time.Duration // time reads, writes and connects spent blocked by stalls, summed over calls
}

// effect is the combination of the faults that apply to one device.
type effect struct {
	latency, jitter time.Duration
	bandwidth       int64
	stall           bool
}

func (e effect) zero() bool   { return e == effect{} }
func (e effect) delays() bool { return e.latency > 0 || e.jitter > 0 }

// sample draws one delay: latency ± jitter, never negative.
func (e effect) sample(src *rand.PCG) time.Duration {
	d := e.latency
	if e.jitter > 0 {
		d += time.Duration(src.Uint64()%uint64(2*e.jitter+1)) - e.jitter
	}
	return max(d, 0)
}

type activeFault struct {
	id  FaultID
	sel func(device int) bool
	f   Fault
}

func (a *activeFault) matches(device int) bool { return a.sel == nil || a.sel(device) }

// effectOf combines the faults that select device.
func effectOf(faults []*activeFault, device int) (e effect, refuse bool) {
	for _, a := range faults {
		if !a.matches(device) {
			continue
		}
		e.latency += a.f.Latency
		e.jitter += a.f.Jitter
		if bw := a.f.Bandwidth; bw > 0 && (e.bandwidth == 0 || bw < e.bandwidth) {
			e.bandwidth = bw
		}
		e.stall = e.stall || a.f.Stall
		refuse = refuse || a.f.Refuse
	}
	return e, refuse
}
