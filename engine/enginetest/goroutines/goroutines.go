// Package goroutines lets a test wait on what other goroutines are doing,
// e.g. "the reader is blocked in Read", instead of sleeping for a while and
// hoping it got there. It reads the stacks of every goroutine
// (runtime.Stack), so it is for tests only.
package goroutines

import (
	"runtime"
	"strings"
)

// Parked counts the goroutines whose stack contains frame (a substring of
// a function's name as runtime.Stack prints it, e.g. "(*faultConn).Read")
// and how many of them are parked: waiting in the scheduler (on I/O, a
// channel, a lock, a condition, a sleep) rather than running or runnable.
// A goroutine that called a blocking function and is parked inside it has
// reached the point where it blocks; one that is running or runnable may
// not have yet.
func Parked(frame string) (parked, total int) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, frame) {
			continue
		}
		total++
		// "goroutine 7 [IO wait, 2 minutes]:" / "[running]:" / "[runnable]:"
		head, _, _ := strings.Cut(g, "\n")
		_, state, _ := strings.Cut(head, "[")
		if !strings.HasPrefix(state, "running") && !strings.HasPrefix(state, "runnable") && !strings.HasPrefix(state, "syscall") {
			parked++
		}
	}
	return parked, total
}

// AllParked reports whether at least one goroutine has frame on its stack
// and every such goroutine is parked (see Parked).
func AllParked(frame string) bool {
	parked, total := Parked(frame)
	return total > 0 && parked == total
}
