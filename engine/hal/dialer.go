package hal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Transport names the kind of connection an Endpoint asks for.
type Transport string

// Transports a Dialer can establish.
const (
	TCP    Transport = "tcp" // plain TCP (HAL_TCP_Establish)
	TLS    Transport = "tls" // TLS over TCP (HAL_SSL_Establish)
	Memory Transport = "mem" // an in-memory pipe into an embedded broker
)

// WS and WSS (MQTT over WebSocket) are in ws.go.

// Endpoint is where and how a device connects.
type Endpoint struct {
	Transport Transport
	Host      string
	Port      uint16
	// TLS configures the TLS and WSS transports; nil means verify against
	// the system roots with SNI = Host.
	TLS *TLSConfig
	// Path is the HTTP request path of the WS and WSS transports (empty:
	// DefaultWSPath); other transports ignore it.
	Path string
}

// Address returns host:port.
func (e Endpoint) Address() string {
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// String returns a URL-like form for logs and errors.
func (e Endpoint) String() string {
	if e.Transport == Memory {
		return "mem://embedded"
	}
	if e.Transport.IsWS() {
		return e.wsURL()
	}
	return string(e.Transport) + "://" + e.Address()
}

// TLSConfig holds the TLS options of a transport. Certificate verification
// is on unless InsecureSkipVerify is set.
type TLSConfig struct {
	// CAFile or CAPEM: the roots to verify the server with. Both empty means
	// the system roots.
	CAFile string
	CAPEM  []byte
	// CertFile and KeyFile: a client certificate, both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides SNI and the name verified (default: Host).
	ServerName         string
	InsecureSkipVerify bool
}

// Load reads the files it names and returns a crypto/tls configuration for
// host. Call it once and share the result across devices: parsing a CA per
// device would cost memory and time at 10k devices.
func (c *TLSConfig) Load(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c == nil {
		return cfg, nil
	}
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	cfg.InsecureSkipVerify = c.InsecureSkipVerify
	pem := c.CAPEM
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		pem = b
	}
	if len(pem) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca %q: no PEM certificate found", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tls: cert and key must be given together")
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Dialer establishes transports (HAL_TCP_Establish / HAL_SSL_Establish,
// and MQTT over WebSocket).
// Implementations must be safe for concurrent use by many devices.
type Dialer interface {
	Establish(ctx context.Context, ep Endpoint) (net.Conn, error)
}

// DialerFunc adapts a function to the Dialer interface.
type DialerFunc func(ctx context.Context, ep Endpoint) (net.Conn, error)

// Establish implements Dialer.
func (f DialerFunc) Establish(ctx context.Context, ep Endpoint) (net.Conn, error) {
	return f(ctx, ep)
}

// ConnAcceptor serves an already established connection, as the embedded
// broker does for the server side of an in-memory pipe.
type ConnAcceptor interface {
	AcceptConn(c net.Conn) error
}

// NetDialer is the standard Dialer: TCP, TLS, WebSocket (WS) and
// WebSocket over TLS (WSS) through the operating system, and in-memory
// pipes into Broker. The zero value dials TCP and TLS
// with a 10 s timeout from any local address.
//
// A broker host name is resolved once and its addresses are kept for the
// dialer's lifetime (one dialer serves a node's whole run), so 10,000
// devices cost one DNS look-up, not 10,000. Devices start on the cached
// addresses in rotation. When a device fails to connect to every cached
// address with a network error, the name is looked up again, at most once
// per RefreshInterval however many devices fail together (a broker that
// restarts on a new address costs one look-up), and the device tries the
// new addresses at once. IP literals are dialed as they are. TLS still
// sends and verifies the host name (SNI), never the address.
//
// A NetDialer must not be copied after first use.
type NetDialer struct {
	// Timeout bounds connection establishment, TLS and WebSocket
	// handshakes included (default 10 s). A context deadline, if earlier, wins.
	Timeout time.Duration
	// Sources, when set, picks the local address of each TCP connection
	// (the one under TLS and WebSocket too).
	Sources *SourcePool
	// Broker serves Memory endpoints.
	Broker ConnAcceptor
	// TLSConfig, when set, is used for every TLS and WSS endpoint instead of loading
	// Endpoint.TLS on each dial (see TLSConfig.Load).
	TLSConfig *tls.Config
	// Resolver looks up broker host names; nil means net.DefaultResolver.
	Resolver Resolver
	// RefreshInterval is the shortest time between two look-ups of one
	// host name (default DefaultRefreshInterval, 5 s).
	RefreshInterval time.Duration
	// Clock times RefreshInterval; nil means the system clock.
	Clock Clock

	hosts  hostCache
	wsPool sync.Pool // WebSocket write buffers, shared by all connections
}

// Establish implements Dialer.
func (d *NetDialer) Establish(ctx context.Context, ep Endpoint) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	switch ep.Transport {
	case Memory:
		if d.Broker == nil {
			return nil, errors.New("hal: in-memory transport without an embedded broker")
		}
		client, server := net.Pipe()
		if err := d.Broker.AcceptConn(server); err != nil {
			client.Close()
			server.Close()
			return nil, fmt.Errorf("hal: in-memory connect: %w", err)
		}
		return client, nil
	case TCP, "":
		return d.dialTCP(ctx, ep)
	case TLS:
		return d.dialTLS(ctx, ep)
	case WS, WSS:
		return d.dialWS(ctx, ep)
	default:
		return nil, fmt.Errorf("hal: unknown transport %q", ep.Transport)
	}
}

