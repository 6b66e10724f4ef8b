// Fault injection, the connection: faultConn (the net.Conn a device sees,
// with its allocation-free fast path) and its fault state, created the first
// time a fault touches it, with the state's lifecycle: waits, new effects,
// cut and close. The state holds two directions (fault_delay.go); the slow
// paths that move bytes through them are in fault_io.go.

package hal

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

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
// fault touches it. mu guards every field but quiet, cut and the mutexes of
// the directions.
type connState struct {
	c     *faultConn
	quiet atomic.Bool // no effect, nothing queued, no goroutine: the fast path may run
	cut   atomic.Bool // set before the socket is reset

	mu     sync.Mutex
	eff    effect
	wake   chan struct{} // closed by signal; made by the first waiter
	closed bool          // closed by its owner
	linger time.Time     // with closed: when the sender gives up flushing
	pcg    rand.PCG
	r      direction // reads: the pump fills the line, Read empties it
	w      direction // writes: Write fills the line, the sender empties it
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
	if st.eff.zero() && !st.cut.Load() && !st.closed && st.r.idle() && st.w.idle() {
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
	st.r.tok.setRate(e.bandwidth, now)
	st.w.tok.setRate(e.bandwidth, now)
	if !e.zero() {
		st.quiet.Store(false)
	}
	if st.r.busy && !e.delays() {
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
	if st.r.busy {
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
	st.r.line.reset()
	st.w.line.reset()
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
	st.r.line.reset()
	st.signal()
	if st.cut.Load() {
		st.mu.Unlock()
		return nil // reset already closed the socket
	}
	if st.w.busy {
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
