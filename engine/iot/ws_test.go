package iot

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
	"github.com/fleetbench/fleetbench/engine/hal"
)

// wssTLS is the client side of the test PKI: its CA, SNI broker.test.
func wssTLS(files testpki.Files) *hal.TLSConfig {
	return &hal.TLSConfig{CAFile: files.CA, ServerName: testpki.ServerName}
}

// embeddedWSTargets are the embedded broker's WebSocket listeners, ws://
// and wss:// (test PKI).
func embeddedWSTargets(t *testing.T) []target {
	t.Helper()
	files := testpki.New(t)
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	ws := startEmbedded(t, broker.Options{DisableTCP: true, WSAddr: "127.0.0.1:0"})
	wss := startEmbedded(t, broker.Options{DisableTCP: true, WSAddr: "127.0.0.1:0",
		WSTLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	wssEP := wss.WSEndpoint()
	wssEP.TLS = wssTLS(files)
	return []target{
		{name: "embedded-ws", endpoint: ws.WSEndpoint(), dialer: &hal.NetDialer{}},
		{name: "embedded-wss", endpoint: wssEP, dialer: &hal.NetDialer{}},
	}
}

// TestWSRoundTrip: QoS 0, 1 and 2 round trips with exact counts over ws://
// and wss:// into the embedded broker, on both clients.
func TestWSRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("12 round trips, about 3 s")
	}
	for _, tg := range onClients(embeddedWSTargets(t)) {
		for _, qos := range []QoS{QoS0, QoS1, QoS2} {
			t.Run(fmt.Sprintf("%s/qos%d", tg.name, qos), func(t *testing.T) { testRoundTrip(t, tg, qos) })
		}
	}
}

// TestWSRoundTripMosquitto: the same against mosquitto's websockets
// listeners (skipped, saying so, where mosquitto lacks websockets).
func TestWSRoundTripMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("12 round trips against mosquitto, about 6 s")
	}
	files := testpki.New(t)
	b := mosquitto.Start(t, mosquitto.Options{WebSockets: true, TLS: &mosquitto.TLSFiles{
		CAFile: files.CA, CertFile: files.ServerCert, KeyFile: files.ServerKey,
	}})
	ws := hal.Endpoint{Transport: hal.WS, Host: b.Host, Port: uint16(b.WSPort), Path: "/mqtt"}
	wss := hal.Endpoint{Transport: hal.WSS, Host: b.Host, Port: uint16(b.WSSPort), Path: "/mqtt", TLS: wssTLS(files)}
	if ws.String() != b.WSURL() || wss.String() != b.WSSURL() {
		t.Fatalf("endpoints %s, %s; harness URLs %s, %s", ws, wss, b.WSURL(), b.WSSURL())
	}
	for _, tg := range onClients([]target{
		{name: "mosquitto-ws", endpoint: ws, dialer: &hal.NetDialer{}},
		{name: "mosquitto-wss", endpoint: wss, dialer: &hal.NetDialer{}},
	}) {
		for _, qos := range []QoS{QoS0, QoS1, QoS2} {
			t.Run(fmt.Sprintf("%s/qos%d", tg.name, qos), func(t *testing.T) { testRoundTrip(t, tg, qos) })
		}
	}
}

// TestWSByteCounts: the byte counters see MQTT bytes, not WebSocket
// frames: a connect over ws:// counts exactly what the same connect over
// TCP counts, on both clients.
func TestWSByteCounts(t *testing.T) {
	b := startEmbedded(t, broker.Options{WSAddr: "127.0.0.1:0"})
	for _, client := range clients {
		t.Run(client, func(t *testing.T) {
			var counts [2]Stats
			var live [2][2]atomic.Int64
			for i, ep := range []hal.Endpoint{tcpEndpoint(t, b.Addr()), b.WSEndpoint()} {
				tg := target{name: string(ep.Transport), endpoint: ep, dialer: &hal.NetDialer{}, client: client}
				h, _ := construct(t, tg, "bytes-"+client, func(p *Params) {
					p.CountBytes = func(in, out int64) { live[i][0].Add(in); live[i][1].Add(out) }
				})
				counts[i] = h.Stats()
				if err := h.Destroy(); err != nil {
					t.Fatal(err)
				}
			}
			tcp, ws := counts[0], counts[1]
			if ws.BytesIn != tcp.BytesIn || ws.BytesOut != tcp.BytesOut || tcp.BytesIn != 4 {
				t.Fatalf("connect counted in/out %d/%d over ws, %d/%d over tcp; want equal, 4 bytes in (the CONNACK)",
					ws.BytesIn, ws.BytesOut, tcp.BytesIn, tcp.BytesOut)
			}
			if live[1][0].Load() < ws.BytesIn || live[1][1].Load() < ws.BytesOut {
				t.Fatalf("CountBytes saw %d/%d over ws, Stats %d/%d", live[1][0].Load(), live[1][1].Load(), ws.BytesIn, ws.BytesOut)
			}
		})
	}
}

// countingDialer counts Establish calls.
type countingDialer struct {
	next hal.Dialer
	n    atomic.Int64
}

func (d *countingDialer) Establish(ctx context.Context, ep hal.Endpoint) (net.Conn, error) {
	d.n.Add(1)
	return d.next.Establish(ctx, ep)
}

// TestWSConnectRefusals: a ws:// URL to a plain MQTT port, an HTTP server
// that refuses the upgrade and a wrong path each fail the connect at once
// (one transport attempt, no retry, no timeout) with ErrNotMQTT and the
// WebSocket reason, on both clients.
func TestWSConnectRefusals(t *testing.T) {
	b := startEmbedded(t, broker.Options{WSAddr: "127.0.0.1:0"})
	plain := tcpEndpoint(t, b.Addr())
	plain.Transport = hal.WS
	wrongPath := b.WSEndpoint()
	wrongPath.Path = "/ws"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upgrades are not served here", http.StatusForbidden)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	refusing := tcpEndpoint(t, ln.Addr().String())
	refusing.Transport = hal.WS

	cases := []struct {
		name   string
		ep     hal.Endpoint
		reason string
		status int
	}{
		{"plain MQTT port", plain, hal.WSReasonHandshake, 0},
		{"upgrade refused", refusing, hal.WSReasonUpgradeRefused, http.StatusForbidden},
		{"wrong path", wrongPath, hal.WSReasonUpgradeRefused, http.StatusNotFound},
	}
	for _, client := range clients {
		for _, tc := range cases {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				// The profile's 3 transport tries 1 s apart: a retry
				// would show in the count and the time.
				d := &countingDialer{next: &hal.NetDialer{}}
				start := time.Now()
				_, err := Construct(context.Background(), Params{
					Client: client, Endpoint: tc.ep, Dialer: d, ClientID: "refused", CleanSession: true,
				})
				if err == nil {
					t.Fatal("connected")
				}
				if !errors.Is(err, ErrNotMQTT) {
					t.Fatalf("err = %v, want ErrNotMQTT", err)
				}
				if reason, status := hal.WSReason(err); reason != tc.reason || status != tc.status {
					t.Fatalf("WSReason = %q, %d; want %q, %d (err: %v)", reason, status, tc.reason, tc.status, err)
				}
				if errors.Is(err, ErrConnectTimeout) || isTimeoutErr(err) {
					t.Fatalf("a refusal reads as a timeout: %v", err)
				}
				if n := d.n.Load(); n != 1 {
					t.Errorf("%d transport attempts, want 1 (a refused handshake is final)", n)
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("took %v", took)
				}
				if !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("error does not name the reason: %v", err)
				}
			})
		}
	}
}
