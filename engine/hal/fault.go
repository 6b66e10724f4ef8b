package hal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Tuning of the delay lines.
const (
	lineCap     = 256 << 10       // bytes queued per direction before writers (or the pump) block
	pumpBuf     = 4 << 10         // read size of the pump
	closeLinger = 2 * time.Second // how long Close lets the delay line flush
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
// Fault state (376 bytes) is allocated the first time a fault applies to a
// connection and kept until it closes; while a delay line is in use it adds
// the queued bytes (at most 256 KiB per direction), a pump goroutine with a
// 4 KiB buffer for reads and a sender goroutine while writes are queued.
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

// faultConn is a transport under fault injection. Its fast path, taken while
// st is nil or quiet, forwards to the underlying connection.
type faultConn struct {
	net.Conn
	in         *Injector
	device     int
	st         atomic.Pointer[connState]
	prev, next *faultConn   // in.conns; nil once closed
	readDL     atomic.Int64 // the owner's deadlines, UnixNano, 0 = none
	writeDL    atomic.Int64
}

// Read implements net.Conn.
func (c *faultConn) Read(b []byte) (int, error) {
	if st := c.st.Load(); st != nil && !st.quiet.Load() {
		return st.read(b)
	}
	n, err := c.Conn.Read(b)
	if st := c.st.Load(); st != nil && !st.quiet.Load() {
		// A fault began (or a cut or close came) while the read was blocked.
		return st.afterRead(b, n, err, c.in.now())
	}
	return n, err
}

// Write implements net.Conn.
func (c *faultConn) Write(b []byte) (int, error) {
	if st := c.st.Load(); st != nil && !st.quiet.Load() {
		return st.write(b)
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		if st := c.st.Load(); st != nil && st.cut.Load() {
			err = c.opErr("write", ErrConnectionCut)
		}
	}
	return n, err
}

// Close implements net.Conn. Bytes still in a write delay line are delivered
// on schedule for up to closeLinger (unless stalled), as the kernel would
// after close(2); reads fail at once.
func (c *faultConn) Close() error {
	c.in.unregister(c)
	if st := c.st.Load(); st != nil {
		return st.close()
	}
	return c.Conn.Close()
}

// SetDeadline implements net.Conn.
func (c *faultConn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline implements net.Conn. The deadline bounds the waits of
// fault injection too.
func (c *faultConn) SetReadDeadline(t time.Time) error {
	c.readDL.Store(unixNano(t))
	if st := c.st.Load(); st != nil {
		return st.setReadDeadline(t)
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn. The deadline bounds the waits of
// fault injection too.
func (c *faultConn) SetWriteDeadline(t time.Time) error {
	c.writeDL.Store(unixNano(t))
	if st := c.st.Load(); st != nil && !st.quiet.Load() {
		st.mu.Lock()
		st.signal()
		st.mu.Unlock()
	}
	return c.Conn.SetWriteDeadline(t)
}

// NetConn returns the underlying connection, as tls.Conn does.
func (c *faultConn) NetConn() net.Conn { return c.Conn }

func (c *faultConn) readDeadline() time.Time  { return fromUnixNano(c.readDL.Load()) }
func (c *faultConn) writeDeadline() time.Time { return fromUnixNano(c.writeDL.Load()) }

func (c *faultConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func passed(dl time.Time) bool { return !dl.IsZero() && !time.Now().Before(dl) }

// connState is the fault state of one connection, created the first time a
// fault touches it.
type connState struct {
	c     *faultConn
	quiet atomic.Bool // no effect, nothing queued, no goroutine: the fast path may run
	cut   atomic.Bool // set before the socket is reset

	rmu, wmu sync.Mutex // serialise slow-path Reads and Writes, as netFD does

	mu     sync.Mutex
	eff    effect
	wake   chan struct{} // closed by signal; made by the first waiter
	closed bool          // closed by its owner
	linger time.Time     // with closed: when the sender gives up flushing
	pcg    rand.PCG
	rq, wq fifo
	rLast  time.Time // release time of the newest chunk, per direction
	wLast  time.Time
	rTok   bucket
	wTok   bucket
	pump   bool // the pump goroutine runs
	sender bool // the sender goroutine runs
	rerr   error
	werr   error
}

func (st *connState) now() time.Time { return st.c.in.now() }

// signal wakes every waiter. Called with mu held.
func (st *connState) signal() {
	if st.wake != nil {
		close(st.wake)
		st.wake = nil
	}
}

// waitLocked releases mu until a signal, the clock reaching until, or the
// wall clock reaching dl (zero values: no bound), then takes mu again.
func (st *connState) waitLocked(until, dl time.Time) {
	d := time.Duration(-1)
	if !until.IsZero() {
		if d = until.Sub(st.now()); d <= 0 {
			return
		}
	}
	if !dl.IsZero() {
		dd := time.Until(dl)
		if dd <= 0 {
			return
		}
		if d < 0 || dd < d {
			d = dd
		}
	}
	if st.wake == nil {
		st.wake = make(chan struct{})
	}
	ch := st.wake
	st.mu.Unlock()
	if d < 0 {
		<-ch
	} else {
		t := time.NewTimer(d)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
	st.mu.Lock()
}

// stallWaitLocked waits for a change while stalled and counts the time.
func (st *connState) stallWaitLocked(dl time.Time) {
	t0 := time.Now()
	st.waitLocked(time.Time{}, dl)
	st.c.in.stalled.Add(int64(time.Since(t0)))
}

func (st *connState) maybeQuietLocked() {
	if st.eff.zero() && !st.cut.Load() && !st.closed && !st.pump && !st.sender &&
		st.rq.len() == 0 && st.wq.len() == 0 && st.rerr == nil && st.werr == nil {
		st.quiet.Store(true)
	}
}

// deadErr is the error of any operation on a cut or closed connection.
func (st *connState) deadErr(op string) error {
	if st.cut.Load() {
		return st.c.opErr(op, ErrConnectionCut)
	}
	if st.closed {
		return st.c.opErr(op, net.ErrClosed)
	}
	return nil
}

// setEffect installs a new combination of faults. Called with in.mu held.
func (st *connState) setEffect(e effect) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.eff = e
	st.rTok.setRate(e.bandwidth, now)
	st.wTok.setRate(e.bandwidth, now)
	if !e.zero() {
		st.quiet.Store(false)
	}
	if st.pump && !e.delays() {
		// Kick the pump out of its socket read; it hands the owner's
		// deadline back when it exits.
		_ = st.c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
	st.signal()
	st.maybeQuietLocked()
}

func (st *connState) setReadDeadline(t time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.signal()
	if st.pump {
		return nil // the pump reads without deadline; Read enforces it
	}
	return st.c.Conn.SetReadDeadline(t)
}

// cutNow resets the connection; it reports false if it was already cut or
// closed.
func (st *connState) cutNow() bool {
	st.mu.Lock()
	if st.cut.Load() || st.closed {
		st.mu.Unlock()
		return false
	}
	st.cut.Store(true)
	st.quiet.Store(false)
	st.rq.reset()
	st.wq.reset()
	st.signal()
	st.mu.Unlock()
	reset(st.c.Conn)
	return true
}

// reset shuts c down as a peer reset would: blocked I/O is woken, and the
// innermost TCP connection is closed with SO_LINGER 0 so that the peer gets
// an RST. A TLS connection is not closed gracefully (no close_notify).
func reset(c net.Conn) {
	_ = c.SetDeadline(time.Unix(1, 0))
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (st *connState) close() error {
	c := st.c
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	st.closed = true
	st.quiet.Store(false)
	st.rq.reset()
	st.signal()
	if st.cut.Load() {
		st.mu.Unlock()
		return nil // reset already closed the socket
	}
	if st.sender {
		st.linger = time.Now().Add(closeLinger)
		if st.eff.stall {
			st.linger = time.Now()
		}
		linger := st.linger
		st.mu.Unlock()
		// Wake blocked reads; bound the sender's last writes. The sender
		// closes the connection when it is done.
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
		_ = c.Conn.SetWriteDeadline(linger)
		return nil
	}
	st.mu.Unlock()
	return c.Conn.Close()
}

// read is Read while a fault applies or bytes are queued.
func (st *connState) read(b []byte) (int, error) {
	c := st.c
	st.rmu.Lock()
	defer st.rmu.Unlock()
	st.mu.Lock()
	for {
		if err := st.deadErr("read"); err != nil {
			st.mu.Unlock()
			return 0, err
		}
		if len(b) == 0 {
			st.mu.Unlock()
			return 0, nil
		}
		dl := c.readDeadline()
		if passed(dl) {
			st.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		now := st.now()
		if st.rq.len() > 0 {
			head := st.rq.front()
			if now.Before(head.at) {
				st.waitLocked(head.at, dl)
				continue
			}
			if st.eff.stall {
				st.stallWaitLocked(dl)
				continue
			}
			if d := st.rTok.delay(now); d > 0 {
				st.waitLocked(now.Add(d), dl)
				continue
			}
			n := copy(b[:st.rTok.piece(len(b))], head.b)
			st.rq.consume(n)
			st.rTok.take(n, now)
			c.in.delayed.Add(uint64(n))
			st.signal() // the pump may wait for room
			st.maybeQuietLocked()
			st.mu.Unlock()
			return n, nil
		}
		if st.rerr != nil {
			err := st.rerr
			st.mu.Unlock()
			return 0, err
		}
		if st.pump || st.eff.delays() {
			if !st.pump {
				st.pump = true
				_ = c.Conn.SetReadDeadline(time.Time{})
				go st.pumpLoop()
			}
			st.waitLocked(time.Time{}, dl)
			continue
		}
		if st.eff.stall {
			st.stallWaitLocked(dl)
			continue
		}
		if d := st.rTok.delay(now); d > 0 {
			st.waitLocked(now.Add(d), dl)
			continue
		}
		// No delay line: read the socket directly, within the burst.
		p := st.rTok.piece(len(b))
		st.mu.Unlock()
		n, err := c.Conn.Read(b[:p])
		at := st.now()
		st.mu.Lock()
		return st.afterReadLocked(b, n, err, at)
	}
}

// afterRead handles bytes the fast path read while a fault began.
func (st *connState) afterRead(b []byte, n int, err error, at time.Time) (int, error) {
	st.mu.Lock()
	return st.afterReadLocked(b, n, err, at)
}

// afterReadLocked holds n bytes read from the socket at arrived until the
// current effect lets them through. It unlocks mu.
func (st *connState) afterReadLocked(b []byte, n int, err error, arrived time.Time) (int, error) {
	c := st.c
	if e := st.deadErr("read"); e != nil {
		st.mu.Unlock()
		return 0, e
	}
	if err != nil || n == 0 {
		st.mu.Unlock()
		return n, err
	}
	var release time.Time
	sampled, touched := false, false
	for {
		if e := st.deadErr("read"); e != nil {
			st.mu.Unlock()
			return 0, e
		}
		now := st.now()
		if !sampled && st.eff.delays() {
			release = later(arrived.Add(st.eff.sample(&st.pcg)), st.rLast)
			st.rLast, sampled = release, true
		}
		touched = touched || !st.eff.zero()
		early := sampled && now.Before(release)
		d := st.rTok.delay(now)
		if !early && !st.eff.stall && d == 0 {
			st.rTok.take(n, now)
			if touched {
				c.in.delayed.Add(uint64(n))
			}
			st.maybeQuietLocked()
			st.mu.Unlock()
			return n, nil
		}
		dl := c.readDeadline()
		if passed(dl) {
			// Keep the bytes for the next Read.
			if !sampled {
				release = now
			}
			st.rq.pushFront(chunk{at: release, b: slices.Clone(b[:n])})
			st.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		switch {
		case early:
			st.waitLocked(release, dl)
		case st.eff.stall:
			st.stallWaitLocked(dl)
		default:
			st.waitLocked(now.Add(d), dl)
		}
	}
}

// pumpLoop drains the socket into the read delay line, stamping arrivals,
// while the effect delays reads.
func (st *connState) pumpLoop() {
	c := st.c
	buf := make([]byte, pumpBuf)
	st.mu.Lock()
	defer func() {
		st.pump = false
		st.signal()
		st.maybeQuietLocked()
		st.mu.Unlock()
	}()
	for {
		if st.cut.Load() || st.closed {
			return
		}
		if !st.eff.delays() {
			_ = c.Conn.SetReadDeadline(c.readDeadline())
			return
		}
		if st.eff.stall || st.rq.bytes >= lineCap {
			st.waitLocked(time.Time{}, time.Time{})
			continue
		}
		st.mu.Unlock()
		n, err := c.Conn.Read(buf)
		now := st.now()
		st.mu.Lock()
		if st.cut.Load() || st.closed {
			return
		}
		if n > 0 {
			at := later(now.Add(st.eff.sample(&st.pcg)), st.rLast)
			st.rLast = at
			st.rq.push(chunk{at: at, b: slices.Clone(buf[:n])})
			st.signal()
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// A kick, or a deadline that slipped through: the loop
				// decides whether to go on.
				if st.eff.delays() {
					_ = c.Conn.SetReadDeadline(time.Time{})
				}
				continue
			}
			st.rerr = err
			return
		}
	}
}

// write is Write while a fault applies or bytes are queued.
func (st *connState) write(b []byte) (int, error) {
	c := st.c
	st.wmu.Lock()
	defer st.wmu.Unlock()
	st.mu.Lock()
	done := 0
	for done < len(b) {
		if err := st.deadErr("write"); err != nil {
			st.mu.Unlock()
			return done, err
		}
		if st.werr != nil {
			err := st.werr
			st.mu.Unlock()
			return done, err
		}
		dl := c.writeDeadline()
		if passed(dl) {
			st.mu.Unlock()
			return done, c.opErr("write", os.ErrDeadlineExceeded)
		}
		if st.eff.stall {
			st.stallWaitLocked(dl)
			continue
		}
		now := st.now()
		if st.sender || st.wq.len() > 0 || st.eff.delays() {
			room := lineCap - st.wq.bytes
			if room <= 0 {
				st.waitLocked(time.Time{}, dl)
				continue
			}
			k := min(room, len(b)-done)
			at := later(now.Add(st.eff.sample(&st.pcg)), st.wLast)
			st.wLast = at
			st.wq.push(chunk{at: at, b: slices.Clone(b[done : done+k])})
			done += k
			if !st.sender {
				st.sender = true
				go st.sendLoop()
			} else {
				st.signal()
			}
			continue
		}
		if d := st.wTok.delay(now); d > 0 {
			st.waitLocked(now.Add(d), dl)
			continue
		}
		p := st.wTok.piece(len(b) - done)
		touched := !st.eff.zero()
		st.mu.Unlock()
		n, err := c.Conn.Write(b[done : done+p])
		st.mu.Lock()
		done += n
		st.wTok.take(n, st.now())
		if touched {
			c.in.delayed.Add(uint64(n))
		}
		if err != nil {
			if e := st.deadErr("write"); e != nil {
				err = e
			}
			st.mu.Unlock()
			return done, err
		}
	}
	st.maybeQuietLocked()
	st.mu.Unlock()
	return done, nil
}

// sendLoop writes the write delay line out at its release times. It exits
// when the line is empty; Write starts it again.
func (st *connState) sendLoop() {
	c := st.c
	closeConn := false
	st.mu.Lock()
	for {
		if st.cut.Load() {
			st.wq.reset()
			break
		}
		if st.closed && (st.wq.len() == 0 || st.eff.stall || passed(st.linger)) {
			st.wq.reset()
			closeConn = true
			break
		}
		if st.wq.len() == 0 {
			break
		}
		var linger time.Time
		if st.closed {
			linger = st.linger
		}
		now := st.now()
		head := st.wq.front()
		if now.Before(head.at) {
			st.waitLocked(head.at, linger)
			continue
		}
		if st.eff.stall {
			st.stallWaitLocked(linger)
			continue
		}
		if d := st.wTok.delay(now); d > 0 {
			st.waitLocked(now.Add(d), linger)
			continue
		}
		p := head.b[:st.wTok.piece(len(head.b))]
		st.mu.Unlock()
		n, err := c.Conn.Write(p)
		st.mu.Lock()
		st.wq.consume(n)
		st.wTok.take(n, st.now())
		c.in.delayed.Add(uint64(n))
		st.signal() // writers may wait for room
		if err != nil {
			if !st.cut.Load() && !st.closed {
				st.werr = err
			}
			closeConn = st.closed && !st.cut.Load()
			st.wq.reset()
			break
		}
	}
	st.sender = false
	st.signal()
	st.maybeQuietLocked()
	st.mu.Unlock()
	if closeConn {
		_ = c.Conn.Close()
	}
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// chunk is a run of bytes in a delay line with its release time.
type chunk struct {
	at time.Time
	b  []byte
}

// fifo is a queue of chunks.
type fifo struct {
	q     []chunk
	head  int
	bytes int
}

func (f *fifo) len() int      { return len(f.q) - f.head }
func (f *fifo) front() *chunk { return &f.q[f.head] }
func (f *fifo) push(c chunk)  { f.q = append(f.q, c); f.bytes += len(c.b) }
func (f *fifo) reset()        { clear(f.q); f.q, f.head, f.bytes = f.q[:0], 0, 0 }

func (f *fifo) pushFront(c chunk) {
	if f.head > 0 {
		f.head--
		f.q[f.head] = c
	} else {
		f.q = slices.Insert(f.q, 0, c)
	}
	f.bytes += len(c.b)
}

// consume drops n bytes from the front chunk.
func (f *fifo) consume(n int) {
	h := &f.q[f.head]
	h.b = h.b[n:]
	f.bytes -= n
	if len(h.b) > 0 {
		return
	}
	*h = chunk{}
	f.head++
	switch {
	case f.head == len(f.q):
		f.q, f.head = f.q[:0], 0
	case f.head >= 32 && f.head*2 >= len(f.q):
		m := copy(f.q, f.q[f.head:])
		clear(f.q[m:])
		f.q, f.head = f.q[:m], 0
	}
}
