package hal

// MQTT over WebSocket (ws://, wss://): the dial, the handshake failures and
// the net.Conn adapter that carries MQTT bytes in WebSocket binary messages.
//
// Library: github.com/gorilla/websocket. It is already in the module graph
// (mochi-mqtt's own WebSocket listener depends on it), and its Dialer takes
// our own dial functions (NetDialContext, NetDialTLSContext), so the TCP
// connection under the WebSocket is made by dialTCP and dialTLS: the same
// source-address pool, host cache, timeout and TLS options as the TCP and
// TLS transports. Its write-buffer pool lets idle connections hold no write
// buffer, which matters at 10k devices.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The WebSocket transports.
const (
	WS  Transport = "ws"  // MQTT over WebSocket over TCP
	WSS Transport = "wss" // MQTT over WebSocket over TLS
)

// DefaultWSPath is the request path of a WebSocket endpoint whose Path is
// empty: "/mqtt", the path mosquitto's clients, EMQX, HiveMQ and Alibaba
// Cloud IoT use by convention (the MQTT specification names none).
const DefaultWSPath = "/mqtt"

// WSSubprotocol is the WebSocket subprotocol MQTT clients offer and servers
// select: OASIS MQTT 3.1.1 §6 and MQTT 5.0 §6 ("The Client MUST include
// 'mqtt' in the list of WebSocket Sub Protocols it offers").
const WSSubprotocol = "mqtt"

// Reasons a WebSocket connect fails with (WSError.Reason).
const (
	// WSReasonHandshake: the server's answer to the opening handshake is
	// not an HTTP response (a plain MQTT or other TCP port), or the
	// connection closed before one came.
	WSReasonHandshake = "ws_handshake"
	// WSReasonUpgradeRefused: an HTTP server answered but did not switch
	// to WebSocket (status ≠ 101, e.g. 404 for a wrong path, 400, 403).
	WSReasonUpgradeRefused = "ws_upgrade_refused"
)

// Buffer sizes of a WebSocket connection. gorilla's defaults are 4 KiB each
// per connection; the read buffer is kept for the connection's life, the
// write buffer only while a message is written (WriteBufferPool).
const (
	wsReadBufferSize  = 1 << 10
	wsWriteBufferSize = 4 << 10
	// wsCloseWait bounds the write of the close frame on Close.
	wsCloseWait = 100 * time.Millisecond
)

