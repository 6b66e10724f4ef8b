package hal

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// --- helpers -------------------------------------------------------------

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// echoEndpoint starts an echo server and returns its endpoint.
func echoEndpoint(t *testing.T) Endpoint {
	t.Helper()
	ln := listen(t)
	echoServer(t, ln)
	return endpointOf(t, TCP, ln)
}

// handoffServer accepts connections and hands them to the test, which owns
// them.
func handoffServer(t *testing.T) (Endpoint, <-chan net.Conn) {
	t.Helper()
	ln := listen(t)
	conns := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return endpointOf(t, TCP, ln), conns
}

func accept(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(3 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func dialDevice(t testing.TB, in *Injector, device int, ep Endpoint) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := in.Dialer(&NetDialer{Timeout: 3 * time.Second}, device).Establish(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func device(ids ...int) func(int) bool {
	return func(d int) bool {
		for _, id := range ids {
			if d == id {
				return true
			}
		}
		return false
	}
}

func mustApply(t testing.TB, in *Injector, sel func(int) bool, f Fault) FaultID {
	t.Helper()
	id, err := in.Apply(sel, f)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rtt times one 4-byte echo round trip.
func rtt(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	roundTrip(t, c)
	return time.Since(start)
}

type result struct {
	n   int
	err error
	b   []byte
	at  time.Time
}

// readAsync reads once into a buffer of size n in a goroutine.
func readAsync(c net.Conn, n int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		b := make([]byte, n)
		k, err := c.Read(b)
		ch <- result{n: k, err: err, b: b[:k], at: time.Now()}
	}()
	return ch
}

func expectNothing(t *testing.T, ch <-chan result, d time.Duration, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s returned during the fault: n=%d err=%v", what, r.n, r.err)
	case <-time.After(d):
	}
}

func expectResult(t *testing.T, ch <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(3 * time.Second):
		t.Fatalf("%s never returned", what)
		return result{}
	}
}

// faultGoroutines counts the pump and sender goroutines alive.
func faultGoroutines() int {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	return strings.Count(stacks, "(*connState).pumpLoop") + strings.Count(stacks, "(*connState).sendLoop")
}

// waitGoroutines waits until no pump or sender runs and at most n
// goroutines run in all.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Second)
	for faultGoroutines() > 0 || runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines (%d pumps and senders), want ≤ %d and none:\n%s",
				runtime.NumGoroutine(), faultGoroutines(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settledGoroutines waits for goroutines of earlier tests to end and
// returns the count.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			break
		}
		n = m
	}
	return n
}

// --- unit tests ----------------------------------------------------------

func TestFaultEffectCombines(t *testing.T) {
	faults := []*activeFault{
		{sel: nil, f: Fault{Latency: 10 * time.Millisecond, Bandwidth: 100_000}},
		{sel: device(1), f: Fault{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Bandwidth: 50_000}},
		{sel: device(1, 2), f: Fault{Stall: true, Bandwidth: 200_000}},
		{sel: device(3), f: Fault{Refuse: true}},
	}
	for _, tc := range []struct {
		device int
		want   effect
		refuse bool
	}{
		{0, effect{latency: 10 * time.Millisecond, bandwidth: 100_000}, false},
		{1, effect{latency: 30 * time.Millisecond, jitter: 5 * time.Millisecond, bandwidth: 50_000, stall: true}, false},
		{2, effect{latency: 10 * time.Millisecond, bandwidth: 100_000, stall: true}, false},
		{3, effect{latency: 10 * time.Millisecond, bandwidth: 100_000}, true},
	} {
		got, refuse := effectOf(faults, tc.device)
		if got != tc.want || refuse != tc.refuse {
			t.Errorf("device %d: effect %+v refuse %v, want %+v %v", tc.device, got, refuse, tc.want, tc.refuse)
		}
	}
	if _, err := NewInjector(nil, 1).Apply(nil, Fault{Latency: -1}); err == nil {
		t.Error("negative latency accepted")
	}
}

