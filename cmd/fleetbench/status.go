package main

import (
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// statusWriter is stderr on a terminal: it keeps one status line at the
// bottom, redrawn in place, and serialises it with everything else written
// to it (logs, messages). A write while the status line is shown erases
// the line first; the next status redraws it.
type statusWriter struct {
	mu      sync.Mutex
	f       *os.File
	red     *redaction // hides secrets in everything written (nil: none)
	pending bool       // a status line is on the screen, not ended
}

// newStderr returns the writer a command's progress and logs share: a
// statusWriter on a terminal, else a lockedWriter.
func newStderr(w io.Writer) io.Writer {
	if f, ok := terminalFile(w); ok {
		sw := &statusWriter{f: f}
		if rw, ok := w.(*redactWriter); ok {
			sw.red = rw.r
		}
		return sw
	}
	return &lockedWriter{w: w}
}

// Write writes p below nothing: an unfinished status line is erased first.
func (s *statusWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending {
		s.f.WriteString("\r\033[K")
		s.pending = false
	}
	if _, err := s.f.WriteString(s.red.apply(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// status draws line in place of the previous status line.
func (s *statusWriter) status(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.WriteString("\r\033[K" + s.red.apply(line))
	s.pending = true
}

// end leaves the status line on the screen and moves to the next line.
func (s *statusWriter) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending {
		s.f.WriteString("\n")
		s.pending = false
	}
}

// width returns the terminal's width in columns: from the terminal, else
// $COLUMNS, else 80.
func (s *statusWriter) width() int {
	if w := terminalWidth(s.f); w > 0 {
		return w
	}
	if w, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && w > 0 {
		return w
	}
	return 80
}

// fmtMicros formats a latency in µs as the reports do, with three
// significant digits: 45µs, 1.23ms, 12.3ms, 2.1s.
func fmtMicros(us int64) string {
	if us < 0 {
		return "-" + fmtMicros(-us)
	}
	v := float64(us)
	r := v
	if v != 0 {
		r, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	}
	var num float64
	var unit string
	switch {
	case r < 1e3:
		num, unit = r, "µs"
	case r < 1e6:
		num, unit = r/1e3, "ms"
	case r < 60e6:
		num, unit = r/1e6, "s"
	default:
		m := int64(math.Round(v / 60e6 * 60))
		sec := strconv.FormatInt(m%60, 10)
		if len(sec) == 1 {
			sec = "0" + sec
		}
		return strconv.FormatInt(m/60, 10) + "m" + sec + "s"
	}
	t := strconv.FormatFloat(num, 'f', 2, 64)
	if strings.Contains(t, ".") {
		t = strings.TrimSuffix(strings.TrimRight(t, "0"), ".")
	}
	return t + unit
}
