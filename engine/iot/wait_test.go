package iot

import (
	"testing"
	"time"
)

// waitFor polls cond until it holds and fails the test, naming what it
// waited for, when it still does not hold after timeout. Polling a
// condition is how these tests synchronise; none sleeps for a fixed time
// and hopes the broker got there.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
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