func TestFaultJitterSample(t *testing.T) {
	src := rand.NewPCG(1, 2)
	for _, tc := range []struct{ lat, jit, lo, hi time.Duration }{
		{20 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond},
		{5 * time.Millisecond, 10 * time.Millisecond, 0, 15 * time.Millisecond}, // clamped at 0
	} {
		e := effect{latency: tc.lat, jitter: tc.jit}
		lo, hi, sum, zeros := time.Hour, time.Duration(0), time.Duration(0), 0
		const n = 20000
		for range n {
			d := e.sample(src)
			if d < tc.lo || d > tc.hi {
				t.Fatalf("%v±%v: sample %v outside [%v, %v]", tc.lat, tc.jit, d, tc.lo, tc.hi)
			}
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
			if d == 0 {
				zeros++
			}
		}
		if lo > tc.lo+tc.jit/10 || hi < tc.hi-tc.jit/10 {
			t.Errorf("%v±%v: samples span only [%v, %v]", tc.lat, tc.jit, lo, hi)
		}
		if tc.lo > 0 {
			if mean := sum / n; mean < tc.lat-time.Millisecond || mean > tc.lat+time.Millisecond {
				t.Errorf("%v±%v: mean %v", tc.lat, tc.jit, mean)
			}
		} else if zeros == 0 {
			t.Errorf("%v±%v: never clamped to 0", tc.lat, tc.jit)
		}
	}
}

// TestFaultBucketRate runs the token bucket on simulated time, with timers
// on time and timers up to 150 ms late.
func TestFaultBucketRate(t *testing.T) {
	src := rand.New(rand.NewPCG(3, 4))
	for _, late := range []time.Duration{0, 150 * time.Millisecond} {
		for _, rate := range []int64{100, 1000, 50_000, 10 << 20} {
			var b bucket
			now := time.Unix(0, 0)
			b.setRate(rate, now)
			moved := 0
			end := now.Add(10 * time.Second)
			for now.Before(end) {
				if d := b.delay(now); d > 0 {
					now = now.Add(d + time.Duration(src.Int64N(int64(late)+1)))
					continue
				}
				p := b.piece(1 << 20)
				b.take(p, now)
				moved += p
			}
			want := float64(rate) * 10
			if got := float64(moved); got < want*0.99 || got > want*1.01+float64(2*burstOf(rate)) {
				t.Errorf("rate %d, timers up to %v late: moved %d bytes in 10 s, want ≈ %.0f", rate, late, moved, want)
			}
		}
	}
	// Idle time earns one burst at most.
	var b bucket
	now := time.Unix(0, 0)
	b.setRate(50_000, now)
	b.take(100_000, now) // a big debt, repaid while idle
	now = now.Add(time.Minute)
	if d := b.delay(now); d != 0 || b.tokens > float64(burstOf(50_000)) {
		t.Errorf("after a minute idle: delay %v, %.0f tokens, want at most one burst (%d)", d, b.tokens, burstOf(50_000))
	}
}

func TestFaultConnSize(t *testing.T) {
	if got := unsafe.Sizeof(faultConn{}); got != 72 {
		t.Errorf("faultConn is %d bytes; update the documented per-connection cost", got)
	}
	if got := unsafe.Sizeof(faultDialer{}); got != 32 {
		t.Errorf("faultDialer is %d bytes; update the documented per-device cost", got)
	}
	c := &faultConn{Conn: &nopConn{}, in: NewInjector(nil, 1)}
	b := make([]byte, 64)
	if a := testing.AllocsPerRun(100, func() { c.Write(b); c.Read(b) }); a != 0 {
		t.Errorf("fast path allocates %.1f times per Read+Write", a)
	}
}

// --- latency, jitter, bandwidth ------------------------------------------

