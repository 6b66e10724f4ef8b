// Fault injection, the control side: the Injector (Apply, Clear, Stats),
// the registry of live connections its faults reach, and the per-device
// Dialer that refuses, stalls or delays a connect and wraps what it returns.

package hal

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// faultSet is an immutable snapshot of the active faults; changed is closed
// when it is replaced.
type faultSet struct {
	faults  []*activeFault
	changed chan struct{}
}

// Injector applies faults to the transports of selected devices: it wraps
// the dialer of every device (Dialer), and Apply starts a fault on the
// devices a selector picks until Clear ends it. Create it with NewInjector;
// it is safe for concurrent use. Selectors passed to Apply are called with
// the injector's lock held and from dialing goroutines: they must be fast,
// deterministic, safe for concurrent use, and must not call the Injector.
//
// The delay model, per direction of each connection:
//
//   - Writes under Latency/Jitter go into a delay line: Write copies the bytes
//     into a queue stamped with a release time (now + latency ± jitter, never
//     earlier than the previous release, so bytes keep their order) and
//     returns at once; a sender goroutine, alive only while the queue holds
//     bytes, writes them at their release time. Writers block only when
//     256 KiB are in flight, as on a full socket buffer. paho's writer
//     goroutine therefore keeps its pace and throughput is that of the link,
//     not one message per latency.
//   - Reads under Latency/Jitter are fed by a pump goroutine that drains the
//     socket, stamps every chunk with its arrival time and queues it for
//     arrival + latency ± jitter; Read returns queued bytes once released.
//     Stamping at arrival matters: paho reads a packet in three or more small
//     Reads, and delaying each Read would multiply the latency.
//   - Bandwidth is a token bucket per direction (bytes/s, 20 ms burst,
//     late timer wake-ups credited so the long-run rate stays exact),
//     applied where bytes leave the queue, or by blocking the caller in
//     Read/Write when no delay line is in use.
//   - Stall blocks Read and Write (and the sender and pump) until the stall is
//     cleared; bytes read from the socket while a stall began are held back.
//     Deadlines still apply: a stalled Read or Write fails with a timeout at
//     its deadline, and no byte is lost.
//
// Latency is one-way and is added in both directions, so a request/response
// round trip grows by twice the latency (as netem on both ends would do).
// Establish is delayed by one round trip under latency, waits out a stall
// (or the context), and fails at once under Refuse. Faults act on the
// transport the device sees: a TLS handshake done inside the wrapped dialer
// is not delayed.
//
// Cut resets the live connections of the selected devices when it is
// applied: the socket is closed with SO_LINGER 0 (the broker sees a reset),
// and every pending and later Read and Write fails with ErrConnectionCut.
// Cut has no lasting effect: combine it with Refuse to keep devices away.
//
// Faults combine: latencies and jitters add up, the lowest bandwidth wins,
// Stall and Refuse apply if any fault sets them.
//
// Cost: a wrapped connection is a 72-byte struct (80-byte size class)
// holding the underlying conn, the injector, the device, an atomic pointer to
// fault state (nil until a fault touches the connection), two intrusive list
// links (the registry Apply walks, so no map entry per connection) and two
// atomically stored deadlines; the dialer wrapper is 32 bytes per device.
// With no fault active, Write costs one atomic load and Read two (before the
// read, and after it to catch a fault that began while it was blocked), one
// more each once a fault has come and gone; no goroutine, no allocation.
// Fault state (400 bytes, 416-byte size class: the shared part and one
// direction each for reads and writes) is allocated the first time a fault
// applies to a connection and kept until it closes; while a delay line is in
// use it adds the queued bytes (at most 256 KiB per direction), a pump
// goroutine with a 4 KiB buffer for reads and a sender goroutine while
// writes are queued.
type Injector struct {
	clock Clock
	snap  atomic.Pointer[faultSet] // nil or empty: no fault, Establish goes straight through

	mu     sync.Mutex
	faults []*activeFault // copy-on-write, published in snap
	lastID FaultID
	conns  faultConn // sentinel of the circular list of live connections
	nconns int
	rng    rand.PCG // seeds per-connection generators; Establish delays

	cut, refused, delayed atomic.Uint64
	stalled               atomic.Int64
}

// NewInjector returns an injector with no active fault. clock stamps
// arrivals and release times (nil means the system clock); waits use runtime
// timers, so outside unit tests it should be the system clock. seed makes the
// jitter draws reproducible for a given order of connections.
func NewInjector(clock Clock, seed uint64) *Injector {
	if clock == nil {
		clock = NewSystemClock()
	}
	in := &Injector{clock: clock}
	in.rng.Seed(seed, seed^0x9e3779b97f4a7c15)
	in.conns.next, in.conns.prev = &in.conns, &in.conns
	return in
}

func (in *Injector) now() time.Time { return in.clock.Now() }

// Dialer wraps next for one device (its global index, the value selectors
// see). Every connection it establishes is subject to the faults that select
// the device. A wrapper per device (32 bytes, made once) is cheaper than
// carrying the device in the context, which would allocate on every dial and
// need the caller to build the context; the engine's dial path uses a fresh
// background context.
func (in *Injector) Dialer(next Dialer, device int) Dialer {
	return &faultDialer{in: in, next: next, device: device}
}

