// Package broker is fleetbench's embedded MQTT broker, the default target of
// a run: mochi-mqtt v2 in process, tuned for load tests, with optional
// Alibaba dev_sign authentication and per-device ACLs.
//
// Transports: a TCP listener (127.0.0.1 on a free port by default, see Addr)
// and in-memory connections handed over with AcceptConn, which is what the
// HAL's in-memory dialer uses (hal.ConnAcceptor).
//
// Authentication (Options.Auth): none, a static username/password table, or
// dev_sign: username "${dn}&${pk}" of a device in a Registry and password
// devsign.Password(pk, dn, ds). A refused CONNECT is answered, as mochi
// does for any authentication failure, with CONNACK return code 5 ("not
// authorized") to MQTT 3.1.1 clients (reason code 0x86 "bad username or
// password" to MQTT 5 clients), then the connection is closed; fleetbench
// counts the refusal by reason in Stats.
//
// ACL (dev_sign only): a device may publish and subscribe on /${pk}/${dn}/#
// and /sys/${pk}/${dn}/# plus Options.Grants. What mochi does with a
// refused topic:
//   - SUBSCRIBE: that filter's SUBACK entry is 0x80 (failure); other filters
//     of the packet are unaffected.
//   - PUBLISH QoS 0: silently dropped; the client stays connected.
//   - PUBLISH QoS 1/2: MQTT 3.1.1 has no negative PUBACK, so mochi
//     disconnects the client (MQTT 5 clients get PUBACK/PUBREC 0x87).
//
// Counters (Stats) come from mochi's system.Info atomics and from a hook;
// see the Stats fields for what each one means, notably the broker-side drop
// counters MessagesDropped and InflightDropped.
//
// Tuning for load tests (mochi defaults in parentheses):
//   - MaximumClients: unlimited (same);
//   - per-client outbound queue: Options.MaxPendingWrites, default 1024
//     slots (8192; allocated per connection, 64 KiB each);
//   - per-client QoS 1/2 messages awaiting acknowledgement:
//     Options.MaxInflight, default 65535 (8192);
//   - per-client inbound QoS 1/2 quota (ReceiveMaximum): 65535 (1024;
//     exceeding it gets the client disconnected);
//   - write batching threshold while a client's queue is non-empty: 16 KiB
//     (2 KiB); read buffer 2 KiB (same);
//   - $SYS refresh: every 60 s (1 s, each a runtime.ReadMemStats);
//   - CONNECT must arrive within Options.ConnectTimeout (no limit).
//
// Sessions: the SDK connects with clean_session=0, and mochi keeps such
// sessions, with their subscriptions and up to MaxInflight unacknowledged
// QoS 1/2 messages each, until the broker closes (MQTT 3.1.1 has no session
// expiry). A slow subscriber can also slow publishers: while mochi's writer
// for a client is blocked on the network it holds that client's lock, which
// every QoS 1/2 delivery to the client needs.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Listener ids under which connections are registered with mochi.
const (
	ListenerTCP    = "tcp"
	ListenerMemory = "mem"
)

// Defaults of Options.
const (
	DefaultAddr             = "127.0.0.1:0"
	DefaultMaxPendingWrites = 1024
	DefaultMaxInflight      = 65535
	DefaultConnectTimeout   = 10 * time.Second
)

// Capabilities fleetbench sets on mochi, besides the Options knobs.
const (
	// receiveMaximum is mochi's per-client quota of unacknowledged inbound
	// QoS 1/2 publishes (it disconnects a client that exceeds it): raised
	// from 1024 to the protocol maximum so fast publishers are not cut off.
	receiveMaximum = 65535
	// writeBufferSize is the size at which mochi flushes the batch it builds
	// while a client's outbound queue is not empty (mochi default 2 KiB).
	// The buffer exists only while writes are queued.
	writeBufferSize = 16 << 10
	// readBufferSize is each client's bufio.Reader (mochi default).
	readBufferSize = 2 << 10
	// sysTopicInterval is how often mochi refreshes $SYS topics, in
	// seconds. mochi's default (1 s) calls runtime.ReadMemStats, a
	// stop-the-world, every second; nothing in fleetbench reads $SYS (use
	// Stats), so refresh once a minute.
	sysTopicInterval = 60
)

// Errors returned by Start and AcceptConn.
var (
	ErrClosed         = errors.New("broker: closed")
	ErrNotStarted     = errors.New("broker: not started")
	ErrAlreadyStarted = errors.New("broker: already started")
)

