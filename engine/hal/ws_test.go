package hal

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsServer is a WebSocket server on loopback for the adapter's tests: it
// checks the path and subprotocol, then hands each upgraded connection to
// handle. It records each request's remote address and path.
type wsServer struct {
	ep       Endpoint
	requests chan *http.Request
}

func startWSServer(t *testing.T, tlsCfg *tls.Config, handle func(*websocket.Conn)) *wsServer {
	t.Helper()
	ln := listen(t)
	tr := WS
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		tr = WSS
	}
	s := &wsServer{ep: endpointOf(t, tr, ln), requests: make(chan *http.Request, 16)}
	up := websocket.Upgrader{Subprotocols: []string{"mqtt"}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests <- r
		if r.URL.Path != DefaultWSPath {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if c.Subprotocol() != "mqtt" {
			c.Close()
			return
		}
		handle(c)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// wsEcho echoes every message back as it came, type included.
func wsEcho(c *websocket.Conn) {
	defer c.Close()
	for {
		typ, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, b); err != nil {
			return
		}
	}
}

func (s *wsServer) request(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-s.requests:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the server")
		return nil
	}
}

func TestWSRoundTripAndSourcePool(t *testing.T) {
	s := startWSServer(t, nil, wsEcho)
	pool, err := NewSourcePool([]string{"127.0.0.2", "127.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	d := &NetDialer{Sources: pool, Timeout: 5 * time.Second}
	var got []string
	for i := 0; i < 2; i++ {
		c, err := d.Establish(context.Background(), s.ep)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
		r := s.request(t)
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		got = append(got, host)
		if r.URL.Path != "/mqtt" || r.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
			t.Errorf("request path %q, subprotocols %q; want /mqtt and mqtt", r.URL.Path, r.Header.Get("Sec-WebSocket-Protocol"))
		}
		c.Close()
	}
	if strings.Join(got, " ") != "127.0.0.2 127.0.0.3" {
		t.Fatalf("source addresses = %v, want 127.0.0.2 then 127.0.0.3", got)
	}
	if want := "ws://" + s.ep.Address() + "/mqtt"; s.ep.String() != want {
		t.Errorf("String() = %q, want %q", s.ep.String(), want)
	}
}

// TestWSStream: reads end inside a message and resume in it, a message is
// never merged with the next, empty messages are skipped, a close frame
// reads as io.EOF.
func TestWSStream(t *testing.T) {
	sent := make(chan struct{})
	s := startWSServer(t, nil, func(c *websocket.Conn) {
		defer c.Close()
		for _, m := range []string{"abcdef", "", "gh"} {
			if err := c.WriteMessage(websocket.BinaryMessage, []byte(m)); err != nil {
				return
			}
		}
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "one packet" {
			return
		}
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		close(sent)
		c.ReadMessage() // until the client closes
	})
	c, err := (&NetDialer{Timeout: 5 * time.Second}).Establish(context.Background(), s.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var reads []string
	buf := make([]byte, 4)
	for len(strings.Join(reads, "")) < 8 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read after %q: %v", reads, err)
		}
		reads = append(reads, string(buf[:n]))
	}
	if got := strings.Join(reads, "|"); got != "abcd|ef|gh" {
		t.Fatalf("reads = %s, want abcd|ef|gh", got)
	}
	if _, err := c.Write([]byte("one packet")); err != nil {
		t.Fatal(err)
	}
	<-sent
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after a close frame = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestWSTextMessageRefused(t *testing.T) {
	s := startWSServer(t, nil, func(c *websocket.Conn) {
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte("hello"))
		c.ReadMessage()
	})
	c, err := (&NetDialer{Timeout: 5 * time.Second}).Establish(context.Background(), s.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, errWSText) {
		t.Fatalf("text message read: %v, want errWSText", err)
	}
}

func TestWSDeadline(t *testing.T) {
	s := startWSServer(t, nil, func(c *websocket.Conn) { defer c.Close(); c.ReadMessage() })
	c, err := (&NetDialer{Timeout: 5 * time.Second}).Establish(context.Background(), s.ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded and a net.Error timeout", err)
	}
}

