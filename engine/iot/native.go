package iot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// nativeHandle is engine/iot's own MQTT session. One goroutine per
// connection connects (transport, CONNECT, CONNACK, with the profile's
// retries) and then reads: it frames packets, bounded by the maximum
// packet size before anything is allocated, stamps each at the transport
// read and queues it for the owner. Everything else runs on the owner's
// goroutine inside Yield and Publish: decoding, acknowledgements,
// keepalive pings, QoS 1/2 flows and resends, request timeouts and
// reconnect backoff, with what is due in one Yield written in one batch.
// There is no timer per connection: NextDeadline tells the owner when to
// come back.
type nativeHandle struct {
	outer *Handle
	p     Params
	prof  Profile
	clock hal.Clock
	// ctx ends with Destroy: it stops a connect in progress.
	ctx    context.Context
	cancel context.CancelFunc

	bytesIn, bytesOut atomic.Int64

	// Shared with the connection goroutines, under mu.
	mu        sync.Mutex
	inbox     []inbound
	notified  bool
	destroyed bool
	ready     chan struct{} // a wake-up for Yield(timeout > 0)

	// Owner-only state.
	spare      []inbound
	conn       *connReader // nil while offline
	gen        uint32      // generation of the current (or pending) connection
	connecting bool
	w          bytes.Buffer // the write batch
	loopState
	events     []queued
	subs       []subscription
	requests   []request
	pending    []outbound // QoS 1/2 publishes awaiting their ack
	inQoS2     []uint16   // QoS 2 deliveries received, awaiting PUBREL
	lastPID    uint16
	nextPing   time.Time
	probes     int
	reconnects int // failed attempts since the loss
	retryAt    time.Time
	server     serverLimits
	aliases    map[string]uint16
	unknown    int64 // acks for packet ids not awaited
	unacked    int64 // publishes whose ack can no longer come
	overflows  int64
	pings      int // PINGREQs sent
}

// serverLimits are what an MQTT 5.0 CONNACK announced.
type serverLimits struct {
	receiveMax int // 0: 65,535
	maxPacket  int // 0: no limit
	aliasMax   int
}

// inbound is what a connection goroutine hands the owner.
type inbound struct {
	gen   uint32
	kind  inboundKind
	typ   byte // packet type
	flags byte
	body  []byte
	at    time.Time
	err   error
	conn  *connReader
	ack   *packets.Packet // CONNACK (connected)
}

type inboundKind uint8

const (
	inPacket     inboundKind = iota // a packet read
	inLost                          // the connection ended (err)
	inConnected                     // a reconnect succeeded (conn, ack)
	inConnFailed                    // a reconnect failed (err)
)

// outbound is a QoS 1/2 publish awaiting its PUBACK, or PUBREC then
// PUBCOMP.
type outbound struct {
	pid      uint16
	qos      QoS
	retain   bool
	released bool // QoS 2: PUBREC came, PUBREL sent
	topic    string
	payload  []byte
	sent     time.Time // what the ack latency counts from
	lastSent time.Time // for resends
}

