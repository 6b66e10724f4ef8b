// Fault injection, moving bytes: the slow paths of Read and Write, taken
// while a fault applies or bytes are queued, and the goroutines that run the
// delay lines: the pump fills the read line from the socket, the sender
// empties the write line into it.

package hal

import (
	"errors"
	"os"
	"slices"
	"time"
)

// read is Read while a fault applies or bytes are queued.
func (st *connState) read(b []byte) (int, error) {
	c, d := st.c, &st.r
	d.mu.Lock()
	defer d.mu.Unlock()
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
		if d.line.len() > 0 {
			head := d.line.front()
			if st.gateLocked(d, head.at, now, dl) {
				continue
			}
			n := copy(b[:d.tok.piece(len(b))], head.b)
			st.releasedLocked(d, n, now) // the pump may wait for room
			st.maybeQuietLocked()
			st.mu.Unlock()
			return n, nil
		}
		if d.err != nil {
			err := d.err
			st.mu.Unlock()
			return 0, err
		}
		if d.busy || st.eff.delays() {
			if !d.busy {
				d.busy = true
				_ = c.Conn.SetReadDeadline(time.Time{})
				go st.pumpLoop()
			}
			st.waitLocked(time.Time{}, dl)
			continue
		}
		if st.gateLocked(d, time.Time{}, now, dl) {
			continue
		}
		// No delay line: read the socket directly, within the burst.
		p := d.tok.piece(len(b))
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
	c, d := st.c, &st.r
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
			release, sampled = st.stampLocked(d, arrived), true
		}
		touched = touched || !st.eff.zero()
		early := sampled && now.Before(release)
		wait := d.tok.delay(now)
		if !early && !st.eff.stall && wait == 0 {
			st.passedLocked(d, n, now, touched)
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
			d.line.pushFront(chunk{at: release, b: slices.Clone(b[:n])})
			st.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		switch {
		case early:
			st.waitLocked(release, dl)
		case st.eff.stall:
			st.stallWaitLocked(dl)
		default:
			st.waitLocked(now.Add(wait), dl)
		}
	}
}

// pumpLoop drains the socket into the read delay line, stamping arrivals,
// while the effect delays reads.
func (st *connState) pumpLoop() {
	c, d := st.c, &st.r
	buf := make([]byte, pumpBuf)
	st.mu.Lock()
	defer func() {
		d.busy = false
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
		if st.eff.stall || d.line.bytes >= lineCap {
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
			st.queueLocked(d, now, buf[:n])
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
			d.err = err
			return
		}
	}
}

// write is Write while a fault applies or bytes are queued.
func (st *connState) write(b []byte) (int, error) {
	c, d := st.c, &st.w
	d.mu.Lock()
	defer d.mu.Unlock()
	st.mu.Lock()
	done := 0
	for done < len(b) {
		if err := st.deadErr("write"); err != nil {
			st.mu.Unlock()
			return done, err
		}
		if d.err != nil {
			err := d.err
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
		if d.busy || d.line.len() > 0 || st.eff.delays() {
			room := lineCap - d.line.bytes
			if room <= 0 {
				st.waitLocked(time.Time{}, dl)
				continue
			}
			k := min(room, len(b)-done)
			st.queueLocked(d, now, b[done:done+k])
			done += k
			if !d.busy {
				d.busy = true
				go st.sendLoop()
			} else {
				st.signal()
			}
			continue
		}
		if st.gateLocked(d, time.Time{}, now, dl) {
			continue
		}
		p := d.tok.piece(len(b) - done)
		touched := !st.eff.zero()
		st.mu.Unlock()
		n, err := c.Conn.Write(b[done : done+p])
		st.mu.Lock()
		done += n
		st.passedLocked(d, n, st.now(), touched)
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
	c, d := st.c, &st.w
	closeConn := false
	st.mu.Lock()
	for {
		if st.cut.Load() {
			d.line.reset()
			break
		}
		if st.closed && (d.line.len() == 0 || st.eff.stall || passed(st.linger)) {
			d.line.reset()
			closeConn = true
			break
		}
		if d.line.len() == 0 {
			break
		}
		var linger time.Time
		if st.closed {
			linger = st.linger
		}
		now := st.now()
		head := d.line.front()
		if st.gateLocked(d, head.at, now, linger) {
			continue
		}
		p := head.b[:d.tok.piece(len(head.b))]
		st.mu.Unlock()
		n, err := c.Conn.Write(p)
		st.mu.Lock()
		st.releasedLocked(d, n, st.now()) // writers may wait for room
		if err != nil {
			if !st.cut.Load() && !st.closed {
				d.err = err
			}
			closeConn = st.closed && !st.cut.Load()
			d.line.reset()
			break
		}
	}
	d.busy = false
	st.signal()
	st.maybeQuietLocked()
	st.mu.Unlock()
	if closeConn {
		_ = c.Conn.Close()
	}
}
