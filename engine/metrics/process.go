package metrics

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessSample is the fleetbench process's own resource use over one
// interval of the time series (summed over nodes when merged, except the
// GC pause, which keeps the largest).
type ProcessSample struct {
	// RSSBytes is the resident set size at the end of the interval.
	RSSBytes int64 `json:"rss_bytes"`
	// Goroutines at the end of the interval.
	Goroutines int64 `json:"goroutines"`
	// CPUSeconds is user+system CPU time used during the interval.
	CPUSeconds float64 `json:"cpu_seconds"`
	// GCPauseMaxUs is the longest stop-the-world GC pause of the interval
	// (bucket upper bound of the runtime's pause histogram).
	GCPauseMaxUs int64 `json:"gc_pause_max_us"`
	// GCCycles completed during the interval.
	GCCycles int64 `json:"gc_cycles"`
}

func (p *ProcessSample) add(o *ProcessSample) {
	p.RSSBytes += o.RSSBytes
	p.Goroutines += o.Goroutines
	p.CPUSeconds += o.CPUSeconds
	p.GCPauseMaxUs = max(p.GCPauseMaxUs, o.GCPauseMaxUs)
	p.GCCycles += o.GCCycles
}

// ProcessMonitor samples the process's own resource use; each Sample covers
// the time since the previous one. Not safe for concurrent use.
type ProcessMonitor struct {
	cpu     time.Duration
	cycles  uint64
	pauses  []uint64
	samples []metrics.Sample
}

// NewProcessMonitor starts monitoring from now.
func NewProcessMonitor() *ProcessMonitor {
	m := &ProcessMonitor{samples: []metrics.Sample{
		{Name: "/gc/pauses:seconds"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}}
	m.Sample()
	return m
}

// Sample returns the resource use since the previous call.
func (m *ProcessMonitor) Sample() ProcessSample {
	var out ProcessSample
	out.RSSBytes = rssBytes()
	out.Goroutines = int64(runtime.NumGoroutine())
	cpu := cpuTime()
	out.CPUSeconds = (cpu - m.cpu).Seconds()
	m.cpu = cpu

	metrics.Read(m.samples)
	if m.samples[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := m.samples[0].Value.Float64Histogram()
		if len(m.pauses) != len(h.Counts) {
			m.pauses = make([]uint64, len(h.Counts))
		}
		for i := len(h.Counts) - 1; i >= 0; i-- {
			if h.Counts[i] > m.pauses[i] {
				if up := h.Buckets[i+1]; up > 0 && up < 3600 {
					out.GCPauseMaxUs = int64(up * 1e6)
				} else {
					out.GCPauseMaxUs = int64(h.Buckets[i] * 1e6)
				}
				break
			}
		}
		copy(m.pauses, h.Counts)
	}
	if m.samples[1].Value.Kind() == metrics.KindUint64 {
		c := m.samples[1].Value.Uint64()
		out.GCCycles = int64(c - m.cycles)
		m.cycles = c
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes reads VmRSS from /proc/self/status (0 where there is no /proc).
func rssBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