// Options configures a Broker. The zero value is a working broker: TCP on
// 127.0.0.1 with a free port, no authentication, logs discarded.
type Options struct {
	// Addr is the TCP listen address (default DefaultAddr). Use Addr() to
	// learn the bound port.
	Addr string
	// DisableTCP leaves only in-memory connections (AcceptConn).
	DisableTCP bool
	// Logger receives the broker's own logs and mochi's at Warn and above
	// (mochi logs every connection at Info). Default: discard.
	Logger *slog.Logger

	// Auth selects authentication; see AuthMode.
	Auth AuthMode
	// Passwords is the username → password table of AuthPassword. It is
	// copied by New.
	Passwords map[string]string
	// Registry holds the devices of AuthDevSign (required in that mode).
	// Devices may be added while the broker runs.
	Registry *Registry
	// Grants are topic filters every device may use in addition to its own
	// /${pk}/${dn}/# and /sys/${pk}/${dn}/#, in AuthDevSign only. They may
	// contain the placeholders ${productKey} and ${deviceName}, e.g.
	// "/broadcast/${productKey}/#". A subscription is allowed only if every
	// topic it can match is covered by one grant ("/${pk}/${dn}/user/#" is,
	// "/#" is not); "$share/<group>/" is stripped before the check.
	Grants []string

	// Hooks are extra mochi hooks (fault injection, tracing), added after
	// fleetbench's own hook with a nil config. mochi ORs the
	// OnConnectAuthenticate and OnACLCheck results of all hooks, so a hook
	// that provides either one can only widen access.
	Hooks []mqtt.Hook

	// MaxPendingWrites is the capacity of each client's outbound queue
	// (mochi MaximumClientWritesPending; default DefaultMaxPendingWrites).
	// A delivery to a subscriber whose queue is full is dropped and counted
	// in Stats.MessagesDropped. The queue is allocated per connection
	// (8 bytes a slot), which is why the default is below mochi's 8192.
	MaxPendingWrites int
	// MaxInflight is how many outbound QoS 1/2 messages mochi keeps per
	// client awaiting acknowledgement, including for disconnected
	// persistent sessions (default and maximum 65535). Beyond it deliveries
	// are dropped and counted in Stats.InflightDropped.
	MaxInflight int
	// ConnectTimeout closes a connection whose CONNECT has not arrived in
	// time (default DefaultConnectTimeout; negative: never). After CONNECT,
	// mochi's keepalive deadline applies.
	ConnectTimeout time.Duration

	// Platform, when PlatformAlibaba, makes the broker emulate the Alibaba
	// Cloud IoT Platform (see platform.go): the product's topic
	// categories as the devsign ACL, thing-model post replies, RRPC
	// (Broker.RRPC), delivery at the publisher's QoS, no QoS 2, retain or
	// will, and the older connection of a duplicated identity kicked.
	// Empty: a plain MQTT broker.
	Platform string
}

