package enginetest

import (
	"testing"
	"time"
)

// WaitFor polls cond every 5 ms until it holds, and fails the test, naming
// what it waited for, when it still does not hold after timeout. Polling a
// condition is how the tests synchronise: none sleeps for a fixed time and
// hopes the run got there.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