// constructNative connects a device on the native session; p has its
// defaults applied.
func constructNative(ctx context.Context, outer *Handle, p Params) (*nativeHandle, error) {
	if _, err := LookupProfile(p.SDK); err != nil && p.Profile == nil {
		return nil, err
	}
	prof := p.profile()
	if p.Version != MQTT311 && p.Version != MQTT5 {
		return nil, fmt.Errorf("%w: MQTT version %d (want %d for 3.1.1 or %d for 5.0)", ErrInvalidArgument, p.Version, MQTT311, MQTT5)
	}
	h := &nativeHandle{outer: outer, p: p, prof: prof, clock: p.Clock, ready: make(chan struct{}, 1)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { // ctx bounds the first connect; h.ctx the handle
		select {
		case <-h.ctx.Done():
			stop()
		case <-cctx.Done():
		}
	}()
	c, ack, err := h.connect(cctx)
	if err != nil {
		h.cancel()
		return nil, err
	}
	h.online(c, &ack)
	go h.serve(c, h.gen)
	return h, nil
}

// online makes c the connection (on the owner's goroutine).
func (h *nativeHandle) online(c *connReader, ack *packets.Packet) {
	h.conn = c
	h.probes = 0
	h.nextPing = h.clock.Now().Add(h.prof.pingPeriod(h.p.KeepAlive))
	h.server = serverLimits{}
	h.aliases = nil
	if h.p.Version == MQTT5 {
		pr := &ack.Properties
		h.server.receiveMax = int(pr.ReceiveMaximum)
		h.server.maxPacket = int(pr.MaximumPacketSize)
		h.server.aliasMax = int(pr.TopicAliasMaximum)
		if pr.ServerKeepAliveFlag && pr.ServerKeepAlive > 0 {
			// The broker's keepalive overrides ours [MQTT-3.2.2-21].
			h.nextPing = h.clock.Now().Add(time.Duration(pr.ServerKeepAlive) * time.Second)
		}
	}
}

// Destroy sends DISCONNECT when connected, closes the connection and ends
// any connect in progress.
func (h *nativeHandle) Destroy() error {
	h.mu.Lock()
	if h.destroyed {
		h.mu.Unlock()
		return ErrDestroyed
	}
	h.destroyed = true
	h.inbox = nil
	h.mu.Unlock()
	h.cancel()
	if h.conn != nil {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: byte(h.p.Version)}
		h.w.Reset()
		_ = pk.DisconnectEncode(&h.w)
		h.conn.SetWriteDeadline(time.Now().Add(h.p.RequestTimeout))
		h.conn.Write(h.w.Bytes())
		h.conn.Close()
		h.conn = nil
	}
	h.w = bytes.Buffer{}
	return nil
}

// CheckStateNormal reports whether the handle is connected.
func (h *nativeHandle) CheckStateNormal() bool { return h.conn != nil }

// Stats returns the handle's counters.
func (h *nativeHandle) Stats() Stats {
	return Stats{
		BytesIn: h.bytesIn.Load(), BytesOut: h.bytesOut.Load(), Inflight: len(h.pending),
		Unacked: h.unacked, UnknownAcks: h.unknown,
	}
}

// Yield runs what arrived and what is due, then the handlers.
func (h *nativeHandle) Yield(timeout time.Duration) error { return yieldLoop(h, timeout) }

func (h *nativeHandle) loop() *loopState        { return &h.loopState }
func (h *nativeHandle) pass()                   { h.run() }
func (h *nativeHandle) wakeup() <-chan struct{} { return h.ready }

func (h *nativeHandle) destroyedNow() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.destroyed
}

// run is one pass of the session: what arrived, what is due, the write
// batch, the handlers (whose publishes are flushed after them).
func (h *nativeHandle) run() {
	h.mu.Lock()
	batch := h.inbox
	h.inbox = h.spare[:0]
	h.notified = false
	destroyed := h.destroyed
	h.mu.Unlock()
	select { // drop a stale wake-up
	case <-h.ready:
	default:
	}
	if destroyed {
		return
	}
	for i := range batch {
		h.handle(&batch[i])
		batch[i] = inbound{}
	}
	h.spare = batch[:0]
	h.due(h.clock.Now())
	h.flush()
	for len(h.events) > 0 {
		evs := h.events
		h.events = nil
		for i := range evs {
			h.dispatch(&evs[i])
		}
		h.flush()
	}
}