// Broker is an embedded MQTT broker. Create it with New, then Start it; Close
// stops it.
type Broker struct {
	srv            *mqtt.Server
	hook           *hook
	platform       *platform // nil unless Options.Platform is set
	log            *slog.Logger
	tcp            net.Listener // nil when TCP is disabled
	connectTimeout time.Duration

	mu      sync.Mutex
	state   int // stateNew, stateStarted, stateClosed
	conns   map[net.Conn]struct{}
	stopCtx func() bool
	done    chan struct{} // closed when Close starts
	closed  chan struct{} // closed when Close has finished

	wg sync.WaitGroup // accept loop and one per connection
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

// New configures a broker and binds its TCP listener (so Addr is known), but
// serves nothing until Start.
func New(opts Options) (*Broker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &hook{mode: opts.Auth}
	switch opts.Auth {
	case AuthNone:
	case AuthPassword:
		h.passwords = make(map[string]string, len(opts.Passwords))
		for u, p := range opts.Passwords {
			h.passwords[u] = p
		}
	case AuthDevSign:
		if opts.Registry == nil {
			return nil, errNoRegistry
		}
		h.registry = opts.Registry
	default:
		return nil, fmt.Errorf("broker: unknown auth mode %d", int(opts.Auth))
	}
	if len(opts.Grants) > 0 && opts.Auth != AuthDevSign {
		return nil, fmt.Errorf("broker: grants need devsign authentication (auth is %s)", opts.Auth)
	}
	var plat *platform
	switch opts.Platform {
	case "":
	case PlatformAlibaba:
		plat = &platform{}
	default:
		return nil, fmt.Errorf("broker: unknown platform %q (want %q or none)", opts.Platform, PlatformAlibaba)
	}
	if opts.Auth == AuthDevSign {
		if plat != nil {
			a, err := newPlatformACL(opts.Grants)
			if err != nil {
				return nil, fmt.Errorf("broker: %w", err)
			}
			h.acl = a
		} else {
			a, err := newACL(opts.Grants)
			if err != nil {
				return nil, fmt.Errorf("broker: %w", err)
			}
			h.acl = a
		}
	}

	pending := opts.MaxPendingWrites
	if pending <= 0 {
		pending = DefaultMaxPendingWrites
	}
	inflight := opts.MaxInflight
	if inflight <= 0 || inflight > DefaultMaxInflight {
		inflight = DefaultMaxInflight
	}
	if pending > 1<<24 {
		return nil, fmt.Errorf("broker: MaxPendingWrites %d is unreasonably large", pending)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(pending)
	caps.MaximumInflight = uint16(inflight)
	caps.ReceiveMaximum = receiveMaximum
	if plat != nil {
		caps.MaximumQos = 1      // the platform has no QoS 2
		caps.RetainAvailable = 0 // nor retained messages
	}

	srv := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		ClientNetWriteBufferSize: writeBufferSize,
		ClientNetReadBufferSize:  readBufferSize,
		SysTopicResendInterval:   sysTopicInterval,
		InlineClient:             true, // Publish: messages from the broker itself
		Logger:                   slog.New(minLevel{h: log.Handler(), min: slog.LevelWarn}).With("component", "mochi"),
	})
	if err := srv.AddHook(h, nil); err != nil {
		return nil, fmt.Errorf("broker: add auth hook: %w", err)
	}
	if plat != nil {
		if err := srv.AddHook(plat, nil); err != nil {
			return nil, fmt.Errorf("broker: add platform hook: %w", err)
		}
	}
	for _, x := range opts.Hooks {
		if x == nil {
			return nil, errors.New("broker: nil hook in Options.Hooks")
		}
		if err := srv.AddHook(x, nil); err != nil {
			return nil, fmt.Errorf("broker: add hook %s: %w", x.ID(), err)
		}
	}

	b := &Broker{
		srv:            srv,
		hook:           h,
		platform:       plat,
		log:            log,
		conns:          make(map[net.Conn]struct{}),
		done:           make(chan struct{}),
		closed:         make(chan struct{}),
		connectTimeout: opts.ConnectTimeout,
	}
	if b.connectTimeout == 0 {
		b.connectTimeout = DefaultConnectTimeout
	}
	if err := srv.AddListener(&listener{id: ListenerMemory, addr: "memory", proto: "memory"}); err != nil {
		return nil, fmt.Errorf("broker: add in-memory listener: %w", err)
	}
	if !opts.DisableTCP {
		addr := opts.Addr
		if addr == "" {
			addr = DefaultAddr
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("broker: listen on %s: %w", addr, err)
		}
		b.tcp = ln
		if err := srv.AddListener(&listener{id: ListenerTCP, addr: ln.Addr().String(), proto: "tcp"}); err != nil {
			ln.Close()
			return nil, fmt.Errorf("broker: add tcp listener: %w", err)
		}
	}
	return b, nil
}

// Start serves the TCP listener and accepts in-memory connections. It
// returns at once; the broker runs until Close or until ctx is done,
// whichever comes first.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateStarted:
		return ErrAlreadyStarted
	case stateClosed:
		return ErrClosed
	}
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: start mochi: %w", err)
	}
	if b.platform != nil {
		if err := b.platform.start(b.srv); err != nil {
			return fmt.Errorf("broker: start platform emulator: %w", err)
		}
	}
	b.state = stateStarted
	if b.tcp != nil {
		b.wg.Add(1)
		go b.acceptLoop()
	}
	b.stopCtx = context.AfterFunc(ctx, func() { _ = b.Close() })
	b.log.Info("broker started", "addr", b.Addr(), "auth", b.hook.mode.String())
	return nil
}

// Publish delivers a message from the broker itself (mochi's inline
// client) to every matching subscriber, as a cloud-side publisher would.
// Fault-injection hooks use it to deliver copies of messages.
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	if err := b.srv.Publish(topic, payload, retain, qos); err != nil {
		return fmt.Errorf("broker: publish %q: %w", topic, err)
	}
	return nil
}

// Addr returns the bound TCP address ("127.0.0.1:40123"), or "" when TCP is
// disabled.
func (b *Broker) Addr() string {
	if b.tcp == nil {
		return ""
	}
	return b.tcp.Addr().String()
}