// Apply starts fault f on the devices for which sel returns true (nil selects
// every device) and returns its id for Clear. It takes effect at once on live
// connections, including reads and writes already blocked; a Cut resets the
// selected live connections before Apply returns.
func (in *Injector) Apply(sel func(device int) bool, f Fault) (FaultID, error) {
	if err := f.validate(); err != nil {
		return 0, err
	}
	in.mu.Lock()
	in.lastID++
	a := &activeFault{id: in.lastID, sel: sel, f: f}
	in.publishLocked(append(slices.Clone(in.faults), a))
	var cut []*connState
	if f.Cut || f.lasting() {
		for c := in.conns.next; c != &in.conns; c = c.next {
			if !a.matches(c.device) {
				continue
			}
			if f.lasting() {
				in.refreshLocked(c)
			}
			if f.Cut {
				cut = append(cut, in.stateLocked(c))
			}
		}
	}
	in.mu.Unlock()
	for _, st := range cut {
		if st.cutNow() {
			in.cut.Add(1)
		}
	}
	return a.id, nil
}

// Clear ends the fault id: stalled reads and writes resume, delays and limits
// stop applying (bytes already in a delay line keep their release time). It
// reports whether id was active.
func (in *Injector) Clear(id FaultID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	i := slices.IndexFunc(in.faults, func(a *activeFault) bool { return a.id == id })
	if i < 0 {
		return false
	}
	a := in.faults[i]
	in.publishLocked(slices.Delete(slices.Clone(in.faults), i, i+1))
	if a.f.lasting() {
		for c := in.conns.next; c != &in.conns; c = c.next {
			if a.matches(c.device) {
				in.refreshLocked(c)
			}
		}
	}
	return true
}

// ClearAll ends every active fault.
func (in *Injector) ClearAll() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.publishLocked(nil)
	for c := in.conns.next; c != &in.conns; c = c.next {
		if c.st.Load() != nil {
			in.refreshLocked(c)
		}
	}
}

// Stats returns the counters of the injector.
func (in *Injector) Stats() FaultStats {
	in.mu.Lock()
	active, conns := len(in.faults), in.nconns
	in.mu.Unlock()
	return FaultStats{
		Active:          active,
		Conns:           conns,
		ConnsCut:        in.cut.Load(),
		ConnectsRefused: in.refused.Load(),
		BytesDelayed:    in.delayed.Load(),
		StallTime:       time.Duration(in.stalled.Load()),
	}
}

func (in *Injector) publishLocked(faults []*activeFault) {
	in.faults = faults
	old := in.snap.Swap(&faultSet{faults: faults, changed: make(chan struct{})})
	if old != nil {
		close(old.changed)
	}
}

// stateLocked returns the fault state of c, creating it. Fault state is
// created only under in.mu and only while c is registered, so Close, which
// unregisters first, sees the final value.
func (in *Injector) stateLocked(c *faultConn) *connState {
	if st := c.st.Load(); st != nil {
		return st
	}
	st := &connState{c: c}
	st.pcg.Seed(in.rng.Uint64(), in.rng.Uint64())
	st.quiet.Store(true)
	c.st.Store(st)
	return st
}

// refreshLocked recomputes the effect on c after the faults changed.
func (in *Injector) refreshLocked(c *faultConn) {
	e, _ := effectOf(in.faults, c.device)
	if e.zero() && c.st.Load() == nil {
		return
	}
	in.stateLocked(c).setEffect(e)
}

func (in *Injector) register(c *faultConn) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c.prev, c.next = in.conns.prev, &in.conns
	c.prev.next, in.conns.prev = c, c
	in.nconns++
	if len(in.faults) > 0 {
		in.refreshLocked(c)
	}
}

func (in *Injector) unregister(c *faultConn) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if c.next == nil {
		return
	}
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
	in.nconns--
}

// faultDialer is the Dialer of one device.
type faultDialer struct {
	in     *Injector
	next   Dialer
	device int
}

// Establish implements Dialer: it applies Refuse, Stall and Latency to the
// connection attempt, then wraps the connection next establishes.
func (d *faultDialer) Establish(ctx context.Context, ep Endpoint) (net.Conn, error) {
	in := d.in
	for fs := in.snap.Load(); fs != nil && len(fs.faults) > 0; fs = in.snap.Load() {
		e, refuse := effectOf(fs.faults, d.device)
		if refuse {
			in.refused.Add(1)
			return nil, fmt.Errorf("hal: connect %s: %w", ep, ErrConnectionRefused)
		}
		if e.stall {
			t0 := time.Now()
			select {
			case <-fs.changed:
				in.stalled.Add(int64(time.Since(t0)))
				continue
			case <-ctx.Done():
				in.stalled.Add(int64(time.Since(t0)))
				return nil, fmt.Errorf("hal: connect %s: stalled by fault injection: %w", ep, ctx.Err())
			}
		}
		if e.delays() {
			in.mu.Lock()
			rtt := e.sample(&in.rng) + e.sample(&in.rng)
			in.mu.Unlock()
			t := time.NewTimer(rtt)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("hal: connect %s: %w", ep, ctx.Err())
			}
		}
		break
	}
	conn, err := d.next.Establish(ctx, ep)
	if err != nil {
		return nil, err
	}
	c := &faultConn{Conn: conn, in: in, device: d.device}
	in.register(c)
	return c, nil
}
