package broker

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// connect311 is an MQTT 3.1.1 CONNECT of client "c", clean session,
// keepalive 60 s.
var connect311 = []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'c'}

// TestWSListener: the WebSocket listener serves MQTT on its path only,
// refuses what is not an upgrade, and Close ends its connections and its
// goroutines.
func TestWSListener(t *testing.T) {
	waitFor(t, "goroutines of earlier tests to end", func() bool { return brokerGoroutines() == 0 })
	b, err := New(Options{DisableTCP: true, WSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b.Addr() != "" || !strings.HasPrefix(b.WSURL(), "ws://127.0.0.1:") || !strings.HasSuffix(b.WSURL(), "/mqtt") {
		t.Fatalf("Addr %q, WSURL %q", b.Addr(), b.WSURL())
	}
	if ep := b.WSEndpoint(); ep.String() != b.WSURL() {
		t.Fatalf("WSEndpoint %s, WSURL %s", ep, b.WSURL())
	}
	httpURL := "http://" + b.WSAddr()
	for path, want := range map[string]int{"/other": http.StatusNotFound, "/mqtt": http.StatusBadRequest} {
		resp, err := http.Get(httpURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without an upgrade: %d, want %d", path, resp.StatusCode, want)
		}
	}

	c, err := (&hal.NetDialer{Timeout: 5 * time.Second}).Establish(context.Background(), b.WSEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(connect311); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || string(ack) != "\x20\x02\x00\x00" {
		t.Fatalf("CONNACK = %x, %v; want 20020000", ack, err)
	}
	waitFor(t, "the client to be counted", func() bool { return b.Stats().ClientsConnected == 1 })

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(ack); err != io.EOF {
		t.Fatalf("read after Close = %d, %v; want io.EOF", n, err)
	}
	waitFor(t, "the broker's goroutines to end", func() bool { return brokerGoroutines() == 0 })
}
