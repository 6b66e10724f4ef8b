package iot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/hal"
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
// (FLEETBENCH_CLIENT=paho for the reference client, FLEETBENCH_TRANSPORT=ws
// for MQTT over WebSocket to mosquitto's websockets listener):
//
//	go test -run xxx -bench IdleHandles -benchtime 1x ./engine/iot/
func BenchmarkIdleHandles(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("FLEETBENCH_HANDLES")); err == nil && v > 0 {
		n = v
	}
	raiseFDLimit(b, uint64(2*n+256))
	tg := benchTarget(b, os.Getenv("FLEETBENCH_TRANSPORT"))
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

// benchTarget is mosquitto over TCP (transport "" or "tcp") or over
// WebSocket ("ws": its websockets listener, path /mqtt); with
// FLEETBENCH_BROKER=embedded, the embedded broker in this process instead
// (its CPU and memory are then the test process's too); with
// FLEETBENCH_BROKER=process, the embedded broker in a child process (this
// test binary running TestBrokerProcess), so that the test process's RSS
// and CPU are the client's alone. mosquitto 2.0.11's websockets listener
// answers each upgrade only after 100–200 ms, which limits connects to it
// to ~7/s (a raw socket client sees the same); the child process's broker
// answers at once.
func benchTarget(tb testing.TB, transport string) target {
	if os.Getenv("FLEETBENCH_BROKER") == "process" {
		tcpAddr, wsAddr := brokerProcess(tb)
		switch transport {
		case "", "tcp":
			return target{name: "process-tcp", endpoint: tcpEndpoint(tb, tcpAddr), dialer: &hal.NetDialer{}}
		case "ws":
			ep := tcpEndpoint(tb, wsAddr)
			ep.Transport = hal.WS
			return target{name: "process-ws", endpoint: ep, dialer: &hal.NetDialer{}}
		}
	}
	if os.Getenv("FLEETBENCH_BROKER") == "embedded" {
		b := startEmbedded(tb, broker.Options{WSAddr: "127.0.0.1:0"})
		switch transport {
		case "", "tcp":
			return target{name: "embedded-tcp", endpoint: tcpEndpoint(tb, b.Addr()), dialer: &hal.NetDialer{}}
		case "ws":
			return target{name: "embedded-ws", endpoint: b.WSEndpoint(), dialer: &hal.NetDialer{}}
		}
	}
	switch transport {
	case "", "tcp":
		return mosquittoTarget(tb)
	case "ws":
		b := mosquitto.Start(tb, mosquitto.Options{WebSockets: true})
		return target{name: "mosquitto-ws", endpoint: hal.Endpoint{Transport: hal.WS, Host: b.Host, Port: uint16(b.WSPort)}, dialer: &hal.NetDialer{}}
	}
	tb.Fatalf("FLEETBENCH_TRANSPORT=%q: want tcp or ws", transport)
	return target{}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQoS1RoundTrip is the CPU the client process spends per QoS 1
// self round trip (PUBLISH, PUBACK, delivery, PUBACK of the delivery) of a
// 128-byte payload through mosquitto, over TCP and over WebSocket, on the
// native session (FLEETBENCH_CLIENT=paho for paho). Ten publishes are in
// flight at a time (the 3.2.0 profile's QoS 1 queue; FLEETBENCH_WINDOW=1
// to 10 changes it: 1 is a strict ping-pong, no batching), events are taken
// with Yield(0) when OnReady says so, as the device actors do; cpu-µs/rt
// is user +
// system time of the whole test process (mosquitto is another process) per
// round trip:
//
//	go test -run xxx -bench QoS1RoundTrip -benchtime 20000x ./engine/iot/
func BenchmarkQoS1RoundTrip(b *testing.B) {
	client := os.Getenv("FLEETBENCH_CLIENT")
	payload := make([]byte, 128)
	for _, tr := range []string{"tcp", "ws"} {
		b.Run(tr, func(b *testing.B) {
			tg := benchTarget(b, tr)
			var acked, received atomic.Int64
			ready := make(chan struct{}, 1)
			p := Params{OnReady: func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			},
				Endpoint: tg.endpoint, Dialer: tg.dialer, ClientID: "rtt-" + tr, CleanSession: true, Client: client,
				EventHandler: func(_ *Handle, ev *Event) {
					if ev.Type == EventPublishSuccess {
						acked.Add(1)
					}
				}}
			h, err := Construct(context.Background(), p)
			if err != nil {
				b.Fatal(err)
			}
			defer h.Destroy()
			topic := "/pk/rtt-" + tr + "/user/get"
			if _, err := h.SubscribeSync(topic, QoS1, func(*Handle, *Event) { received.Add(1) }, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			window := 10
			if v, err := strconv.Atoi(os.Getenv("FLEETBENCH_WINDOW")); err == nil && v >= 1 && v <= 10 {
				window = v
			}
			deadline := time.Now().Add(10 * time.Minute)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			sent := 0
			for sent < b.N || received.Load() < int64(b.N) || acked.Load() < int64(b.N) {
				for sent < b.N && int64(sent)-min(acked.Load(), received.Load()) < int64(window) {
					if _, err := h.Publish(topic, &TopicInfo{QoS: QoS1, Payload: payload}); err != nil {
						if errors.Is(err, ErrQueueFull) {
							break
						}
						b.Fatal(err)
					}
					sent++
				}
				select {
				case <-ready:
				case <-time.After(100 * time.Millisecond):
				}
				if err := h.Yield(0); err != nil {
					b.Fatal(err)
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d round trips after 10 minutes", received.Load(), b.N)
				}
			}
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			if received.Load() != int64(b.N) || acked.Load() != int64(b.N) {
				b.Fatalf("received %d, acked %d of %d", received.Load(), acked.Load(), b.N)
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/rt")
		})
	}
}

// TestBrokerProcess is not a test: it is the broker process of
// FLEETBENCH_BROKER=process (see benchTarget), run by the benchmarks as a
// child. It prints "<tcp address> <ws address>" and serves until its
// standard input closes.
func TestBrokerProcess(t *testing.T) {
	if os.Getenv("FLEETBENCH_BROKER_CHILD") != "1" {
		t.Skip("the broker child process of the benchmarks (FLEETBENCH_BROKER=process)")
	}
	raiseFDLimit(t, 20000)
	b := startEmbedded(t, broker.Options{WSAddr: "127.0.0.1:0"})
	fmt.Printf("%s %s\n", b.Addr(), b.WSAddr())
	io.Copy(io.Discard, os.Stdin)
}

// brokerProcess starts TestBrokerProcess in a child process and returns
// its addresses; the child stops when the benchmark ends.
func brokerProcess(tb testing.TB) (tcpAddr, wsAddr string) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrokerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLEETBENCH_BROKER_CHILD=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if _, err2 := fmt.Sscan(line, &tcpAddr, &wsAddr); err != nil || err2 != nil {
		tb.Fatalf("broker process: %q: %v %v", line, err, err2)
	}
	return tcpAddr, wsAddr
}