func TestFaultLatencyKeepsOrder(t *testing.T) {
	const lat = 60 * time.Millisecond
	ep := echoEndpoint(t)
	in := NewInjector(NewSystemClock(), 1)
	slow, fast := dialDevice(t, in, 0, ep), dialDevice(t, in, 1, ep)
	id := mustApply(t, in, device(0), Fault{Latency: lat})

	if d := rtt(t, slow); d < 2*lat || d > 2*lat+250*time.Millisecond {
		t.Errorf("round trip under %v one-way latency took %v, want ≈ %v", lat, d, 2*lat)
	}
	if d := rtt(t, fast); d >= lat {
		t.Errorf("unselected device: round trip %v", d)
	}

	// 1,000 small writes: the delay line accepts them without blocking the
	// writer, and they come back in order about one round trip later.
	const n = 1000
	slow.SetDeadline(time.Now().Add(4 * time.Second))
	start := time.Now()
	var writeTime time.Duration
	werr := make(chan error, 1)
	go func() {
		var b [4]byte
		for i := range n {
			binary.BigEndian.PutUint32(b[:], uint32(i))
			if _, err := slow.Write(b[:]); err != nil {
				werr <- err
				return
			}
		}
		writeTime = time.Since(start)
		werr <- nil
	}()
	got := make([]byte, 4*n)
	if _, err := io.ReadFull(slow, got); err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if v := binary.BigEndian.Uint32(got[4*i:]); v != uint32(i) {
			t.Fatalf("message %d arrived as #%d: order not preserved", v, i)
		}
	}
	if writeTime >= lat {
		t.Errorf("1000 writes took %v: the writer was blocked by the latency", writeTime)
	}
	if total < 2*lat || total > 2*lat+500*time.Millisecond {
		t.Errorf("1000 echoed writes took %v, want about one round trip (%v)", total, 2*lat)
	}

	// A read deadline shorter than the latency times out without losing
	// the bytes in flight.
	slow.SetDeadline(time.Now().Add(lat / 3))
	if _, err := slow.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_, err := slow.Read(buf)
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	slow.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(slow, buf); err != nil || string(buf) != "late" {
		t.Fatalf("after the timeout: %q, %v", buf, err)
	}

	// Cleared: back to the fast path.
	in.Clear(id)
	if d := rtt(t, slow); d >= lat {
		t.Errorf("round trip after Clear: %v", d)
	}
	if st := slow.(*faultConn).st.Load(); st == nil || !st.quiet.Load() {
		t.Error("connection not back on the fast path after Clear")
	}
	if s := in.Stats(); s.BytesDelayed < 2*4*n {
		t.Errorf("BytesDelayed = %d, want ≥ %d", s.BytesDelayed, 2*4*n)
	}
}

