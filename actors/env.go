// Package actors is the fleet runtime, the floor above the device
// connection engine (engine/...): Run starts the target (the embedded
// broker unless the scenario names one), the actor system and the
// coordinator; one device actor per simulated device owns an iot.Handle
// and runs the SDK lifecycle (sign, construct, subscribe, publish on a
// schedule, yield when data is ready or the session has something due,
// destroy); the coordinator spawns devices along the scenario's ramp,
// applies faults and churn, snapshots the metrics every second, ends the
// load when every count is sent, drains in-flight messages and builds the
// result. Package actors/cluster runs the same coordinator on several
// machines.
package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetbench/fleetbench/engine/devsign"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Env is what every device actor of a node shares.
type Env struct {
	// Recorder receives every measurement of the node.
	Recorder *metrics.Recorder
	// Dialer establishes device transports; Endpoint is the broker.
	Dialer hal.Dialer
	// Faults, when set, wraps every device's transport for the scenario's
	// fault timeline.
	Faults   *hal.Injector
	Endpoint hal.Endpoint
	// Endpoints, in a run against several brokers (broker.url as a list),
	// spreads the devices over them; Endpoint is then the first. nil for
	// one broker.
	Endpoints *Endpoints
	// Clock stamps time; Epoch is the node's run epoch, from which payload
	// stamps count. In a distributed run every node's Epoch is the same
	// instant, the coordinator's epoch moved onto the node's clock by its
	// measured offset, so stamps compare across nodes.
	Clock hal.Clock
	Epoch time.Time
	// Index says, for every published topic, how many subscriptions of the
	// plan match it (expected deliveries).
	Index *iot.TopicIndex
	// StampKeys are the JSON members that carry stamps in the scenario's
	// payload templates (tried in order on JSON payloads).
	StampKeys []metrics.JSONStampKeys
	// Topics selects SDK or plain MQTT topic validation.
	Topics iot.TopicRules
	// Groups holds per-group counters, indexed like Scenario.Groups (may
	// be nil). Devices count into them through Recorder.Tally, one call
	// per event for the fleet and the group.
	Groups []metrics.GroupCounters
	// FirstErrors keeps the first connect error of each reason.
	FirstErrors *metrics.FirstErrors
	// Logger receives device-level logs.
	Logger *slog.Logger
	// Distributed is set on the nodes of a distributed run (nil for a
	// single-node run).
	Distributed *NodeMap
	// SignOptions are passed to devsign.Sign for auth: alibaba groups
	// that have no entry in Sign.
	SignOptions devsign.Options
	// Sign holds the devsign.Options of each group, indexed like
	// Scenario.Groups (see SignOptionsFor); nil means SignOptions for all.
	Sign []devsign.Options
	// PlatformQoS makes expected deliveries count at the publisher's QoS,
	// as the Alibaba Cloud IoT Platform delivers, instead of MQTT's
	// min(publish, subscription).
	PlatformQoS bool
	// Connections, when set, remembers which device connected last with
	// each client id, so a disconnect that follows another device's
	// connect with the same client id is classified kicked_duplicate_id.
	Connections *Connections
	// PublishQoS returns the QoS of publish entry stream of the device of
	// a global index (ok false if there is none): how a receiver knows the
	// QoS a stamped delivery was planned at. nil disables QoS-mismatch
	// findings.
	PublishQoS func(globalIndex, stream int) (qos int, ok bool)
	// Cloud makes the cloud side's RRPC calls of groups with rrpc: (the
	// embedded platform emulator's driver; nil: no RRPC traffic).
	Cloud CloudDriver
}

// countBytes adds live transport traffic to the node's counters.
func (e *Env) countBytes(in, out int64) {
	if in != 0 {
		e.Recorder.Add(metrics.BytesIn, in)
	}
	if out != 0 {
		e.Recorder.Add(metrics.BytesOut, out)
	}
}

// NodeMap tells a node of a distributed run where every device runs, and
// counts its deliveries by the node of their publisher.
type NodeMap struct {
	// Self is this node's index.
	Self int
	// NodeOf returns the index of the node that runs the device of a
	// global index (-1 if none).
	NodeOf func(globalIndex int) int
	// ReceivedFrom counts unique deliveries by publisher node and QoS,
	// indexed [node*metrics.NumQoS + qos].
	ReceivedFrom []atomic.Int64
}

// received counts one unique delivery from the publisher of a global
// index; it reports whether the publisher runs on another node.
func (m *NodeMap) received(publisher, qos int) (crossNode bool) {
	n := m.NodeOf(publisher)
	if n < 0 {
		return false
	}
	if i := n*metrics.NumQoS + qos; i < len(m.ReceivedFrom) {
		m.ReceivedFrom[i].Add(1)
	}
	return n != m.Self
}

