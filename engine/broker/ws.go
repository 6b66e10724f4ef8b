package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// ListenerWS is the listener id of WebSocket connections (ws and wss).
const ListenerWS = "ws"

// The WebSocket listener (Options.WSAddr) serves MQTT over WebSocket on one
// path (Options.WSPath, default hal.DefaultWSPath): other paths get 404, a
// request that is not a WebSocket upgrade 400, and an upgrade selects
// subprotocol "mqtt" when the client offers it. mochi has a WebSocket
// listener of its own (listeners.NewWebsocket), but it serves every path,
// binds only in Serve (so a free port, ":0", cannot be learnt beforehand)
// and would bypass the connection tracking Close relies on; this one
// accepts on a listener bound in New and hands each upgraded connection to
// serve, like the TCP accept loop. Both use gorilla/websocket.
type wsListener struct {
	ln   net.Listener
	srv  *http.Server
	path string
	tls  bool
	up   websocket.Upgrader

	served   chan struct{} // closed when srv.Serve has returned
	handlers sync.WaitGroup
}

// newWSListener binds the WebSocket listener of opts.
func newWSListener(b *Broker, opts Options) (*wsListener, error) {
	ln, err := net.Listen("tcp", opts.WSAddr)
	if err != nil {
		return nil, fmt.Errorf("broker: websocket listen on %s: %w", opts.WSAddr, err)
	}
	path := opts.WSPath
	if path == "" {
		path = hal.DefaultWSPath
	}
	w := &wsListener{ln: ln, path: path, tls: opts.WSTLS != nil, served: make(chan struct{})}
	if opts.WSTLS != nil {
		w.ln = tls.NewListener(ln, opts.WSTLS)
	}
	w.up = websocket.Upgrader{
		Subprotocols:    []string{hal.WSSubprotocol},
		ReadBufferSize:  2 << 10,
		WriteBufferPool: &sync.Pool{},
		// Devices are not browsers: any Origin is accepted.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	timeout := b.connectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	w.srv = &http.Server{
		Handler:           http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.handle(b, rw, r) }),
		ReadHeaderTimeout: timeout,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
	}
	return w, nil
}

// handle upgrades one request and serves the connection as an MQTT client.
func (w *wsListener) handle(b *Broker, rw http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	if b.state != stateStarted {
		b.mu.Unlock()
		http.Error(rw, "broker closed", http.StatusServiceUnavailable)
		return
	}
	w.handlers.Add(1)
	b.mu.Unlock()
	defer w.handlers.Done()
	if r.URL.Path != w.path {
		http.Error(rw, "MQTT over WebSocket is served on "+w.path, http.StatusNotFound)
		return
	}
	c, err := w.up.Upgrade(rw, r, nil) // answers 400 itself when r is no upgrade
	if err != nil {
		b.log.Debug("websocket upgrade refused", "remote", r.RemoteAddr, "error", err)
		return
	}
	_ = b.serve(ListenerWS, hal.NewWSConn(c))
}

// start serves the listener in a goroutine.
func (w *wsListener) start(log func(err error)) {
	go func() {
		defer close(w.served)
		if err := w.srv.Serve(w.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log(err)
		}
	}()
}

// close stops accepting, waits for the requests being upgraded and for
// Serve to return. Upgraded connections are the broker's (b.conns).
func (w *wsListener) close(started bool) error {
	err := w.srv.Close()
	if !started {
		err = errors.Join(err, w.ln.Close())
	}
	w.handlers.Wait()
	if started {
		select {
		case <-w.served:
		case <-time.After(5 * time.Second):
			return errors.Join(err, errors.New("broker: websocket listener did not stop within 5 s"))
		}
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// WSAddr returns the bound address of the WebSocket listener
// ("127.0.0.1:40124"), or "" without one (Options.WSAddr).
func (b *Broker) WSAddr() string {
	if b.ws == nil {
		return ""
	}
	return b.ws.ln.Addr().String()
}

// WSURL returns the URL devices reach the WebSocket listener at
// ("ws://127.0.0.1:40124/mqtt", wss:// with Options.WSTLS), or "" without
// one.
func (b *Broker) WSURL() string {
	if b.ws == nil {
		return ""
	}
	scheme := "ws"
	if b.ws.tls {
		scheme = "wss"
	}
	return scheme + "://" + b.WSAddr() + b.ws.path
}

// WSEndpoint returns the HAL endpoint of the WebSocket listener (transport
// WS or WSS, host and port, path); the zero Endpoint without one. A WSS
// endpoint's TLS options are the caller's to set.
func (b *Broker) WSEndpoint() hal.Endpoint {
	if b.ws == nil {
		return hal.Endpoint{}
	}
	host, port, _ := net.SplitHostPort(b.WSAddr())
	p, _ := strconv.Atoi(port)
	tr := hal.WS
	if b.ws.tls {
		tr = hal.WSS
	}
	return hal.Endpoint{Transport: tr, Host: host, Port: uint16(p), Path: b.ws.path}
}