func TestFaultJitterSpreadsRoundTrips(t *testing.T) {
	const lat, jit = 40 * time.Millisecond, 20 * time.Millisecond
	ep := echoEndpoint(t)
	in := NewInjector(NewSystemClock(), 7)
	c := dialDevice(t, in, 0, ep)
	mustApply(t, in, nil, Fault{Latency: lat, Jitter: jit})
	// Nothing comes back early; scheduling on a busy machine may make a
	// few round trips late, so the upper bound holds for most of them.
	const n = 16
	lo, hi, late := time.Hour, time.Duration(0), 0
	for range n {
		d := rtt(t, c)
		if d < 2*(lat-jit) {
			t.Errorf("round trip %v shorter than the least delay %v", d, 2*(lat-jit))
		}
		if d > 2*(lat+jit)+20*time.Millisecond {
			late++
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if late > n/4 {
		t.Errorf("%d of %d round trips longer than the largest delay %v", late, n, 2*(lat+jit))
	}
	if hi-lo < jit/2 {
		t.Errorf("round trips within [%v, %v]: jitter did not spread them", lo, hi)
	}
}

func TestFaultBandwidth(t *testing.T) {
	const rate, size = 50_000, 100_000
	ep := echoEndpoint(t)
	in := NewInjector(NewSystemClock(), 1)
	c := dialDevice(t, in, 0, ep)
	mustApply(t, in, nil, Fault{Bandwidth: rate})
	c.SetDeadline(time.Now().Add(4 * time.Second))

	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	start := time.Now()
	wdone := make(chan time.Duration, 1)
	go func() {
		for off := 0; off < size; off += 10_000 {
			if _, err := c.Write(data[off : off+10_000]); err != nil {
				t.Error(err)
				break
			}
		}
		wdone <- time.Since(start)
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	writeTime := <-wdone
	if !bytes.Equal(got, data) {
		t.Fatal("data corrupted")
	}
	want := time.Duration(size * int64(time.Second) / rate)
	for what, d := range map[string]time.Duration{"write": writeTime, "echo": elapsed} {
		if d < want*85/100 || d > want*115/100 {
			t.Errorf("%s of %d bytes at %d B/s took %v, want %v ±15%%", what, size, rate, d, want)
		}
	}
}

// --- stall, cut, refuse --------------------------------------------------

func TestFaultStall(t *testing.T) {
	ep, conns := handoffServer(t)
	in := NewInjector(NewSystemClock(), 1)
	c := dialDevice(t, in, 0, ep)
	srv := accept(t, conns)

	// The read is already blocked in the socket when the stall begins.
	reading := readAsync(c, 16)
	time.Sleep(20 * time.Millisecond)
	id := mustApply(t, in, nil, Fault{Stall: true})
	if _, err := srv.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, reading, 300*time.Millisecond, "read")

	writing := make(chan error, 1)
	go func() { _, err := c.Write([]byte("ping")); writing <- err }()
	srv.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := srv.Read(make([]byte, 4)); err == nil {
		t.Fatalf("server received %d bytes during the stall", n)
	}
	select {
	case err := <-writing:
		t.Fatalf("write returned during the stall: %v", err)
	default:
	}

	cleared := time.Now()
	in.Clear(id)
	r := expectResult(t, reading, "read")
	if r.err != nil || string(r.b) != "hello" {
		t.Fatalf("read after the stall: %q, %v", r.b, r.err)
	}
	if d := r.at.Sub(cleared); d > 200*time.Millisecond {
		t.Errorf("read resumed %v after Clear", d)
	}
	if err := <-writing; err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server after the stall: %q, %v", buf, err)
	}
	if s := in.Stats(); s.StallTime < 300*time.Millisecond {
		t.Errorf("StallTime = %v", s.StallTime)
	}

	// A deadline still bounds a stalled read, and no byte is lost.
	id = mustApply(t, in, nil, Fault{Stall: true})
	srv.Write([]byte("again"))
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	_, err := c.Read(buf)
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() || time.Since(start) > time.Second {
		t.Fatalf("stalled read with deadline: %v after %v", err, time.Since(start))
	}
	in.Clear(id)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf = make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "again" {
		t.Fatalf("after the timed-out stall: %q, %v", buf, err)
	}
}

func checkCutErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrConnectionCut) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want ErrConnectionCut", err)
	}
	if strings.Contains(err.Error(), "use of closed network connection") {
		t.Fatalf("err = %q: paho would ignore it", err)
	}
}

func TestFaultCut(t *testing.T) {
	ep, conns := handoffServer(t)
	in := NewInjector(NewSystemClock(), 1)
	idle := dialDevice(t, in, 0, ep) // fast path, read blocked in the socket
	srvIdle := accept(t, conns)
	busy := dialDevice(t, in, 1, ep) // delay lines running
	srvBusy := accept(t, conns)
	other := dialDevice(t, in, 2, ep)
	srvOther := accept(t, conns)
	mustApply(t, in, device(1), Fault{Latency: 30 * time.Millisecond})
	busy.Write([]byte("x"))
	srvBusy.Write([]byte("y"))
	if _, err := io.ReadFull(busy, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	busy.Write(bytes.Repeat([]byte("z"), 1000)) // pending in the write line

	rIdle, rBusy := readAsync(idle, 8), readAsync(busy, 8)
	time.Sleep(20 * time.Millisecond)
	mustApply(t, in, device(0, 1), Fault{Cut: true})

	checkCutErr(t, expectResult(t, rIdle, "idle read").err)
	checkCutErr(t, expectResult(t, rBusy, "busy read").err)
	for _, c := range []net.Conn{idle, busy} {
		_, err := c.Write([]byte("after"))
		checkCutErr(t, err)
		_, err = c.Read(make([]byte, 1))
		checkCutErr(t, err)
	}
	// The broker side sees the connection reset.
	for _, s := range []net.Conn{srvIdle, srvBusy} {
		s.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := io.ReadAll(s)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("server side: %v, want a connection reset", err)
		}
	}
	// Unselected devices keep their connection.
	other.Write([]byte("ok"))
	srvOther.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(srvOther, make([]byte, 2)); err != nil {
		t.Fatalf("unselected connection: %v", err)
	}
	if err := idle.Close(); err != nil {
		t.Errorf("Close after cut: %v", err)
	}
	if s := in.Stats(); s.ConnsCut != 2 {
		t.Errorf("ConnsCut = %d, want 2", s.ConnsCut)
	}
}