// dialTLS connects to ep over TCP and runs the TLS handshake.
func (d *NetDialer) dialTLS(ctx context.Context, ep Endpoint) (net.Conn, error) {
	cfg := d.TLSConfig
	if cfg == nil {
		var err error
		if cfg, err = ep.TLS.Load(ep.Host); err != nil {
			return nil, err
		}
	}
	raw, err := d.dialTCP(ctx, ep)
	if err != nil {
		return nil, err
	}
	var asked *atomic.Bool
	if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
		// Note when the broker asks for a client certificate we do not
		// have: under TLS 1.3 its refusal only shows on the first read,
		// often as a bare connection reset.
		asked = new(atomic.Bool)
		cfg = cfg.Clone()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked.Store(true)
			return &tls.Certificate{}, nil
		}
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("hal: tls handshake with %s: %w", ep.Address(), err)
	}
	if asked != nil && asked.Load() {
		return &noClientCertConn{Conn: conn}, nil
	}
	return conn, nil
}

// timeout is the bound of one connection establishment.
func (d *NetDialer) timeout() time.Duration {
	if d.Timeout <= 0 {
		return 10 * time.Second
	}
	return d.Timeout
}

// dialTCP connects to ep: IP literals directly, host names through the
// dialer's address cache (see NetDialer).
func (d *NetDialer) dialTCP(ctx context.Context, ep Endpoint) (net.Conn, error) {
	nd := &net.Dialer{}
	if d.Sources != nil {
		nd.LocalAddr = d.Sources.Next()
	}
	var c net.Conn
	var err error
	if _, perr := netip.ParseAddr(ep.Host); perr == nil || ep.Host == "" {
		c, err = nd.DialContext(ctx, "tcp", ep.Address())
	} else {
		c, err = d.dialHost(ctx, nd, ep.Host, ep.Port)
	}
	if err != nil {
		return nil, fmt.Errorf("hal: tcp connect %s: %w", ep.Address(), err)
	}
	return c, nil
}

// SourcePool hands out local source addresses round-robin, so that one
// process can open more connections to a broker than the ephemeral port
// range of a single address allows (about 28k on Linux by default).
type SourcePool struct {
	addrs []*net.TCPAddr
	next  atomic.Uint64
}

// NewSourcePool parses a list of local IP addresses.
func NewSourcePool(ips []string) (*SourcePool, error) {
	if len(ips) == 0 {
		return nil, errors.New("hal: empty source address pool")
	}
	p := &SourcePool{}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("hal: source address %q is not an IP address", s)
		}
		p.addrs = append(p.addrs, &net.TCPAddr{IP: ip})
	}
	return p, nil
}

// Next returns the next local address (port 0: the kernel picks the port).
func (p *SourcePool) Next() *net.TCPAddr {
	i := p.next.Add(1) - 1
	return p.addrs[i%uint64(len(p.addrs))]
}

// Len returns the number of addresses in the pool.
func (p *SourcePool) Len() int { return len(p.addrs) }

// ErrNoClientCert explains a TLS connection the broker closed after asking
// for a client certificate that was not configured.
var ErrNoClientCert = errors.New("tls: the broker asked for a client certificate and none is configured (set broker.tls.cert and broker.tls.key)")

// noClientCertConn is a TLS connection on which the broker asked for a
// client certificate and got none: its read and write errors say so.
type noClientCertConn struct {
	*tls.Conn
}

func (c *noClientCertConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrNoClientCert, err)
	}
	return n, err
}

func (c *noClientCertConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrNoClientCert, err)
	}
	return n, err
}
