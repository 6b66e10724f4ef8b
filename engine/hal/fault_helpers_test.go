// Helpers of the fault injection tests: servers to dial, devices to dial
// through an Injector, asynchronous reads and goroutine accounting.

package hal

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

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
	go serve(ln, func(c net.Conn) { conns <- c })
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
	if !poll(4*time.Second, 10*time.Millisecond, func() bool { return faultGoroutines() == 0 && runtime.NumGoroutine() <= n }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines (%d pumps and senders), want ≤ %d and none:\n%s",
			runtime.NumGoroutine(), faultGoroutines(), n, buf[:runtime.Stack(buf, true)])
	}
}

// settledGoroutines waits (up to 0.5 s) for the goroutines of earlier
// tests to end, that is for no pump or sender to run and the count to
// stay the same over 10 ms, and returns the count.
func settledGoroutines() int {
	prev := -1
	poll(500*time.Millisecond, 10*time.Millisecond, func() bool {
		n := runtime.NumGoroutine()
		same := n == prev
		prev = n
		return same && faultGoroutines() == 0
	})
	return runtime.NumGoroutine()
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

// fakeBroker answers CONNECT and PINGREQ, enough for a paho client.
func fakeBroker(t *testing.T) Endpoint {
	t.Helper()
	ln := listen(t)
	t.Cleanup(func() { ln.Close() })
	go serve(ln, func(c net.Conn) {
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
	})
	return endpointOf(t, TCP, ln)
}

// nopConn is a connection that moves bytes instantly, to measure the
// wrapper alone.
type nopConn struct{ net.Conn }

func (*nopConn) Read(b []byte) (int, error)  { return len(b), nil }
func (*nopConn) Write(b []byte) (int, error) { return len(b), nil }