// fakeBroker answers CONNECT and PINGREQ, enough for a paho client.
func fakeBroker(t *testing.T) Endpoint {
	t.Helper()
	ln := listen(t)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					p, err := packets.ReadPacket(c)
					if err != nil {
						return
					}
					switch p.(type) {
					case *packets.ConnectPacket:
						packets.NewControlPacket(packets.Connack).Write(c)
					case *packets.PingreqPacket:
						packets.NewControlPacket(packets.Pingresp).Write(c)
					case *packets.DisconnectPacket:
						return
					}
				}
			}()
		}
	}()
	return endpointOf(t, TCP, ln)
}

// TestFaultCutPaho checks that paho notices a cut (it ignores read errors
// that look like its own close).
func TestFaultCutPaho(t *testing.T) {
	ep := fakeBroker(t)
	in := NewInjector(NewSystemClock(), 1)
	d := in.Dialer(&NetDialer{}, 5)
	lost := make(chan error, 1)
	opts := paho.NewClientOptions().AddBroker("tcp://" + ep.Address()).SetClientID("cut").
		SetKeepAlive(time.Minute).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err }).
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
			return d.Establish(context.Background(), ep)
		})
	cl := paho.NewClient(opts)
	// Under 30 ms of latency each way, connecting costs a TCP round trip
	// and the CONNECT/CONNACK round trip, read by paho in small Reads.
	const lat = 30 * time.Millisecond
	id := mustApply(t, in, nil, Fault{Latency: lat})
	start := time.Now()
	if tok := cl.Connect(); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if d := time.Since(start); d < 4*lat || d > 4*lat+200*time.Millisecond {
		t.Errorf("connect under %v latency took %v, want ≈ %v", lat, d, 4*lat)
	}
	in.Clear(id)
	mustApply(t, in, device(5), Fault{Cut: true})
	select {
	case err := <-lost:
		if !errors.Is(err, ErrConnectionCut) {
			t.Errorf("connection lost with %v, want ErrConnectionCut", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("paho did not notice the cut")
	}
}

func TestFaultRefuseAndEstablish(t *testing.T) {
	ep := echoEndpoint(t)
	in := NewInjector(NewSystemClock(), 1)
	ctx := context.Background()
	id := mustApply(t, in, device(0), Fault{Refuse: true})
	start := time.Now()
	_, err := in.Dialer(&NetDialer{}, 0).Establish(ctx, ep)
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, ErrConnectionRefused) ||
		!strings.Contains(err.Error(), "connection refused (fault injection)") {
		t.Fatalf("refused connect: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("refusal took %v", d)
	}
	roundTrip(t, dialDevice(t, in, 1, ep)) // not selected
	in.Clear(id)
	roundTrip(t, dialDevice(t, in, 0, ep)) // window over
	if s := in.Stats(); s.ConnectsRefused != 1 || s.Active != 0 {
		t.Errorf("stats %+v", s)
	}

	// Latency delays the connect by a round trip.
	id = mustApply(t, in, device(0), Fault{Latency: 50 * time.Millisecond})
	start = time.Now()
	dialDevice(t, in, 0, ep)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("connect under 50 ms latency took %v", d)
	}
	in.Clear(id)

	// A stall holds the connect until it is cleared, or the context ends.
	id = mustApply(t, in, device(0), Fault{Stall: true})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = in.Dialer(&NetDialer{}, 0).Establish(short, ep)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stalled connect: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := in.Dialer(&NetDialer{}, 0).Establish(ctx, ep)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("connect returned during the stall: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	in.Clear(id)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("connect not resumed after the stall")
	}
}

