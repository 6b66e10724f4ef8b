package broker

import (
	"net"
	"sync"
	"time"
)

// In-memory connections get a send buffer, as a socket has one.
//
// net.Pipe is unbuffered: a Write blocks until the peer reads. mochi writes
// acknowledgements (PUBACK, PUBREC, PUBCOMP, SUBACK, PINGRESP) from the
// goroutine that reads the client's packets, and its writer goroutine holds
// the client's lock while it writes. Over an unbuffered pipe that closes
// cycles a socket's buffers break: with paho, a QoS 2 stream deadlocks
// within a few hundred messages (mochi's writer waits for paho's reader,
// which waits for paho's writer, which waits for mochi's reader, which waits
// for the lock mochi's writer holds); with an SDK-style client that reads
// only inside Yield, the second QoS 1 publish between two Yields would
// block. bufferedConn makes mochi's writes asynchronous up to
// memSendBuffer bytes, so mochi keeps reading while a client is not.
const (
	// memSendBuffer bounds the bytes queued towards one in-memory client;
	// beyond it writes block, as on a socket with a full send buffer.
	memSendBuffer = 256 << 10
	// memLinger bounds how long Close keeps flushing queued bytes (a
	// refused CONNACK, the last messages) to a client that does not read.
	memLinger = time.Second
	// memSpareMax is the largest drained buffer kept for reuse.
	memSpareMax = 32 << 10
)

// bufferedConn wraps the broker's end of an in-memory connection. Writes
// are queued and written to the underlying conn by one goroutine
// (writeLoop); everything else passes through. Close flushes what is
// queued (for up to linger) before closing the underlying conn; abort
// drops it.
type bufferedConn struct {
	net.Conn
	max    int
	linger time.Duration
	done   chan struct{} // closed when writeLoop has returned

	mu      sync.Mutex
	cond    *sync.Cond // broadcast on every state change
	pending []byte
	spare   []byte
	closing bool  // Close called: flush, then close
	aborted bool  // abort called: close now
	err     error // sticky error of the underlying Write
}

func newBufferedConn(c net.Conn, max int, linger time.Duration) *bufferedConn {
	bc := &bufferedConn{Conn: c, max: max, linger: linger, done: make(chan struct{})}
	bc.cond = sync.NewCond(&bc.mu)
	go bc.writeLoop()
	return bc
}

// Write queues p. It blocks only while the queue is full.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closing || c.aborted {
			return 0, net.ErrClosed
		}
		if c.err != nil {
			return 0, c.err
		}
		if len(c.pending) == 0 || len(c.pending)+len(p) <= c.max {
			break
		}
		c.cond.Wait()
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

func (c *bufferedConn) writeLoop() {
	defer close(c.done)
	defer c.Conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.pending) == 0 && !c.closing && !c.aborted {
			c.cond.Wait()
		}
		if c.aborted || len(c.pending) == 0 {
			return // aborted, or closing with nothing left to flush
		}
		buf := c.pending
		c.pending = c.spare[:0]
		c.spare = nil
		c.mu.Unlock()
		_, err := c.Conn.Write(buf)
		c.mu.Lock()
		if cap(buf) <= memSpareMax {
			c.spare = buf[:0]
		}
		if err != nil {
			c.err = err
			c.cond.Broadcast()
			return
		}
		c.cond.Broadcast()
	}
}

// Close stops further writes, wakes blocked reads, and lets writeLoop flush
// the queue (for at most linger) before it closes the underlying conn. It
// returns at once.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.aborted {
		return nil
	}
	c.closing = true
	c.cond.Broadcast()
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.linger))
	return nil
}

// abort closes the underlying conn at once, dropping queued bytes.
func (c *bufferedConn) abort() {
	c.mu.Lock()
	c.aborted = true
	c.cond.Broadcast()
	c.mu.Unlock()
	_ = c.Conn.Close()
}

// SetDeadline implements net.Conn; it is ignored once Close was called, so
// that the linger bound stays in force.
func (c *bufferedConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.aborted {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline implements net.Conn (see SetDeadline).
func (c *bufferedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.aborted {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetWriteDeadline implements net.Conn (see SetDeadline). The deadline
// bounds writeLoop's writes; a queued Write does not see it until the
// underlying write fails.
func (c *bufferedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.aborted {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}