func TestWSS(t *testing.T) {
	p := newPKI(t)
	s := startWSServer(t, &tls.Config{
		Certificates: []tls.Certificate{p.serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: p.clientCAs,
	}, wsEcho)
	d := &NetDialer{Timeout: 5 * time.Second}
	ep := s.ep

	ep.TLS = &TLSConfig{ServerName: "broker.test"}
	if _, err := d.Establish(context.Background(), ep); err == nil || !strings.Contains(err.Error(), "tls handshake") {
		t.Fatalf("unknown CA accepted or unclear error: %v", err)
	}
	if r, _ := WSReason(nil); r != "" {
		t.Fatal("WSReason(nil) names a reason")
	}
	ep.TLS = &TLSConfig{CAFile: p.caFile, ServerName: "broker.test", CertFile: p.clientCertFile, KeyFile: p.clientKeyFile}
	c, err := d.Establish(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	r := s.request(t)
	if r.TLS == nil || r.TLS.ServerName != "broker.test" || len(r.TLS.PeerCertificates) != 1 {
		t.Fatalf("server saw TLS %+v; want SNI broker.test and the client certificate", r.TLS)
	}
	ep.TLS = &TLSConfig{CAPEM: p.caPEM, ServerName: "other.test"}
	if _, err := d.Establish(context.Background(), ep); err == nil {
		t.Fatal("certificate for broker.test accepted as other.test")
	}
	ep.TLS = &TLSConfig{InsecureSkipVerify: true}
	if c, err = d.Establish(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	c.Close()
	if want := "wss://" + ep.Address() + "/mqtt"; ep.String() != want {
		t.Errorf("String() = %q, want %q", ep.String(), want)
	}
}

// TestWSRefusals: each server that is not a WebSocket endpoint fails the
// dial at once with its reason, well before the dial timeout.
func TestWSRefusals(t *testing.T) {
	// A plain TCP MQTT port: it answers the HTTP request with MQTT bytes
	// (here a CONNACK) and closes, as a broker does with a bad CONNECT.
	mqttPort := listen(t)
	t.Cleanup(func() { mqttPort.Close() })
	go serve(mqttPort, func(c net.Conn) {
		go func() {
			defer c.Close()
			c.Read(make([]byte, 512))
			c.Write([]byte{0x20, 0x02, 0x00, 0x00})
		}()
	})
	// A port that closes as soon as it has read the request.
	closer := listen(t)
	t.Cleanup(func() { closer.Close() })
	go serve(closer, func(c net.Conn) {
		go func() { defer c.Close(); c.Read(make([]byte, 512)) }()
	})
	// HTTP servers: one refuses every upgrade, one serves WebSocket on
	// /mqtt only.
	forbid := listen(t)
	fsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})}
	go fsrv.Serve(forbid)
	t.Cleanup(func() { fsrv.Close() })
	ws := startWSServer(t, nil, wsEcho)
	wrongPath := ws.ep
	wrongPath.Path = "/ws"

	cases := []struct {
		name   string
		ep     Endpoint
		reason string
		status int
	}{
		{"plain MQTT port", endpointOf(t, WS, mqttPort), WSReasonHandshake, 0},
		{"closed at once", endpointOf(t, WS, closer), WSReasonHandshake, 0},
		{"upgrade refused", endpointOf(t, WS, forbid), WSReasonUpgradeRefused, http.StatusForbidden},
		{"wrong path", wrongPath, WSReasonUpgradeRefused, http.StatusNotFound},
	}
	d := &NetDialer{Timeout: 30 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, err := d.Establish(context.Background(), tc.ep)
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v: a refusal must not wait for the timeout", took)
			}
			reason, status := WSReason(err)
			if reason != tc.reason || status != tc.status {
				t.Fatalf("WSReason = %q, %d; want %q, %d (err: %v)", reason, status, tc.reason, tc.status, err)
			}
			if isTimeout(err) {
				t.Fatalf("a refusal reads as a timeout: %v", err)
			}
			if !strings.Contains(err.Error(), tc.ep.String()) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not name the URL and the reason", err)
			}
		})
	}
}

// TestWSFaults: the fault wrappers wrap the WebSocket adapter, so they see
// MQTT bytes, not frames: a latency fault delays exactly the bytes written
// and read, and a cut resets the connection.
func TestWSFaults(t *testing.T) {
	s := startWSServer(t, nil, wsEcho)
	in := NewInjector(nil, 1)
	if _, err := in.Apply(nil, Fault{Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	c := dialDevice(t, in, 0, s.ep)
	msg := bytes.Repeat([]byte("m"), 100)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v", err)
	}
	if st := in.Stats(); st.BytesDelayed != 2*uint64(len(msg)) {
		t.Errorf("BytesDelayed = %d, want %d (the MQTT bytes both ways, no WebSocket framing)", st.BytesDelayed, 2*len(msg))
	}
	if _, err := in.Apply(nil, Fault{Cut: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(got); !errors.Is(err, ErrConnectionCut) {
		t.Fatalf("read after a cut: %v, want ErrConnectionCut", err)
	}
}