func TestFaultOverlap(t *testing.T) {
	const lat = 40 * time.Millisecond
	ep := echoEndpoint(t)
	in := NewInjector(NewSystemClock(), 1)
	c0, c1 := dialDevice(t, in, 0, ep), dialDevice(t, in, 1, ep)
	mustApply(t, in, nil, Fault{Latency: lat, Bandwidth: 200_000})
	extra := mustApply(t, in, device(0), Fault{Latency: lat, Bandwidth: 50_000})
	if d := rtt(t, c1); d < 2*lat || d >= 4*lat {
		t.Errorf("device 1 round trip %v, want ≈ %v", d, 2*lat)
	}
	if d := rtt(t, c0); d < 4*lat || d > 4*lat+250*time.Millisecond {
		t.Errorf("device 0 round trip %v, want ≈ %v (latencies add)", d, 4*lat)
	}
	// The lowest bandwidth wins: 25 KB each way at 50 KB/s through the
	// delay lines takes about 0.5 s.
	data := make([]byte, 25_000)
	c0.SetDeadline(time.Now().Add(4 * time.Second))
	start := time.Now()
	go c0.Write(data)
	if _, err := io.ReadFull(c0, make([]byte, len(data))); err != nil {
		t.Fatal(err)
	}
	if d, want := time.Since(start), 500*time.Millisecond+4*lat; d < want*85/100 || d > want*140/100 {
		t.Errorf("25 KB echo at 50 KB/s took %v, want ≈ %v", d, want)
	}
	// Stall ORs in; clearing it leaves the other faults.
	stall := mustApply(t, in, device(0), Fault{Stall: true})
	c0.SetDeadline(time.Now().Add(4 * time.Second))
	r := readAsync(c0, 4)
	w := make(chan error, 1)
	go func() { _, err := c0.Write([]byte("ping")); w <- err }()
	expectNothing(t, r, 200*time.Millisecond, "read")
	in.Clear(stall)
	if res := expectResult(t, r, "read"); res.err != nil || string(res.b) != "ping" {
		t.Fatalf("after the stall: %q %v", res.b, res.err)
	}
	in.Clear(extra)
	if d := rtt(t, c0); d < 2*lat || d >= 4*lat {
		t.Errorf("device 0 round trip after clearing its extra fault: %v", d)
	}
}

func TestFaultTLSAndMemory(t *testing.T) {
	p := newPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.serverCert}})
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, ln)
	ep := endpointOf(t, TLS, ln)
	ep.TLS = &TLSConfig{CAPEM: p.caPEM, ServerName: "broker.test"}
	in := NewInjector(NewSystemClock(), 1)
	tc := dialDevice(t, in, 0, ep)
	mc, err := in.Dialer(&NetDialer{Broker: &pipeAcceptor{}}, 1).Establish(context.Background(), Endpoint{Transport: Memory})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	id := mustApply(t, in, nil, Fault{Latency: 20 * time.Millisecond})
	for _, c := range []net.Conn{tc, mc} {
		if d := rtt(t, c); d < 40*time.Millisecond {
			t.Errorf("%T round trip %v under 20 ms latency", c.(*faultConn).Conn, d)
		}
	}
	in.Clear(id) // kicks the pumps out of their reads: TLS must survive it
	for _, c := range []net.Conn{tc, mc} {
		roundTrip(t, c)
	}
	mustApply(t, in, nil, Fault{Cut: true})
	for _, c := range []net.Conn{tc, mc} {
		_, err := c.Read(make([]byte, 1))
		checkCutErr(t, err)
	}
}

