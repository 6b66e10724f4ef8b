package iot

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// writeHeapProfile writes the live heap to path (for go tool pprof).
func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// rssKB reads the process's resident set size from /proc/self/status.
func rssKB(tb testing.TB) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	tb.Fatal("VmRSS not found")
	return 0
}

func raiseFDLimit(tb testing.TB, want uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		tb.Fatal(err)
	}
	if l.Cur < want {
		l.Cur = min(want, l.Max)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			tb.Fatal(err)
		}
	}
	if l.Cur < want {
		tb.Skipf("file descriptor limit %d < %d", l.Cur, want)
	}
}

// BenchmarkIdleHandles connects FLEETBENCH_HANDLES (default 2,000) idle
// handles, each with one QoS 1 subscription, to mosquitto and reports what
// each costs the client process: RSS, Go heap and goroutines. Run it once
// (FLEETBENCH_CLIENT=paho for the reference client):
//
//	go test -run xxx -bench IdleHandles -benchtime 1x ./engine/iot/
func BenchmarkIdleHandles(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("FLEETBENCH_HANDLES")); err == nil && v > 0 {
		n = v
	}
	raiseFDLimit(b, uint64(2*n+256))
	tg := mosquittoTarget(b)
	client := os.Getenv("FLEETBENCH_CLIENT")
	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory()
		var ms0 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		rss0, g0 := rssKB(b), runtime.NumGoroutine()

		handles := make([]*Handle, 0, n)
		var subacked atomic.Int64
		onEvent := func(_ *Handle, ev *Event) {
			if ev.Type == EventSubscribeSuccess {
				subacked.Add(1)
			}
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("idle-%06d", i)
			h, err := Construct(context.Background(), Params{Endpoint: tg.endpoint, Dialer: tg.dialer, ClientID: id, CleanSession: true, Client: client, EventHandler: onEvent})
			if err != nil {
				b.Fatalf("handle %d: %v", i, err)
			}
			if _, err := h.Subscribe("/pk/"+id+"/user/get", QoS1, func(*Handle, *Event) {}); err != nil {
				b.Fatal(err)
			}
			handles = append(handles, h)
		}
		connectTime := time.Since(start)
		// Measure once every subscription is acknowledged (the handles
		// deliver their events when yielded).
		waitFor(b, time.Minute, func() bool {
			for _, h := range handles {
				h.Yield(0)
			}
			return subacked.Load() == int64(n)
		}, fmt.Sprintf("%d SUBACKs", n))
		runtime.GC()
		debug.FreeOSMemory()
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		rss1, g1 := rssKB(b), runtime.NumGoroutine()
		if path := os.Getenv("FLEETBENCH_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-KB/handle")
		b.ReportMetric(float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse))/1024/float64(n), "heap+stack-KB/handle")
		b.ReportMetric(float64(ms1.StackInuse-ms0.StackInuse)/1024/float64(n), "stack-KB/handle")
		b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/handle")
		b.ReportMetric(float64(n)/connectTime.Seconds(), "connects/s")
		for _, h := range handles {
			h.Destroy()
		}
	}
}
