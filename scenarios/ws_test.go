package scenarios

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrokerWebSocketURLs: ws:// and wss:// URLs, their default ports
// and paths, and the forms refused at load.
func TestBrokerWebSocketURLs(t *testing.T) {
	for _, tt := range []struct {
		url       string
		transport Transport
		addr      string
		path      string
	}{
		{"ws://localhost", TransportWS, "localhost:80", ""},
		{"ws://127.0.0.1:8083/mqtt", TransportWS, "127.0.0.1:8083", "/mqtt"},
		{"WSS://broker.example/", TransportWSS, "broker.example:443", "/"},
		{"wss://[::1]:8084/a%20b/mqtt", TransportWSS, "[::1]:8084", "/a%20b/mqtt"},
	} {
		s := mustParse(t, fmt.Sprintf("duration: 1s\nbroker: {url: %q}\ndevices: [{name: g, count: 1}]\n", tt.url))
		b := s.Broker
		if b.Embedded() || b.Transport != tt.transport || b.Addr() != tt.addr || b.Path != tt.path ||
			(b.TLS != nil) != (tt.transport == TransportWSS) || b.URL != tt.url {
			t.Errorf("%s: %+v", tt.url, b)
		}
	}
	s := mustParse(t, "duration: 1s\nbroker: {url: \"mqtt://h/\"}\ndevices: [{name: g, count: 1}]\n")
	if s.Broker.Path != "" {
		t.Errorf("mqtt:// URL got a path: %q", s.Broker.Path)
	}
	s = mustParse(t, "duration: 1s\nbroker:\n  url: wss://b.example:8084/mqtt\n  tls: {server_name: x.example}\ndevices: [{name: g, count: 1}]\n")
	if s.Broker.TLS == nil || s.Broker.TLS.ServerName != "x.example" {
		t.Errorf("wss:// with tls: %+v", s.Broker.TLS)
	}

	for _, tt := range []struct{ yaml, want string }{
		{`broker: {url: "ws://h:8083/mqtt?x=1"}`, `broker.url: "ws://h:8083/mqtt?x=1" has a query or fragment, which a WebSocket broker URL does not take; write ws://host:port/path (default path /mqtt)`},
		{`broker: {url: "wss://h/mqtt#frag"}`, `has a query or fragment`},
		{`broker: {url: "ws://h/mqtt?"}`, `has a query or fragment`},
		{`broker: {url: "ws://:8083/mqtt"}`, `has no host`},
		{`broker: {url: "ws://h:0/mqtt"}`, `port 0 is out of range`},
		{"broker:\n  url: ws://h/mqtt\n  tls: {insecure_skip_verify: true}", `broker.tls: TLS settings with a plain WebSocket URL (ws://h/mqtt); use wss:// in broker.url`},
		{`broker: {url: "mqtt://h/mqtt"}`, `has a path or query`},
	} {
		_, err := parseTest(t, "duration: 1s\n"+tt.yaml+"\ndevices: [{name: g, count: 1}]\n")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "testdata/case.yaml:") {
			t.Errorf("%s:\n got %v\nwant …%s", tt.yaml, err, tt.want)
		}
	}
}

// FuzzBrokerURL: parseBrokerURL never panics, and a URL it accepts has a
// known transport, a host, a port in range, and a path only for ws:// and
// wss:// (never with a query or fragment).
func FuzzBrokerURL(f *testing.F) {
	for _, s := range []string{"mqtt://h", "mqtts://h:8883", "ws://h:8083/mqtt", "wss://[::1]/a%2Fb", "ws://h/?", "ws://h/#x", "tcp://:1", "ws://h:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var b Broker
		if msg, _ := parseBrokerURL(raw, &b); msg != "" {
			return
		}
		switch b.Transport {
		case TransportTCP, TransportTLS:
			if b.Path != "" {
				t.Fatalf("%q: %s URL with path %q", raw, b.Transport, b.Path)
			}
		case TransportWS, TransportWSS:
			if strings.ContainsAny(b.Path, "?#") {
				t.Fatalf("%q: path %q", raw, b.Path)
			}
		default:
			t.Fatalf("%q: transport %q", raw, b.Transport)
		}
		if b.Host == "" || b.Port < 1 || b.Port > 65535 || b.URL != raw {
			t.Fatalf("%q: %+v", raw, b)
		}
	})
}
