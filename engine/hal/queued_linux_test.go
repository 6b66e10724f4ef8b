package hal

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// queued returns how many received bytes wait unread in the kernel for
// the socket under c (a fault connection or a TCP connection), or -1 when
// that cannot be told.
func queued(c net.Conn) int {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	_ = raw.Control(func(fd uintptr) {
		var v int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); e == 0 {
			n = int(v)
		}
	})
	return n
}

// TestQueued: the helper sees bytes waiting in a TCP socket, also under a
// fault connection, and none once they are read.
func TestQueued(t *testing.T) {
	ep, conns := handoffServer(t)
	c := dialDevice(t, NewInjector(NewSystemClock(), 1), 0, ep)
	srv := accept(t, conns)
	if n := queued(c); n != 0 {
		t.Fatalf("queued = %d before any byte was sent", n)
	}
	if _, err := srv.Write([]byte("12345")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return queued(c) == 5 }, "5 bytes queued")
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	if n := queued(c); n != 0 {
		t.Fatalf("queued = %d after reading everything", n)
	}
}
