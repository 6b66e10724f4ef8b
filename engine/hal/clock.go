// Package hal is fleetbench's hardware abstraction layer, the Go rendering of
// the iotkit SDK's HAL (HAL_UptimeMs, HAL_SleepMs, HAL_TCP_*/HAL_SSL_*): a
// clock and a dialer that establishes transports. Read, write and destroy are
// the methods of the net.Conn a Dialer returns, so every byte a simulated
// device sends or receives passes through this package, which is where fault
// injection wraps transports.
//
// Transports: plain TCP, TLS (verification on by default, CA, client
// certificates, SNI), an in-memory pipe straight into an embedded broker, and
// an optional pool of local source addresses to go beyond the ephemeral port
// range of one address. A NetDialer resolves a broker host name once and
// keeps its addresses for its lifetime (see NetDialer).
package hal

import (
	"sync"
	"time"
)

// Clock is the SDK's time HAL: HAL_UptimeMs and HAL_SleepMs, plus Now for
// latency stamps. Implementations must be safe for concurrent use.
type Clock interface {
	// UptimeMs returns monotonic milliseconds since the clock started.
	UptimeMs() uint64
	// SleepMs blocks for ms milliseconds.
	SleepMs(ms uint32)
	// Now returns the current time, with a monotonic reading where the
	// implementation has one.
	Now() time.Time
}

// SystemClock is the real clock. The zero value is not usable; call
// NewSystemClock.
type SystemClock struct {
	start time.Time
}

// NewSystemClock returns a clock whose uptime starts now.
func NewSystemClock() *SystemClock { return &SystemClock{start: time.Now()} }

// UptimeMs implements Clock.
func (c *SystemClock) UptimeMs() uint64 { return uint64(time.Since(c.start).Milliseconds()) }

// SleepMs implements Clock.
func (c *SystemClock) SleepMs(ms uint32) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// Now implements Clock.
func (c *SystemClock) Now() time.Time { return time.Now() }

// ShiftedClock is a clock set By off another: a machine whose clock is
// wrong by that much (how a distributed run's clock-offset correction is
// tested, and how a fleet with skewed device clocks is simulated). Uptime
// and sleeping are the other clock's.
type ShiftedClock struct {
	Clock
	By time.Duration
}

// Now implements Clock.
func (c ShiftedClock) Now() time.Time { return c.Clock.Now().Add(c.By) }

// FakeClock is a manually advanced clock for tests. Sleepers block until
// Advance moves the clock past their wake-up time.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	start   time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan struct{}
}

// NewFakeClock returns a fake clock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start, start: start} }

// UptimeMs implements Clock.
func (c *FakeClock) UptimeMs() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.now.Sub(c.start).Milliseconds())
}

// Now implements Clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// SleepMs implements Clock: it blocks until the clock is advanced by at least
// ms milliseconds. SleepMs(0) returns at once.
func (c *FakeClock) SleepMs(ms uint32) {
	if ms == 0 {
		return
	}
	c.mu.Lock()
	w := fakeWaiter{at: c.now.Add(time.Duration(ms) * time.Millisecond), ch: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
	<-w.ch
}

// Sleepers returns how many goroutines are blocked in SleepMs.
func (c *FakeClock) Sleepers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// Advance moves the clock forward by d and wakes every sleeper whose time
// has come.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}
