package actors

import (
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest"
)

// waitFor is enginetest.WaitFor: poll cond until it holds, or fail naming
// what was awaited.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	enginetest.WaitFor(t, timeout, cond, what)
}
