package hal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
)

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(time.Unix(1000, 0))
	done := make(chan struct{})
	go func() { c.SleepMs(1500); close(done) }()
	waitFor(t, 5*time.Second, func() bool { return c.Sleepers() > 0 }, "the sleeper to register")
	c.Advance(time.Second)
	// A window in which nothing may happen: the sleeper must not wake
	// after 1 s of fake time (a fixed wait is the point here).
	select {
	case <-done:
		t.Fatal("woke after 1 s of a 1.5 s sleep")
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(500 * time.Millisecond)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sleeper not woken")
	}
	if got := c.UptimeMs(); got != 1500 {
		t.Fatalf("UptimeMs = %d, want 1500", got)
	}
}

func TestSystemClockMonotonic(t *testing.T) {
	c := NewSystemClock()
	a := c.UptimeMs()
	c.SleepMs(5)
	if b := c.UptimeMs(); b < a+5 {
		t.Fatalf("uptime went from %d to %d over a 5 ms sleep", a, b)
	}
}

// echoServer accepts connections on ln and echoes; it reports the remote
// address of each accepted connection.
func echoServer(t *testing.T, ln net.Listener) <-chan net.Addr {
	t.Helper()
	remotes := make(chan net.Addr, 16)
	go serve(ln, func(c net.Conn) {
		remotes <- c.RemoteAddr()
		go echo(c)
	})
	t.Cleanup(func() { ln.Close() })
	return remotes
}

// serve accepts connections on ln until it is closed and hands each to
// handle.
func serve(ln net.Listener, handle func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		handle(c)
	}
}

// echo writes back what it reads from c until EOF, then closes c.
func echo(c net.Conn) { defer c.Close(); io.Copy(c, c) }

func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "ping" {
		t.Fatalf("echo = %q", buf)
	}
}

func endpointOf(t *testing.T, tr Transport, ln net.Listener) Endpoint {
	t.Helper()
	addr := ln.Addr().(*net.TCPAddr)
	return Endpoint{Transport: tr, Host: "127.0.0.1", Port: uint16(addr.Port)}
}

func TestTCPAndSourcePool(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	remotes := echoServer(t, ln)
	pool, err := NewSourcePool([]string{"127.0.0.2", "127.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	d := &NetDialer{Sources: pool}
	ep := endpointOf(t, TCP, ln)
	var got []string
	for i := 0; i < 4; i++ {
		c, err := d.Establish(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
		c.Close()
		got = append(got, (<-remotes).(*net.TCPAddr).IP.String())
	}
	want := "127.0.0.2 127.0.0.3 127.0.0.2 127.0.0.3"
	if strings.Join(got, " ") != want {
		t.Fatalf("source addresses = %v, want %s", got, want)
	}
	if _, err := NewSourcePool([]string{"nope"}); err == nil {
		t.Fatal("bad source address accepted")
	}
}

func TestTCPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := endpointOf(t, TCP, ln)
	ln.Close()
	_, err = (&NetDialer{}).Establish(context.Background(), ep)
	if err == nil || !strings.Contains(err.Error(), ep.Address()) {
		t.Fatalf("err = %v, want a connect error naming %s", err, ep.Address())
	}
}

// pki is a test CA (as PEM, a file and a pool), a server certificate for
// broker.test and a client certificate (CN device-1) it issued.
type pki struct {
	caPEM          []byte
	caFile         string
	serverCert     tls.Certificate
	clientCertFile string
	clientKeyFile  string
	clientCAs      *x509.CertPool
}

func newPKI(t *testing.T) pki {
	t.Helper()
	ca := testpki.NewCA(t, "fleetbench test CA")
	p := pki{caPEM: ca.CertPEM(), caFile: ca.CertFile, serverCert: ca.ServerCertificate(t, "broker.test"), clientCAs: ca.Pool()}
	p.clientCertFile, p.clientKeyFile = ca.Client(t, "device-1")
	return p
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{p.serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: p.clientCAs,
	})
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, ln)
	ep := endpointOf(t, TLS, ln)
	d := &NetDialer{Timeout: 5 * time.Second}

	// Verification is on by default: the test CA is unknown to the system.
	ep.TLS = &TLSConfig{ServerName: "broker.test"}
	_, err = d.Establish(context.Background(), ep)
	if err == nil || !strings.Contains(err.Error(), "tls handshake") {
		t.Fatalf("unknown CA accepted or unclear error: %v", err)
	}
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("error does not carry x509.UnknownAuthorityError: %v", err)
	}
	// Right CA, SNI name matches the certificate.
	ep.TLS = &TLSConfig{CAFile: p.caFile, ServerName: "broker.test", CertFile: p.clientCertFile, KeyFile: p.clientKeyFile}
	c, err := d.Establish(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	if st := c.(*tls.Conn).ConnectionState(); st.ServerName != "broker.test" {
		t.Fatalf("SNI = %q", st.ServerName)
	}
	c.Close()
	// Right CA, wrong name.
	ep.TLS = &TLSConfig{CAPEM: p.caPEM, ServerName: "other.test"}
	if _, err := d.Establish(context.Background(), ep); err == nil {
		t.Fatal("certificate for broker.test accepted as other.test")
	}
	// Insecure skip verify is an explicit choice.
	ep.TLS = &TLSConfig{InsecureSkipVerify: true}
	c, err = d.Establish(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	// Cert without key.
	ep.TLS = &TLSConfig{CAFile: p.caFile, CertFile: p.clientCertFile}
	if _, err := d.Establish(context.Background(), ep); err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("cert without key: %v", err)
	}
}

type pipeAcceptor struct{ closed bool }

func (a *pipeAcceptor) AcceptConn(c net.Conn) error {
	if a.closed {
		return errors.New("broker closed")
	}
	go echo(c)
	return nil
}

func TestMemory(t *testing.T) {
	acc := &pipeAcceptor{}
	d := &NetDialer{Broker: acc}
	c, err := d.Establish(context.Background(), Endpoint{Transport: Memory})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	acc.closed = true
	if _, err := d.Establish(context.Background(), Endpoint{Transport: Memory}); err == nil {
		t.Fatal("closed broker accepted a connection")
	}
	if _, err := (&NetDialer{}).Establish(context.Background(), Endpoint{Transport: Memory}); err == nil {
		t.Fatal("memory transport without broker accepted")
	}
}

func TestRaiseFDLimit(t *testing.T) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	// Lower the soft limit, then ask for a bit more: it is raised.
	low := l
	low.Cur = min(l.Max, 1024)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	got, err := RaiseFDLimit(min(l.Max, 2048))
	if err != nil || got < min(l.Max, 2048) {
		t.Fatalf("RaiseFDLimit = %d, %v", got, err)
	}
	// More than the hard limit: a clear error, the soft limit at the hard one.
	got, err = RaiseFDLimit(l.Max + 1)
	if err == nil || got != l.Max || !strings.Contains(err.Error(), "hard limit") {
		t.Fatalf("RaiseFDLimit beyond the hard limit = %d, %v", got, err)
	}
}
