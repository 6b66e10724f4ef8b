// Tests of the delay lines on live connections: latency keeps byte order,
// jitter spreads round trips, bandwidth limits, stalls, and overlapping
// faults.

package hal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

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

func TestFaultStall(t *testing.T) {
	ep, conns := handoffServer(t)
	in := NewInjector(NewSystemClock(), 1)
	c := dialDevice(t, in, 0, ep)
	srv := accept(t, conns)

	// The read is already blocked in the socket when the stall begins.
	reading := readAsync(c, 16)
	waitParked(t, readerFrame, "the read blocked in the socket")
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
	// The bytes are there to be read (in the socket; where the kernel
	// cannot tell, the read below still has to time out).
	waitFor(t, 5*time.Second, func() bool { n := queued(c); return n < 0 || n >= 5 }, `"again" to reach the stalled connection`)
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