// failReason classifies a connect error for the connect_failed counters.
func failReason(err error) metrics.FailReason {
	var lenErr *devsign.LengthError
	// A refused WebSocket upgrade is also ErrNotMQTT; its own reason is
	// the more precise.
	switch r, _ := hal.WSReason(err); r {
	case hal.WSReasonHandshake:
		return metrics.ReasonWSHandshake
	case hal.WSReasonUpgradeRefused:
		return metrics.ReasonWSUpgradeRefused
	}
	switch {
	case errors.Is(err, iot.ErrNotAuthorized), errors.As(err, &lenErr):
		return metrics.ReasonRefusedAuth
	case errors.Is(err, iot.ErrConnectRefused):
		return metrics.ReasonRefusedOther
	case errors.Is(err, iot.ErrNotMQTT):
		return metrics.ReasonNotMQTT
	case errors.Is(err, iot.ErrProtocol):
		return metrics.ReasonProtocol
	case errors.Is(err, iot.ErrConnectTimeout), isTimeout(err):
		return metrics.ReasonTimeout
	case isTLS(err):
		return metrics.ReasonTLS
	case isDNS(err):
		return metrics.ReasonDNS
	case isNetwork(err):
		return metrics.ReasonNetwork
	}
	return metrics.ReasonOther
}

// SignOptionsFor returns the devsign.Options of the devices of g reached
// over TLS or not: the group's SDK profile (sdk:) selects the client id
// format, the transport the securemode (TLS 2, plain TCP 3; customize_info
// with authtype=id2 gives 8 in the 3.x profiles), and customize_info is
// appended to the client id.
func SignOptionsFor(g *scenarios.Group, tls bool) devsign.Options {
	o := devsign.Options{PlainTCP: !tls, CustomizeInfo: g.CustomizeInfo}
	switch g.SDK {
	case scenarios.SDK301:
		o.SDKVersion = devsign.SDK301
	case scenarios.SDK4x:
		o.SDKVersion = devsign.SDK4x
	default:
		o.SDKVersion = devsign.SDK320
	}
	return o
}

// UsesTLS reports whether the devices of sc reach their broker over TLS
// (the embedded broker is plain TCP or in-memory).
func UsesTLS(sc *scenarios.Scenario) bool {
	return sc.Broker.Transport == scenarios.TransportTLS
}

// applyScenario sets what the scenario decides for every device: the
// signing options of each group, the platform's delivery QoS, and the
// duplicate-client-id watch.
func (e *Env) applyScenario(sc *scenarios.Scenario) {
	tls := UsesTLS(sc)
	e.Sign = make([]devsign.Options, len(sc.Groups))
	for i, g := range sc.Groups {
		e.Sign[i] = SignOptionsFor(g, tls)
	}
	e.PlatformQoS = sc.Broker.AlibabaPlatform()
	e.Connections = NewConnections()
}

// signOptions returns the devsign.Options of a device of group g.
func (e *Env) signOptions(g *scenarios.Group) devsign.Options {
	if g != nil && g.Index >= 0 && g.Index < len(e.Sign) {
		return e.Sign[g.Index]
	}
	return e.SignOptions
}

// deliveryQoS is the QoS a delivery of a message published at pub to a
// subscription at sub is expected at: pub on the platform, MQTT's
// min(pub, sub) otherwise.
func (e *Env) deliveryQoS(pub, sub int) int {
	if e.PlatformQoS {
		return pub
	}
	return min(pub, sub)
}

// indexQoS is the QoS a subscription enters the plan's topic index with:
// on the platform every subscription receives at the publisher's QoS,
// which the index gives for subscriptions at QoS 2 (it counts
// min(publish, subscription)).
func indexQoS(sc *scenarios.Scenario, q scenarios.QoS) iot.QoS {
	if sc.Broker.AlibabaPlatform() {
		return iot.QoS2
	}
	return iot.QoS(q)
}

// Connections records, per client id, the devices of this node whose
// transport with that client id is open. It keeps a 64-bit hash of each
// client id, not the id, and nothing for a client id with no open
// connection.
type Connections struct {
	seed   maphash.Seed
	shards [64]connShard
}

type connShard struct {
	mu   sync.Mutex
	open map[uint64]openConns // client id hash → its open connections
}

// openConns are the open connections of one client id: n of device dev,
// and, only when more than one device uses the id, those of the others.
type openConns struct {
	dev, n int
	more   map[int]int
}

// NewConnections returns an empty index.
func NewConnections() *Connections {
	c := &Connections{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].open = make(map[uint64]openConns)
	}
	return c
}

func (c *Connections) shard(id string) (*connShard, uint64) {
	h := maphash.String(c.seed, id)
	return &c.shards[h%uint64(len(c.shards))], h
}

