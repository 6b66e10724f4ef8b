// Benchmarks of the wrapper's fast path, alone and over loopback TCP.

package hal

import (
	"context"
	"io"
	"net"
	"testing"
)

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
	go serve(ln, func(c net.Conn) { go echo(c) })
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
