package hal

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers from a table and counts look-ups; names it does not
// know are not found. It never touches DNS.
type fakeResolver struct {
	mu      sync.Mutex
	hosts   map[string][]netip.Addr
	lookups atomic.Int64
	delay   time.Duration // makes concurrent callers overlap
}

func newFakeResolver(host string, addrs ...string) *fakeResolver {
	r := &fakeResolver{hosts: map[string][]netip.Addr{}}
	r.set(host, addrs...)
	return r
}

func (r *fakeResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts[host] = nil
	for _, a := range addrs {
		r.hosts[host] = append(r.hosts[host], netip.MustParseAddr(a))
	}
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.lookups.Add(1)
	if r.delay > 0 {
		// Slow on purpose (the one fixed sleep kept in these tests): a
		// look-up that takes a while makes concurrent dials overlap it,
		// which is what TestResolveOnce's single look-up is about. The
		// test's assertions do not depend on how long it takes.
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]netip.Addr(nil), a...), nil
}

// acceptAll accepts and closes connections until ln is closed.
func acceptAll(t *testing.T, ln net.Listener) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(ln, func(c net.Conn) { c.Close() })
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// dialMany dials ep n times from workers goroutines and returns the errors.
func dialMany(d *NetDialer, ep Endpoint, n, workers int) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range workers {
		wg.Go(func() {
			for range jobs {
				c, err := d.Establish(context.Background(), ep)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				c.Close()
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return errs
}

// TestResolveOnce: 1,000 concurrent dials of a host name cost one look-up;
// when the broker moves to another address, the devices that fail on the
// old one cost exactly one more, however many fail together; within the
// refresh interval there is no new look-up.
func TestResolveOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acceptAll(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	res := newFakeResolver("broker.test", "127.0.0.1")
	res.delay = 20 * time.Millisecond
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	d := &NetDialer{Resolver: res, Clock: clock}
	ep := Endpoint{Transport: TCP, Host: "broker.test", Port: uint16(port)}

	if errs := dialMany(d, ep, 1000, 50); len(errs) > 0 {
		t.Fatalf("%d dials failed, first: %v", len(errs), errs[0])
	}
	if n := res.lookups.Load(); n != 1 {
		t.Fatalf("1000 dials: %d look-ups, want 1", n)
	}

	// The broker moves to 127.0.0.2 (same port); DNS follows.
	ln.Close()
	ln2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2:%d: %v", port, err)
	}
	acceptAll(t, ln2)
	res.set("broker.test", "127.0.0.2")

	// Within the refresh interval the old address is kept: dials fail and
	// nothing is looked up.
	clock.Advance(DefaultRefreshInterval / 2)
	errs := dialMany(d, ep, 20, 20)
	if len(errs) != 20 || res.lookups.Load() != 1 {
		t.Fatalf("within the refresh interval: %d of 20 dials failed, %d look-ups; want 20 and 1", len(errs), res.lookups.Load())
	}
	if !strings.Contains(errs[0].Error(), ep.Address()) {
		t.Errorf("error %q does not name %s", errs[0], ep.Address())
	}

	// After it, a herd of devices failing together costs one look-up and
	// every one of them connects.
	clock.Advance(DefaultRefreshInterval)
	if errs := dialMany(d, ep, 500, 100); len(errs) > 0 {
		t.Fatalf("after the move: %d dials failed, first: %v", len(errs), errs[0])
	}
	if n := res.lookups.Load(); n != 2 {
		t.Fatalf("after the move: %d look-ups, want 2", n)
	}
}

// TestResolveIPLiteral: IP literals never reach the resolver.
func TestResolveIPLiteral(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acceptAll(t, ln)
	res := newFakeResolver("broker.test")
	d := &NetDialer{Resolver: res}
	ep := endpointOf(t, TCP, ln)
	if errs := dialMany(d, ep, 10, 2); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	ln.Close()
	if _, err := d.Establish(context.Background(), ep); err == nil {
		t.Fatal("dial of a closed listener succeeded")
	}
	if n := res.lookups.Load(); n != 0 {
		t.Fatalf("%d look-ups of an IP literal", n)
	}
}

// TestResolveFailure: a name that does not resolve fails with the name in
// the error, and is not looked up again by every device.
func TestResolveFailure(t *testing.T) {
	res := newFakeResolver("broker.test", "127.0.0.1")
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	d := &NetDialer{Resolver: res, Clock: clock}
	ep := Endpoint{Transport: TCP, Host: "nowhere.test", Port: 1883}
	errs := dialMany(d, ep, 100, 10)
	if len(errs) != 100 {
		t.Fatalf("%d of 100 dials failed", len(errs))
	}
	var dnsErr *net.DNSError
	if !errors.As(errs[0], &dnsErr) || !strings.Contains(errs[0].Error(), "nowhere.test") {
		t.Fatalf("err = %v, want a DNS error naming the host", errs[0])
	}
	if n := res.lookups.Load(); n != 1 {
		t.Fatalf("%d look-ups, want 1", n)
	}
	clock.Advance(DefaultRefreshInterval)
	_, _ = d.Establish(context.Background(), ep)
	if n := res.lookups.Load(); n != 2 {
		t.Fatalf("after the refresh interval: %d look-ups, want 2", n)
	}
}

// TestResolveRotation: devices spread over the addresses of a name.
func TestResolveRotation(t *testing.T) {
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	// Two names cannot share a port on one address, so the name resolves
	// to 127.0.0.1 and 127.0.0.3 with one listener moved there.
	port := lns[0].Addr().(*net.TCPAddr).Port
	lns[1].Close()
	ln3, err := net.Listen("tcp", net.JoinHostPort("127.0.0.3", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.3:%d: %v", port, err)
	}
	seen := make(chan string, 16)
	for _, ln := range []net.Listener{lns[0], ln3} {
		go serve(ln, func(c net.Conn) {
			seen <- c.LocalAddr().(*net.TCPAddr).IP.String()
			c.Close()
		})
		t.Cleanup(func() { ln.Close() })
	}
	d := &NetDialer{Resolver: newFakeResolver("broker.test", "127.0.0.1", "127.0.0.3")}
	ep := Endpoint{Transport: TCP, Host: "broker.test", Port: uint16(port)}
	got := map[string]int{}
	for range 4 {
		c, err := d.Establish(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		got[<-seen]++
	}
	if got["127.0.0.1"] != 2 || got["127.0.0.3"] != 2 {
		t.Fatalf("connections per address = %v, want 2 each", got)
	}
}

// TestResolveTLSServerName: a TLS dial of a host name resolves it but
// sends and verifies the name, not the address.
func TestResolveTLSServerName(t *testing.T) {
	p := newPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.serverCert}})
	if err != nil {
		t.Fatal(err)
	}
	sni := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() == nil {
			sni <- tc.ConnectionState().ServerName
		}
		_, _ = c.Read(make([]byte, 1))
	}()
	t.Cleanup(func() { ln.Close() })
	res := newFakeResolver("broker.test", "127.0.0.1")
	d := &NetDialer{Resolver: res, Timeout: 5 * time.Second}
	ep := Endpoint{Transport: TLS, Host: "broker.test", Port: uint16(ln.Addr().(*net.TCPAddr).Port),
		TLS: &TLSConfig{CAPEM: p.caPEM}}
	c, err := d.Establish(context.Background(), ep)
	if err != nil {
		t.Fatalf("TLS to broker.test: %v", err)
	}
	defer c.Close()
	if got := <-sni; got != "broker.test" {
		t.Fatalf("SNI = %q, want broker.test", got)
	}
	if n := res.lookups.Load(); n != 1 {
		t.Fatalf("%d look-ups, want 1", n)
	}
}
