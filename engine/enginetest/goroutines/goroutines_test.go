package goroutines

import (
	"sync/atomic"
	"testing"
	"time"
)

// poll waits for cond, for at most 10 s.
func poll(t *testing.T, cond func() bool, what string) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// blockOn is a named function so that its frame can be looked for.
func blockOn(ch chan struct{}) { <-ch }

func TestAllParked(t *testing.T) {
	if AllParked("goroutines.blockOn") {
		t.Fatal("parked before any goroutine runs blockOn")
	}
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() { blockOn(ch); close(done) }()
	poll(t, func() bool { return AllParked("goroutines.blockOn") }, "the goroutine blocked on a channel to show parked")
	if p, n := Parked("goroutines.blockOn"); p != 1 || n != 1 {
		t.Fatalf("Parked = %d of %d, want 1 of 1", p, n)
	}
	close(ch)
	<-done
	poll(t, func() bool { _, n := Parked("goroutines.blockOn"); return n == 0 }, "the goroutine to be gone once it returned")
}

// TestRunningIsNotParked: a goroutine spinning on the CPU is not parked.
func TestRunningIsNotParked(t *testing.T) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		spin(&stop)
	}()
	defer func() { stop.Store(true); <-done }()
	for range 20 {
		if p, n := Parked("goroutines.spin"); n == 1 && p == 1 {
			t.Fatal("a spinning goroutine reported parked")
		}
	}
}

// spin keeps the CPU busy until stop is set.
//
//go:noinline
func spin(stop *atomic.Bool) {
	for !stop.Load() {
	}
}