// handle applies one item from a connection goroutine.
func (h *nativeHandle) handle(in *inbound) {
	if in.gen != h.gen {
		if in.conn != nil {
			in.conn.Close() // a stale attempt's connection
		}
		return
	}
	switch in.kind {
	case inLost:
		if errors.Is(in.err, ErrPacketTooLarge) {
			h.drop(in.err)
			return
		}
		h.lost(in.err, in.at)
	case inConnected:
		h.connecting = false
		h.reconnects = 0
		h.online(in.conn, in.ack)
		h.resume()
		h.events = append(h.events, queued{ev: Event{Type: EventReconnect, At: in.at}})
		go h.serve(in.conn, h.gen)
	case inConnFailed:
		h.connecting = false
		h.reconnects++
		wait := h.prof.backoff(h.reconnects, h.p.ReconnectMin, h.p.ReconnectMax)
		h.retryAt = h.clock.Now().Add(wait)
		h.p.Logger.Debug("reconnect failed", "client_id", h.p.ClientID, "retry_in", wait, "err", in.err)
	case inPacket:
		if h.conn == nil {
			return
		}
		h.probes = 0
		if err := h.packet(in); err != nil {
			h.drop(err)
		}
	}
}

// lost takes the session offline after a connection loss: Disconnect
// event, reconnect after the first backoff.
func (h *nativeHandle) lost(err error, at time.Time) {
	if h.conn == nil {
		return
	}
	h.conn.Close()
	h.conn = nil
	h.w.Reset()
	h.gen++
	h.p.Logger.Debug("connection lost", "client_id", h.p.ClientID, "err", err)
	ev := Event{Type: EventDisconnect, At: at, Err: err}
	var re *reasonError
	if errors.As(err, &re) {
		ev.Reason = re.name
	}
	h.events = append(h.events, queued{ev: ev})
	if !h.p.NoReconnect {
		h.reconnects = 0
		h.retryAt = h.clock.Now().Add(h.prof.backoff(0, h.p.ReconnectMin, h.p.ReconnectMax))
	}
}

// drop closes the connection because the broker broke the protocol.
func (h *nativeHandle) drop(err error) {
	if errors.Is(err, ErrPacketTooLarge) {
		h.overflows++
		h.events = append(h.events, queued{ev: Event{Type: EventBufferOverflow, At: h.clock.Now(), Err: err}})
	}
	h.lost(err, h.clock.Now())
}

// resume restores the session after a reconnect: with a clean session
// the subscriptions are made again and the publishes awaiting acks can no
// longer get them; otherwise those are sent again.
func (h *nativeHandle) resume() {
	if h.p.CleanSession {
		h.unacked += int64(len(h.pending))
		h.pending = h.pending[:0]
		h.inQoS2 = h.inQoS2[:0]
		h.requests = h.requests[:0]
		for _, s := range h.subs {
			if s.qos != QoS3SubLocal {
				if _, err := h.sendSubscribe(s.filter, s.qos); err != nil {
					h.p.Logger.Debug("resubscribe failed", "client_id", h.p.ClientID, "filter", s.filter, "err", err)
				}
			}
		}
		return
	}
	now := h.clock.Now()
	for i := range h.pending {
		h.resend(&h.pending[i], now, h.p.Version == MQTT5)
	}
}

// due runs what the clock says: request timeouts, keepalive, resends,
// a reconnect attempt.
func (h *nativeHandle) due(now time.Time) {
	h.expire(now)
	if h.conn == nil {
		if !h.connecting && !h.p.NoReconnect && !h.retryAt.IsZero() && !now.Before(h.retryAt) {
			h.reconnect()
		}
		return
	}
	if !now.Before(h.nextPing) {
		if h.probes >= h.prof.ProbeMax {
			h.lost(fmt.Errorf("iot: keepalive: %d pings unanswered", h.probes), now)
			return
		}
		// Pings are not deferred by other traffic (the SDK's policy).
		h.nextPing = h.nextPing.Add(h.prof.pingPeriod(h.p.KeepAlive))
		if h.nextPing.Before(now) {
			h.nextPing = now.Add(h.prof.pingPeriod(h.p.KeepAlive))
		}
		h.probes++
		h.pings++
		h.w.Write([]byte{packets.Pingreq << 4, 0})
	}
	resendAfter := time.Duration(h.prof.ResendFactor) * h.p.RequestTimeout
	for i := range h.pending {
		if o := &h.pending[i]; now.Sub(o.lastSent) >= resendAfter {
			h.resend(o, now, false)
		}
	}
}

