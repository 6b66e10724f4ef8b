package mosquitto

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
)

func TestStartStopRestart(t *testing.T) {
	b := Start(t, Options{})
	dial := func() error {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatalf("broker not listening: %v", err)
	}
	b.Kill()
	if err := dial(); err == nil {
		t.Fatal("broker still listening after Kill")
	}
	b.Restart()
	if err := dial(); err != nil {
		t.Fatalf("broker not listening after Restart: %v", err)
	}
}

// TestTLSListener checks the TLS listener with certificates from testpki:
// a client that trusts the test CA completes the handshake for the
// certificate's DNS name, and a listener that requires client certificates
// rejects a client without one and accepts one with it.
func TestTLSListener(t *testing.T) {
	pki := testpki.New(t)
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(pki.CA)
	if err != nil || !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("read CA: %v", err)
	}
	client, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	// handshake completes a TLS handshake and one read, so that a
	// TLS 1.3 server's rejection of the client certificate (sent after the
	// client considers the handshake done) is seen too.
	handshake := func(addr string, certs []tls.Certificate) error {
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
			RootCAs: roots, ServerName: testpki.ServerName, Certificates: certs, MinVersion: tls.VersionTLS12,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		return nil
	}

	plain := Start(t, Options{TLS: &TLSFiles{CAFile: pki.CA, CertFile: pki.ServerCert, KeyFile: pki.ServerKey}})
	if plain.TLSPort == 0 || plain.TLSURL() != "mqtts://"+plain.TLSAddr() {
		t.Fatalf("TLSPort %d TLSURL %q", plain.TLSPort, plain.TLSURL())
	}
	if err := handshake(plain.TLSAddr(), nil); err != nil {
		t.Fatalf("TLS listener: %v\nmosquitto: %s", err, plain.Output())
	}

	strict := Start(t, Options{TLS: &TLSFiles{CAFile: pki.CA, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, RequireClientCert: true}})
	if err := handshake(strict.TLSAddr(), nil); err == nil {
		t.Fatal("require_certificate listener accepted a client without a certificate")
	}
	if err := handshake(strict.TLSAddr(), []tls.Certificate{client}); err != nil {
		t.Fatalf("client certificate rejected: %v\nmosquitto: %s", err, strict.Output())
	}
}