// Port returns the bound TCP port, or 0 when TCP is disabled.
func (b *Broker) Port() int {
	if b.tcp == nil {
		return 0
	}
	_, port, err := net.SplitHostPort(b.tcp.Addr().String())
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0
	}
	return p
}

// AcceptConn serves c, an already established connection such as the server
// end of a net.Pipe, as an MQTT client of listener "mem". It returns at
// once; the broker owns c from then on and closes it when the session ends.
// The broker's writes to c are queued (up to 256 KiB, like a socket's send
// buffer), so an unbuffered pipe cannot deadlock a client that reads and
// writes from different goroutines, or one that reads only now and then.
// Before Start it returns ErrNotStarted, after Close ErrClosed (wrapped),
// closing c in both cases. It implements hal.ConnAcceptor.
func (b *Broker) AcceptConn(c net.Conn) error {
	if err := b.serve(ListenerMemory, c); err != nil {
		return fmt.Errorf("broker: accept in-memory connection: %w", err)
	}
	return nil
}

// Close stops the listener, closes every connection (clients see the
// connection drop; MQTT 3.1.1 has no server DISCONNECT), waits until every
// connection's goroutine has returned and stops mochi. mochi's per-client
// writer goroutines end right after, once they see their cancelled context.
// Close is safe to call more than once and concurrently; later calls wait
// for the first to finish and return nil.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.state == stateClosed {
		b.mu.Unlock()
		<-b.closed
		return nil
	}
	b.state = stateClosed
	close(b.done)
	conns := make([]net.Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	stop := b.stopCtx
	b.mu.Unlock()

	if stop != nil {
		stop()
	}
	var errs []error
	if b.tcp != nil {
		if err := b.tcp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("broker: close listener: %w", err))
		}
	}
	// Closing the transports ends every mochi client (read and write loops),
	// including connections that never sent CONNECT, so mochi's own Close
	// below finds nothing left to wait for.
	for _, c := range conns {
		if bc, ok := c.(*bufferedConn); ok {
			bc.abort()
		} else {
			_ = c.Close()
		}
	}
	b.wg.Wait()
	if err := b.srv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("broker: close mochi: %w", err))
	}
	b.log.Info("broker closed")
	close(b.closed)
	return errors.Join(errs...)
}

// serve registers c and runs a mochi client on it in its own goroutine.
// In-memory connections get a send buffer (see bufferedConn).
func (b *Broker) serve(listenerID string, c net.Conn) error {
	b.mu.Lock()
	switch b.state {
	case stateNew:
		b.mu.Unlock()
		_ = c.Close()
		return ErrNotStarted
	case stateClosed:
		b.mu.Unlock()
		_ = c.Close()
		return ErrClosed
	}
	var bc *bufferedConn
	if listenerID == ListenerMemory {
		bc = newBufferedConn(c, memSendBuffer, memLinger)
		c = bc
	}
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()

	if b.connectTimeout > 0 {
		// mochi replaces this deadline by the keepalive one after CONNECT.
		_ = c.SetDeadline(time.Now().Add(b.connectTimeout))
	}
	go func() {
		defer b.wg.Done()
		err := b.srv.EstablishConnection(listenerID, c)
		_ = c.Close()
		if bc != nil {
			<-bc.done // queued bytes flushed (or linger expired)
		}
		b.mu.Lock()
		delete(b.conns, c)
		b.mu.Unlock()
		if err != nil {
			b.log.Debug("connection ended", "listener", listenerID, "remote", c.RemoteAddr().String(), "error", err)
		}
	}()
	return nil
}

// acceptLoop accepts TCP connections until the listener is closed, backing
// off on errors such as EMFILE as net/http does.
func (b *Broker) acceptLoop() {
	defer b.wg.Done()
	var backoff time.Duration
	for {
		c, err := b.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			b.log.Warn("accept failed; retrying", "error", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-b.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if err := b.serve(ListenerTCP, c); err != nil {
			return // closed
		}
	}
}

// listener is the placeholder mochi needs for each listener id: fleetbench
// accepts connections itself (acceptLoop, AcceptConn) and hands them to
// mochi's EstablishConnection, so Serve has nothing to do.
type listener struct {
	id, addr, proto string
}

func (l *listener) Init(*slog.Logger) error              { return nil }
func (l *listener) Serve(listeners.EstablishFn)          {}
func (l *listener) ID() string                           { return l.id }
func (l *listener) Address() string                      { return l.addr }
func (l *listener) Protocol() string                     { return l.proto }
func (l *listener) Close(closeClients listeners.CloseFn) { closeClients(l.id) }

// minLevel drops records below min before they reach h.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(as), min: m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h: m.h.WithGroup(name), min: m.min}
}