// expire fails the requests that waited longer than the request timeout.
func (h *nativeHandle) expire(now time.Time) {
	h.requests = expireRequests(h.requests, now, h.p.RequestTimeout, &h.events)
}

// NextDeadline returns the earliest moment something is due.
func (h *nativeHandle) NextDeadline() (at time.Time, ok bool) {
	consider := func(t time.Time) {
		if !t.IsZero() && (!ok || t.Before(at)) {
			at, ok = t, true
		}
	}
	for _, r := range h.requests {
		consider(r.sent.Add(h.p.RequestTimeout))
	}
	if h.conn != nil {
		consider(h.nextPing)
		resendAfter := time.Duration(h.prof.ResendFactor) * h.p.RequestTimeout
		for i := range h.pending {
			consider(h.pending[i].lastSent.Add(resendAfter))
		}
	} else if !h.connecting && !h.p.NoReconnect {
		consider(h.retryAt)
	}
	return at, ok
}

// reconnect starts a connect attempt on a goroutine of its own, which
// becomes the connection's reader when it succeeds.
func (h *nativeHandle) reconnect() {
	h.connecting = true
	h.gen++
	gen := h.gen
	go func() {
		c, ack, err := h.connect(h.ctx)
		at := h.clock.Now()
		if err != nil {
			h.push(inbound{gen: gen, kind: inConnFailed, err: err, at: at})
			return
		}
		h.push(inbound{gen: gen, kind: inConnected, conn: c, ack: &ack, at: at})
	}()
}

// flush writes the batch.
func (h *nativeHandle) flush() {
	if h.w.Len() == 0 || h.conn == nil {
		h.w.Reset()
		return
	}
	h.conn.SetWriteDeadline(time.Now().Add(h.p.RequestTimeout))
	n, err := h.conn.Write(h.w.Bytes())
	h.sent(n)
	h.w.Reset()
	if err != nil {
		h.lost(fmt.Errorf("iot: write: %w", err), h.clock.Now())
	}
}

// sent counts n bytes written.
func (h *nativeHandle) sent(n int) {
	if n > 0 {
		h.bytesOut.Add(int64(n))
		if h.p.CountBytes != nil {
			h.p.CountBytes(0, int64(n))
		}
	}
}

// push queues an item from a connection goroutine and wakes the owner.
func (h *nativeHandle) push(in inbound) {
	h.mu.Lock()
	if h.destroyed {
		h.mu.Unlock()
		if in.conn != nil {
			in.conn.Close()
		}
		return
	}
	h.inbox = append(h.inbox, in)
	wake := !h.notified
	h.notified = true
	h.mu.Unlock()
	if wake {
		select {
		case h.ready <- struct{}{}:
		default:
		}
		if h.p.OnReady != nil {
			h.p.OnReady()
		}
	}
}

// dispatch runs the handlers of one event (see pahoHandle.dispatch).
func (h *nativeHandle) dispatch(q *queued) {
	ev := &q.ev
	if ev.Type != EventPublishReceived {
		h.noteSync(ev)
		if h.p.EventHandler != nil {
			h.p.EventHandler(h.outer, ev)
		}
		return
	}
	ev.Message = &q.msg
	matched := false
	for i := 0; i < len(h.subs); i++ { // a handler may subscribe: index, not range
		if s := h.subs[i]; Match(s.match, q.msg.Topic) {
			matched = true
			s.handler(h.outer, ev)
		}
	}
	if !matched && h.p.EventHandler != nil {
		h.p.EventHandler(h.outer, ev)
	}
}