// TestFaultNoLeaks closes connections while faults delay them and clears
// faults while goroutines run, and checks that every goroutine ends.
func TestFaultNoLeaks(t *testing.T) {
	ep, conns := handoffServer(t)
	base := settledGoroutines()
	in := NewInjector(NewSystemClock(), 1)
	dial := func(dev int) (net.Conn, net.Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		c, err := in.Dialer(&NetDialer{}, dev).Establish(ctx, ep)
		if err != nil {
			t.Fatal(err)
		}
		return c, accept(t, conns)
	}

	// Closed by its owner with bytes in the write line and a blocked read:
	// the bytes are delivered, then the peer sees EOF.
	a, sa := dial(0)
	mustApply(t, in, device(0), Fault{Latency: 50 * time.Millisecond})
	ra := readAsync(a, 4)
	a.Write([]byte("bye"))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if r := expectResult(t, ra, "read on closed conn"); !errors.Is(r.err, net.ErrClosed) ||
		!strings.Contains(r.err.Error(), "use of closed network connection") {
		t.Errorf("read on a conn closed by its owner: %v", r.err)
	}
	sa.SetReadDeadline(time.Now().Add(3 * time.Second))
	if b, err := io.ReadAll(sa); err != nil || string(b) != "bye" {
		t.Errorf("peer of closed conn got %q, %v; want the pending bytes then EOF", b, err)
	}

	// Cleared while the pump and sender run.
	b, sb := dial(1)
	id := mustApply(t, in, device(1), Fault{Latency: 20 * time.Millisecond})
	rb := readAsync(b, 4)
	b.Write(make([]byte, 100_000))
	sb.Write([]byte("data"))
	expectResult(t, rb, "read")
	in.Clear(id)

	// Stalled and throttled, with a blocked writer and reader, then closed.
	c, _ := dial(2)
	mustApply(t, in, device(2), Fault{Bandwidth: 1000, Stall: true})
	rc := readAsync(c, 4)
	wc := make(chan error, 1)
	go func() { _, err := c.Write(make([]byte, 10_000)); wc <- err }()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	expectResult(t, rc, "stalled read")
	if err := <-wc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("stalled write after Close: %v", err)
	}

	// Cut while delayed.
	d, _ := dial(3)
	mustApply(t, in, device(3), Fault{Latency: 100 * time.Millisecond, Bandwidth: 10_000})
	d.Write(make([]byte, 50_000))
	rd := readAsync(d, 4)
	mustApply(t, in, device(3), Fault{Cut: true})
	checkCutErr(t, expectResult(t, rd, "read").err)

	// b is still open (its server side too): only its goroutines are
	// gone, the sender's after it flushed 100 KB.
	sb.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(sb, make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
	roundTripTo(t, b, sb)
	b.Close()
	d.Close()
	in.ClearAll()
	waitGoroutines(t, base)
	if s := in.Stats(); s.Conns != 0 || s.Active != 0 {
		t.Errorf("stats after closing everything: %+v", s)
	}
}

// roundTripTo sends a byte each way between c and its server side s.
func roundTripTo(t *testing.T, c, s net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	s.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// --- benchmarks ----------------------------------------------------------

// nopConn is a connection that moves bytes instantly, to measure the
// wrapper alone.
type nopConn struct{ net.Conn }

func (*nopConn) Read(b []byte) (int, error)  { return len(b), nil }
func (*nopConn) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkFaultOverhead measures one Write and one Read of 64 bytes with no
// active fault: raw, wrapped, and wrapped after a fault was cleared.
func BenchmarkFaultOverhead(b *testing.B) {
	in := NewInjector(nil, 1)
	past := &faultConn{Conn: &nopConn{}, in: in}
	in.register(past)
	id, _ := in.Apply(nil, Fault{Stall: true})
	in.Clear(id)
	fresh := &faultConn{Conn: &nopConn{}, in: in}
	in.register(fresh)
	buf := make([]byte, 64)
	for _, bc := range []struct {
		name string
		c    net.Conn
	}{{"raw", &nopConn{}}, {"wrapped", fresh}, {"wrapped-after-fault", past}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.c.Write(buf)
				bc.c.Read(buf)
			}
		})
	}
}

// BenchmarkFaultTCP is a 64-byte echo round trip over loopback TCP.
func BenchmarkFaultTCP(b *testing.B) {
	ln := listen(b)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	ep := Endpoint{Transport: TCP, Host: "127.0.0.1", Port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	in := NewInjector(nil, 1)
	raw, err := (&NetDialer{}).Establish(context.Background(), ep)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	wrapped := dialDevice(b, in, 0, ep)
	buf := make([]byte, 64)
	for _, bc := range []struct {
		name string
		c    net.Conn
	}{{"raw", raw}, {"wrapped", wrapped}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.c.Write(buf)
				io.ReadFull(bc.c, buf)
			}
		})
	}
}
