// Fault injection, moving bytes: the slow paths of Read and Write, the read
// pump and the write sender that run the delay lines, and the delay line
// itself (a FIFO of chunks stamped with release times). Bandwidth shaping
// uses the token bucket of bandwidth.go.

package hal

import (
	"errors"
	"os"
	"slices"
	"time"
)

// Tuning of the delay lines.
const (
	lineCap     = 256 << 10       // bytes queued per direction before writers (or the pump) block
	pumpBuf     = 4 << 10         // read size of the pump
	closeLinger = 2 * time.Second // how long Close lets the delay line flush
)

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
