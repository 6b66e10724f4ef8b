// Fault injection, the delay line: the direction type that reads and writes
// share (a FIFO of chunks stamped with release times, a bandwidth limit from
// bandwidth.go, an error, a goroutine flag, a mutex), the release times that
// keep bytes in order, the gate bytes pass before they move, and the
// accounting of what moved.

package hal

import (
	"slices"
	"sync"
	"time"
)

// Tuning of the delay lines.
const (
	lineCap     = 256 << 10       // bytes queued per direction before writers (or the pump) block
	pumpBuf     = 4 << 10         // read size of the pump
	closeLinger = 2 * time.Second // how long Close lets the delay line flush
)

// direction is the state of one way bytes move through a connection: the
// same type serves reads and writes. Its fields other than mu are guarded by
// connState.mu.
type direction struct {
	mu   sync.Mutex // serialises slow-path Reads (or Writes), as netFD does
	line fifo       // the delay line
	last time.Time  // release time of the newest chunk, so bytes keep their order
	tok  bucket     // the bandwidth limit
	err  error      // the socket error that stopped the pump (or the sender)
	busy bool       // the pump (or the sender) goroutine runs
}

// idle reports whether d holds nothing: no goroutine, no queued bytes, no
// pending error.
func (d *direction) idle() bool { return !d.busy && d.line.len() == 0 && d.err == nil }

// gateLocked is the gate bytes of d pass before they move: if bytes
// released at release (zero: not delayed) may not move at now, because
// their release time has not come, a stall holds them, or d's bandwidth
// limit is in debt, it waits once (bounded by dl, zero: no bound) and
// reports true; the caller then looks again.
func (st *connState) gateLocked(d *direction, release, now, dl time.Time) bool {
	switch {
	case now.Before(release):
		st.waitLocked(release, dl)
	case st.eff.stall:
		st.stallWaitLocked(dl)
	default:
		wait := d.tok.delay(now)
		if wait <= 0 {
			return false
		}
		st.waitLocked(now.Add(wait), dl)
	}
	return true
}

// stampLocked returns the release time of bytes that arrive in d at
// arrived: arrived + latency ± jitter, never before the bytes ahead of them.
func (st *connState) stampLocked(d *direction, arrived time.Time) time.Time {
	d.last = later(arrived.Add(st.eff.sample(&st.pcg)), d.last)
	return d.last
}

// queueLocked copies b into the delay line of d, stamped as arrived at
// arrived.
func (st *connState) queueLocked(d *direction, arrived time.Time, b []byte) {
	d.line.push(chunk{at: st.stampLocked(d, arrived), b: slices.Clone(b)})
}

// releasedLocked accounts for n bytes that left the delay line of d at now
// and wakes the waiters: one may wait for room in the line.
func (st *connState) releasedLocked(d *direction, n int, now time.Time) {
	d.line.consume(n)
	d.tok.take(n, now)
	st.c.in.delayed.Add(uint64(n))
	st.signal()
}

// passedLocked accounts for n bytes of d that moved at now without a delay
// line; touched: a fault applied to them.
func (st *connState) passedLocked(d *direction, n int, now time.Time, touched bool) {
	d.tok.take(n, now)
	if touched {
		st.c.in.delayed.Add(uint64(n))
	}
}

// later returns the later of a and b.
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
