package actors

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
	"github.com/fleetbench/fleetbench/scenarios"
)

// TestRunWebSocket runs a fleet over ws:// (native session and paho) and
// wss:// (test PKI) into an embedded broker's WebSocket listener, given to
// the scenario as an external broker URL: counts are exact.
func TestRunWebSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: full fleet runs")
	}
	files := testpki.New(t)
	cert, err := tls.LoadX509KeyPair(files.ServerCert, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	start := func(opts broker.Options) *broker.Broker {
		b, err := broker.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	ws := start(broker.Options{DisableTCP: true, WSAddr: "127.0.0.1:0"})
	wss := start(broker.Options{DisableTCP: true, WSAddr: "127.0.0.1:0", WSTLS: &tls.Config{Certificates: []tls.Certificate{cert}}})

	const n, m = 20, 10
	cases := []struct {
		name string
		sc   func() *scenarios.Scenario
		b    *broker.Broker
		want int64
	}{
		{"native/ws", func() *scenarios.Scenario { return selfRoundTrip(t, ws.WSURL(), n, m, 1) }, ws, n * m},
		{"paho/ws", func() *scenarios.Scenario {
			sc := selfRoundTrip(t, ws.WSURL(), n, m, 2)
			sc.Groups[0].Client = scenarios.ClientPaho
			return sc
		}, ws, n * m},
		{"native/wss", func() *scenarios.Scenario {
			return tlsRoundTrip(t, wss.WSURL(), 2*time.Second, map[string]any{"ca": files.CA, "server_name": testpki.ServerName})
		}, wss, tlsDevices * tlsMessages},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := tc.sc()
			if sc.Broker.Transport != scenarios.TransportWS && sc.Broker.Transport != scenarios.TransportWSS {
				t.Fatalf("scenario transport %q", sc.Broker.Transport)
			}
			before := tc.b.Stats().MessagesReceived
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := Run(ctx, sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tot := res.Totals
			if tot.Published != tc.want || tot.Acked != tc.want || tot.Received != tc.want || tot.Expected != tc.want ||
				tot.Lost != 0 || tot.Duplicates != 0 || tot.ConnectFailed != 0 {
				t.Fatalf("totals %+v; want %d published, acked and received, nothing lost or failed", tot, tc.want)
			}
			if got := tc.b.Stats().MessagesReceived - before; got != tc.want {
				t.Fatalf("the broker received %d publishes, want %d", got, tc.want)
			}
		})
	}
}

// TestRunWebSocketRefusals: a ws:// URL whose path the broker does not
// serve fails every connect at once as ws_upgrade_refused, and the first
// logged error names the HTTP status; a ws:// URL to an HTTP server that
// refuses upgrades fails the same way; a ws:// URL to a plain MQTT port
// fails as ws_handshake.
func TestRunWebSocketRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: full fleet runs")
	}
	b, err := broker.New(broker.Options{DisableTCP: true, WSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	plain, err := broker.New(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	for _, tc := range []struct{ name, url, reason, errText string }{
		{"wrong path", "ws://" + b.WSAddr() + "/ws", "ws_upgrade_refused", "HTTP 404"},
		{"upgrade refused", "ws://" + ln.Addr().String() + "/mqtt", "ws_upgrade_refused", "HTTP 403"},
		{"plain MQTT port", "ws://" + plain.Addr() + "/mqtt", "ws_handshake", "no HTTP answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := tlsRoundTrip(t, tc.url, 2*time.Second, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			logs := &logBuffer{}
			res, err := Run(ctx, sc, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			assertConnectsFail(t, res, []string{tc.reason})
			if first := logs.first(`msg="connect failed`); !strings.Contains(first, tc.errText) {
				t.Fatalf("first connect error does not say %q: %s", tc.errText, first)
			}
		})
	}
}
