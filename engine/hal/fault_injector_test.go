// Tests of the Injector's faults on connections and connects: cut (also as
// paho sees it), refuse, TLS and in-memory transports, and that no goroutine
// outlives its connection.

package hal

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

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
	waitParked(t, readerFrame, "both reads blocked before the cut")
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
	wc := writeAsync(c, make([]byte, 10_000))
	waitParked(t, readerFrame, "the stalled read blocked")
	waitParked(t, writerFrame, "the stalled write blocked")
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