// WSError is a WebSocket opening handshake that failed after the TCP (and
// TLS) connection was made: the server answered, but not with a WebSocket.
type WSError struct {
	// Reason is WSReasonHandshake or WSReasonUpgradeRefused.
	Reason string
	// Status is the HTTP status of a refused upgrade (0 otherwise).
	Status int
	// URL is the URL dialed.
	URL string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *WSError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("hal: %s %s: HTTP %d %s: the server did not switch to WebSocket (check the path and that this port serves MQTT over WebSocket)",
			e.Reason, e.URL, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("hal: %s %s: no HTTP answer to the WebSocket handshake (a plain MQTT port, or not HTTP?): %v", e.Reason, e.URL, e.Err)
}

// Unwrap returns the underlying error.
func (e *WSError) Unwrap() error { return e.Err }

// WSReason returns the WebSocket failure reason err carries
// (WSReasonHandshake, WSReasonUpgradeRefused) and the HTTP status of a
// refused upgrade, or "" and 0.
func WSReason(err error) (reason string, status int) {
	var we *WSError
	if errors.As(err, &we) {
		return we.Reason, we.Status
	}
	return "", 0
}

// IsWS reports whether t is one of the WebSocket transports.
func (t Transport) IsWS() bool { return t == WS || t == WSS }

// wsURL is the URL of a WebSocket endpoint, path included.
func (e Endpoint) wsURL() string {
	scheme := "ws"
	if e.Transport == WSS {
		scheme = "wss"
	}
	return scheme + "://" + e.Address() + e.wsPath()
}

func (e Endpoint) wsPath() string {
	if e.Path == "" {
		return DefaultWSPath
	}
	if !strings.HasPrefix(e.Path, "/") {
		return "/" + e.Path
	}
	return e.Path
}

// dialWS connects to a ws:// or wss:// endpoint: TCP (and TLS) through the
// dialer, then the WebSocket opening handshake offering subprotocol "mqtt".
// The connection it returns carries MQTT bytes: fault injection and byte
// counters wrapped around it see MQTT packets, not WebSocket frames.
func (d *NetDialer) dialWS(ctx context.Context, ep Endpoint) (net.Conn, error) {
	var dialErr error
	dialed := false
	wd := websocket.Dialer{
		Subprotocols:    []string{WSSubprotocol},
		ReadBufferSize:  wsReadBufferSize,
		WriteBufferSize: wsWriteBufferSize,
		WriteBufferPool: &d.wsPool,
		// Proxy nil: no HTTP proxy (environment variables are ignored, as
		// for the TCP transport).
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var c net.Conn
		if ep.Transport == WSS {
			c, dialErr = d.dialTLS(ctx, ep)
		} else {
			c, dialErr = d.dialTCP(ctx, ep)
		}
		dialed = dialErr == nil
		return c, dialErr
	}
	wd.NetDialContext = dial
	if ep.Transport == WSS {
		wd.NetDialTLSContext = dial // the TLS handshake is done in dialTLS
	}
	u := ep.wsURL()
	// gorilla wants http(s) semantics for the dial; the request line and
	// Host header come from u.
	ws, resp, err := wd.DialContext(ctx, u, nil)
	if err == nil {
		return newWSConn(ws), nil
	}
	switch {
	case !dialed && dialErr != nil:
		return nil, dialErr
	case ctx.Err() != nil:
		return nil, fmt.Errorf("hal: websocket handshake with %s: %w", u, ctx.Err())
	case isTimeout(err):
		return nil, fmt.Errorf("hal: websocket handshake with %s: %w", u, err)
	case resp != nil && resp.StatusCode != http.StatusSwitchingProtocols:
		return nil, &WSError{Reason: WSReasonUpgradeRefused, Status: resp.StatusCode, URL: u, Err: err}
	case resp != nil:
		// 101 with a wrong Sec-WebSocket-Accept or missing upgrade
		// headers: not a WebSocket server either.
		return nil, &WSError{Reason: WSReasonHandshake, URL: u, Err: fmt.Errorf("HTTP 101 without a valid WebSocket accept: %w", err)}
	}
	return nil, &WSError{Reason: WSReasonHandshake, URL: u, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// NewWSConn adapts an established WebSocket connection to a net.Conn that
// carries a byte stream, for MQTT over WebSocket (MQTT 3.1.1 and 5.0 §6):
//   - Read returns the payloads of binary messages in order; a read may end
//     inside a message (the rest comes with the next read) and never spans
//     two (an MQTT packet may span messages, MQTT §6). A text message is a
//     protocol error: the connection is closed, as §6 requires.
//   - Write sends its bytes as one binary message; concurrent writes are
//     serialised.
//   - A close frame (normal, going away) or a connection that ends without
//     one reads as io.EOF, as on a TCP connection.
//   - Deadline errors satisfy errors.Is(err, os.ErrDeadlineExceeded). As on
//     any gorilla connection, a read or write error, timeouts included, is
//     permanent: the connection is done.
//   - Close sends a close frame (best effort, 100 ms) and closes the
//     underlying connection.
//
// The embedded broker's WebSocket listener uses it for its side too.
func NewWSConn(ws *websocket.Conn) net.Conn { return newWSConn(ws) }

func newWSConn(ws *websocket.Conn) *wsConn {
	return &wsConn{ws: ws, raw: ws.NetConn()}
}

// errWSText is the error of a text message on an MQTT connection.
var errWSText = errors.New("hal: websocket: a text message on an MQTT connection (MQTT §6 requires binary messages)")

type wsConn struct {
	ws  *websocket.Conn
	raw net.Conn
	r   io.Reader // the message being read; nil between messages
	wmu sync.Mutex
	// wdl is the write deadline (Unix ns, 0: none). gorilla's own is not
	// safe to set during a write, so Write hands it over under wmu.
	wdl atomic.Int64
}

// Read implements net.Conn.
func (c *wsConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, wsErr("read", err)
			}
			if typ != websocket.BinaryMessage {
				_ = c.raw.Close()
				return 0, errWSText
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue // an empty message, or the end of one: next message
			}
			return n, nil
		}
		if err != nil {
			c.r = nil
			return n, wsErr("read", err)
		}
		return n, nil
	}
}

// Write implements net.Conn.
func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	var dl time.Time
	if ns := c.wdl.Load(); ns != 0 {
		dl = time.Unix(0, ns)
	}
	err := c.ws.SetWriteDeadline(dl)
	if err == nil {
		err = c.ws.WriteMessage(websocket.BinaryMessage, p)
	}
	c.wmu.Unlock()
	if err != nil {
		return 0, wsErr("write", err)
	}
	return len(p), nil
}

// Close implements net.Conn.
func (c *wsConn) Close() error {
	_ = c.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(wsCloseWait))
	return c.raw.Close()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *wsConn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn. gorilla sets its write deadline on
// the underlying connection before each frame; setting it there too
// reaches a write already blocked.
func (c *wsConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.wdl.Store(ns)
	return c.raw.SetWriteDeadline(t)
}

// wsErr maps gorilla's errors to what a stream's reader expects: the end of
// the connection as io.EOF, deadlines as os.ErrDeadlineExceeded (gorilla
// hides the original error of a timeout).
func wsErr(op string, err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseAbnormalClosure, websocket.CloseNoStatusReceived:
			return io.EOF
		}
		return fmt.Errorf("hal: websocket closed by the peer: %w", err)
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &net.OpError{Op: op, Net: "ws", Err: os.ErrDeadlineExceeded}
	}
	return err
}