// Opened records that device dev has established a transport for client
// id id (before its CONNECT is sent, so that the device the broker then
// disconnects already finds it).
func (c *Connections) Opened(id string, dev int) {
	if c == nil {
		return
	}
	s, h := c.shard(id)
	s.mu.Lock()
	o, ok := s.open[h]
	switch {
	case !ok:
		o = openConns{dev: dev, n: 1}
	case o.dev == dev:
		o.n++
	case o.n == 0:
		o.dev, o.n = dev, 1
		if o.more[dev] > 0 { // dev was counted in more: move it inline
			o.n += o.more[dev]
			delete(o.more, dev)
		}
	default:
		if o.more == nil {
			o.more = make(map[int]int)
		}
		o.more[dev]++
	}
	s.open[h] = o
	s.mu.Unlock()
}

// Closed records that a transport Opened for id by dev is closed.
func (c *Connections) Closed(id string, dev int) {
	if c == nil {
		return
	}
	s, h := c.shard(id)
	s.mu.Lock()
	if o, ok := s.open[h]; ok {
		if o.dev == dev && o.n > 0 {
			o.n--
		} else if o.more[dev] > 0 {
			if o.more[dev]--; o.more[dev] == 0 {
				delete(o.more, dev)
			}
		}
		if o.n == 0 && len(o.more) == 0 {
			delete(s.open, h)
		} else {
			s.open[h] = o
		}
	}
	s.mu.Unlock()
}

// Kicked reports whether another device than dev has a transport open
// with client id id: a disconnect of dev then is the broker forcing the
// older connection of a duplicated identity offline.
func (c *Connections) Kicked(id string, dev int) bool {
	if c == nil {
		return false
	}
	s, h := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.open[h]
	if !ok {
		return false
	}
	if o.dev != dev && o.n > 0 {
		return true
	}
	for d, n := range o.more {
		if d != dev && n > 0 {
			return true
		}
	}
	return false
}

// watchedConn reports its Close to the index once.
type watchedConn struct {
	net.Conn
	once  sync.Once
	close func()
}

// Close implements net.Conn.
func (w *watchedConn) Close() error {
	w.once.Do(w.close)
	return w.Conn.Close()
}

// watchDial wraps a device's dialer so that every transport it
// establishes, for the first connect and for each reconnect, is recorded
// as open for the device's client id until it is closed.
func (e *Env) watchDial(next hal.Dialer, dev int, id string) hal.Dialer {
	if e.Connections == nil {
		return next
	}
	return hal.DialerFunc(func(ctx context.Context, ep hal.Endpoint) (net.Conn, error) {
		c, err := next.Establish(ctx, ep)
		if err != nil {
			return c, err
		}
		e.Connections.Opened(id, dev)
		return &watchedConn{Conn: c, close: func() { e.Connections.Closed(id, dev) }}, nil
	})
}

// watch wraps a device's event handler: a disconnect gets its
// classification as the reason (kicked_duplicate_id when another device
// has a connection open with the client id, see watchDial;
// rate_limited, quota_exceeded: see iot.Classify).
func (e *Env) watch(dev int, id string, next iot.Handler) iot.Handler {
	return func(h *iot.Handle, ev *iot.Event) {
		if ev.Type == iot.EventDisconnect {
			if c := iot.ClassifyName(ev.Reason); c != "" {
				ev.Reason = c
			} else if e.Connections.Kicked(id, dev) {
				ev.Reason = iot.KickedDuplicateID
			}
		}
		next(h, ev)
	}
}

// classifyReason returns the classification of a reason name when it has
// one (rate_limited, quota_exceeded, …), else the name.
func classifyReason(name string) string {
	if c := iot.ClassifyName(name); c != "" {
		return c
	}
	return name
}

// SignedIdentity returns the client id, username and password device p of
// sc sends in CONNECT: signed with dev_sign for auth: alibaba (with the
// options the run uses, SignOptionsFor), the plan's own values otherwise,
// and the plan's explicit values winning over the signed ones, as the
// device does. For auth: alibaba, host and port are the signer's, the
// endpoint the SDK would compute (the run connects to the scenario's).
func SignedIdentity(sc *scenarios.Scenario, p *scenarios.DevicePlan) (id, user, pass string, signed devsign.Credentials, err error) {
	if p.Auth != scenarios.AuthAlibaba {
		return p.ClientID, p.Username, p.Password, devsign.Credentials{}, nil
	}
	region, err := devsign.ParseRegion(p.Region)
	if err != nil {
		return "", "", "", devsign.Credentials{}, err
	}
	signed, err = devsign.Sign(region, devsign.Meta{ProductKey: p.ProductKey, DeviceName: p.DeviceName, DeviceSecret: p.DeviceSecret},
		SignOptionsFor(p.Group, UsesTLS(sc)))
	if err != nil {
		return "", "", "", devsign.Credentials{}, fmt.Errorf("dev_sign %s/%s: %w", p.ProductKey, p.DeviceName, err)
	}
	id, user, pass = signed.ClientID, signed.Username, signed.Password
	if p.ClientID != "" {
		id = p.ClientID
	}
	if p.Username != "" {
		user = p.Username
	}
	if p.Password != "" {
		pass = p.Password
	}
	return id, user, pass, signed, nil
}
