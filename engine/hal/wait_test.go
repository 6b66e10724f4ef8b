package hal

import (
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/goroutines"
)

// waitFor polls cond until it holds and fails the test, naming what it
// waited for, when it still does not hold after timeout. Polling a
// condition is how these tests synchronise; none sleeps for a fixed time
// and hopes the other side got there.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	if !poll(timeout, time.Millisecond, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// poll evaluates cond every period until it holds (true) or timeout has
// passed (false).
func poll(timeout, period time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// waitParked waits until every goroutine with frame on its stack is
// parked in it (e.g. a readAsync reader blocked in Read).
func waitParked(t testing.TB, frame, what string) {
	t.Helper()
	waitFor(t, 5*time.Second, func() bool { return goroutines.AllParked(frame) }, what)
}

// Frames of the test's own goroutines, for waitParked.
const (
	readerFrame = "hal.readAsync.func1"
	writerFrame = "hal.writeAsync.func1"
)

// writeAsync writes b to c in a goroutine and reports the error.
func writeAsync(c interface{ Write([]byte) (int, error) }, b []byte) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Write(b)
		ch <- err
	}()
	return ch
}
