package iot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// maxArrivals bounds the per-connection queue of PUBLISH arrival stamps
// waiting for paho to deliver their message.
const maxArrivals = 4096

// maxEarlyAcks bounds the acks kept for publishes not yet registered
// (an ack can overtake Publish's bookkeeping); beyond it, an unmatched ack
// counts as an unknown packet id at once.
const maxEarlyAcks = 64

// writeTimeout bounds how long one packet write may block before the
// connection is considered broken.
const writeTimeout = 10 * time.Second

// pahoHandle is the session of a Handle on paho.mqtt.golang (client: paho),
// the reference the native session is checked against: the network side
// runs on paho's goroutines and hands everything to Yield.
type pahoHandle struct {
	outer  *Handle // what handlers receive
	p      Params
	clock  interface{ Now() time.Time }
	client paho.Client
	ready  chan struct{}

	bytesIn, bytesOut atomic.Int64
	arrivalMisses     atomic.Int64
	unacked           atomic.Int64

	mu         sync.Mutex
	conn       *wireConn
	arrivals   []arrival
	pendingPub map[uint16]pendingPub
	earlyAck   map[uint16]time.Time
	requests   []request
	nextReq    uint16
	inbox      []queued
	notified   bool
	destroyed  bool
	backoff    time.Duration
	timer      *time.Timer
	// breach is the protocol breach that ended the current connection
	// attempt (not MQTT, an undefined CONNACK code), nil otherwise.
	breach error
	// unknownAcks counts PUBACK/PUBCOMPs for packet ids never published
	// beyond what earlyAck holds (see maxEarlyAcks).
	unknownAcks int64

	subMu sync.RWMutex
	subs  []subscription

	// Owner-only state.
	spare []queued
	loopState
}

// pendingPub is a QoS 1/2 publish awaiting its PUBACK/PUBCOMP.
type pendingPub struct {
	sent time.Time
	qos  QoS
}

type arrival struct {
	at       time.Time
	topicLen uint16
	qos      byte
	pid      uint16
}

// request is an outstanding SUBSCRIBE or UNSUBSCRIBE. On the native
// session id is the packet id; on paho, which assigns packet ids itself,
// id is the handle's request id and the request is matched to its wire
// packet id (wirePID) when the SUBSCRIBE is written, then to its ack.
type request struct {
	id      uint16
	unsub   bool
	qos     QoS
	filter  string
	sent    time.Time
	wirePID uint16 // 0 until the packet was written
}

type subscription struct {
	filter  string
	match   string // the filter topics are matched with (shared: the inner one)
	qos     QoS
	handler Handler
}

type queued struct {
	ev  Event
	msg TopicInfo
}

type syncWait struct {
	id     uint16
	result EventType
}

// constructPaho connects a device on paho; p has its defaults applied.
func constructPaho(ctx context.Context, outer *Handle, p Params) (*pahoHandle, error) {
	h := &pahoHandle{outer: outer, p: p, clock: p.Clock, ready: make(chan struct{}, 1), backoff: p.ReconnectMin}

	opts := paho.NewClientOptions()
	host := p.Endpoint.Address()
	if p.Endpoint.Transport == "mem" {
		host = "127.0.0.1:1" // paho wants a URL; the HAL ignores it
	}
	// Always tcp://, whatever the transport: paho never dials itself (open
	// is its custom open-connection hook), so ws:// and wss:// go through
	// the HAL's WebSocket transport, with its faults, source addresses and
	// byte counters, not through paho's own WebSocket support.
	opts.AddBroker("tcp://" + host)
	opts.SetCustomOpenConnectionFn(h.open)
	opts.SetClientID(p.ClientID)
	opts.SetUsername(p.Username)
	opts.SetPassword(p.Password)
	opts.SetCleanSession(p.CleanSession)
	opts.SetProtocolVersion(4)
	opts.SetKeepAlive(p.KeepAlive)
	opts.SetPingTimeout(p.KeepAlive)
	opts.SetConnectTimeout(p.ConnectTimeout)
	opts.SetWriteTimeout(writeTimeout)
	opts.SetAutoReconnect(false)
	opts.SetConnectRetry(false)
	opts.SetResumeSubs(false)
	opts.SetOrderMatters(true)
	opts.SetDefaultPublishHandler(h.onMessage)
	opts.SetConnectionLostHandler(h.onLost)
	h.client = paho.NewClient(opts)

	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// open is paho's custom open-connection hook: every connection is
// established by the HAL and wrapped to watch the wire.
func (h *pahoHandle) open(*url.URL, paho.ClientOptions) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.p.ConnectTimeout)
	defer cancel()
	c, err := h.p.Dialer.Establish(ctx, h.p.Endpoint)
	if err != nil {
		if werr := wsRefusal(err); werr != nil {
			return nil, werr
		}
		return nil, err
	}
	w := newWireConn(c, h)
	h.mu.Lock()
	h.breach = nil
	h.conn = w
	h.arrivals = h.arrivals[:0]
	h.mu.Unlock()
	return w, nil
}

// connect runs one connect attempt and classifies its failure.
func (h *pahoHandle) connect(ctx context.Context) error {
	tok := h.client.Connect()
	timer := time.NewTimer(h.p.ConnectTimeout + time.Second)
	defer timer.Stop()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		h.client.Disconnect(0)
		return fmt.Errorf("iot: connect %s: %w", h.p.Endpoint, ctx.Err())
	case <-timer.C:
		h.client.Disconnect(0)
		return fmt.Errorf("iot: connect %s: %w", h.p.Endpoint, ErrConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		h.mu.Lock()
		breach := h.breach
		h.mu.Unlock()
		if breach != nil {
			return fmt.Errorf("iot: connect %s as %q: %w", h.p.Endpoint, h.p.ClientID, breach)
		}
		return fmt.Errorf("iot: connect %s as %q: %w", h.p.Endpoint, h.p.ClientID, classifyConnectError(err))
	}
	return nil
}

// noteBreach records why the connection was closed for breaking the
// protocol (called from the network side).
func (h *pahoHandle) noteBreach(err error) {
	h.mu.Lock()
	if h.breach == nil {
		h.breach = err
	}
	h.mu.Unlock()
}

func classifyConnectError(err error) error {
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return fmt.Errorf("%w (%v)", ErrNotAuthorized, err)
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion), errors.Is(err, packets.ErrorRefusedIDRejected),
		errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return fmt.Errorf("%w: %v", ErrConnectRefused, err)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return fmt.Errorf("%w: %v", ErrConnectTimeout, err)
	}
	return err
}

// Destroy disconnects (sending DISCONNECT when connected) and releases the
// handle (IOT_MQTT_Destroy). Events still queued are discarded.
func (h *pahoHandle) Destroy() error {
	h.mu.Lock()
	if h.destroyed {
		h.mu.Unlock()
		return ErrDestroyed
	}
	h.destroyed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.inbox = nil
	h.mu.Unlock()
	h.client.Disconnect(uint(h.p.RequestTimeout / time.Millisecond))
	return nil
}

// CheckStateNormal reports whether the handle is connected
// (IOT_MQTT_CheckStateNormal).
func (h *pahoHandle) CheckStateNormal() bool { return h.client.IsConnectionOpen() }

// Stats returns the handle's counters.
func (h *pahoHandle) Stats() Stats {
	h.mu.Lock()
	inflight := len(h.pendingPub)
	unknown := h.unknownAcks + int64(len(h.earlyAck))
	h.mu.Unlock()
	return Stats{
		BytesIn: h.bytesIn.Load(), BytesOut: h.bytesOut.Load(), Inflight: inflight,
		Unacked: h.unacked.Load(), ArrivalMisses: h.arrivalMisses.Load(), UnknownAcks: unknown,
	}
}

// Yield delivers pending events and messages to their handlers, waiting up
// to timeout for more (IOT_MQTT_Yield).
func (h *pahoHandle) Yield(timeout time.Duration) error { return yieldLoop(h, timeout) }

func (h *pahoHandle) loop() *loopState        { return &h.loopState }
func (h *pahoHandle) pass()                   { h.deliver() }
func (h *pahoHandle) wakeup() <-chan struct{} { return h.ready }

func (h *pahoHandle) destroyedNow() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.destroyed
}

// deliver runs the handlers of everything queued so far, after failing the
// SUBSCRIBE/UNSUBSCRIBE requests that waited longer than the request
// timeout for their ack (the SDK checks them in yield, too).
func (h *pahoHandle) deliver() {
	h.mu.Lock()
	h.expireRequests()
	batch := h.inbox
	h.inbox = h.spare[:0]
	h.notified = false
	h.mu.Unlock()
	select { // drop a stale wake-up
	case <-h.ready:
	default:
	}
	for i := range batch {
		h.dispatch(&batch[i])
		batch[i] = queued{} // release payloads
	}
	h.spare = batch[:0]
}

func (h *pahoHandle) dispatch(q *queued) {
	ev := &q.ev
	if ev.Type != EventPublishReceived {
		h.noteSync(ev)
		if h.p.EventHandler != nil {
			h.p.EventHandler(h.outer, ev)
		}
		return
	}
	ev.Message = &q.msg
	var matched [8]Handler
	n := 0
	more := false
	h.subMu.RLock()
	for _, s := range h.subs {
		if Match(s.match, q.msg.Topic) {
			if n == len(matched) {
				more = true
				break
			}
			matched[n] = s.handler
			n++
		}
	}
	var extra []Handler
	if more {
		for _, s := range h.subs {
			if Match(s.match, q.msg.Topic) {
				extra = append(extra, s.handler)
			}
		}
	}
	h.subMu.RUnlock()
	if extra != nil {
		for _, fn := range extra {
			fn(h.outer, ev)
		}
		return
	}
	for i := 0; i < n; i++ {
		matched[i](h.outer, ev)
	}
	if n == 0 && h.p.EventHandler != nil {
		h.p.EventHandler(h.outer, ev)
	}
}

// push queues an event for Yield and wakes the owner.
func (h *pahoHandle) push(q queued) {
	h.mu.Lock()
	if h.destroyed {
		h.mu.Unlock()
		return
	}
	h.inbox = append(h.inbox, q)
	wake := !h.notified
	h.notified = true
	h.mu.Unlock()
	if wake {
		h.wake()
	}
}

func (h *pahoHandle) wake() {
	select {
	case h.ready <- struct{}{}:
	default:
	}
	if h.p.OnReady != nil {
		h.p.OnReady()
	}
}

// Subscribe registers handler for filter and sends SUBSCRIBE without
// waiting for the SUBACK (IOT_MQTT_Subscribe). It returns a request id that
// the SubscribeSuccess/SubscribeNack event carries as PacketID. Subscribing
// a filter again replaces its handler and QoS.
func (h *pahoHandle) Subscribe(filter string, qos QoS, handler Handler) (uint16, error) {
	qos, err := subscribeArgs(h.p.Topics, filter, qos, handler)
	if err != nil {
		return 0, err
	}
	if qos == QoS3SubLocal {
		h.addSub(filter, qos, handler)
		return 0, nil
	}
	if err := h.usable(); err != nil {
		return 0, err
	}
	h.addSub(filter, qos, handler)
	return h.sendSubscribe(filter, qos)
}

func (h *pahoHandle) sendSubscribe(filter string, qos QoS) (uint16, error) {
	id := h.newRequest(filter, false, qos)
	tok := h.client.Subscribe(filter, byte(qos), nil)
	if err := failedAlready(tok); err != nil {
		h.dropRequest(id)
		return 0, fmt.Errorf("iot: subscribe %q: %w", filter, err)
	}
	return id, nil
}

// SubscribeSync subscribes and yields until the SUBACK
// (IOT_MQTT_Subscribe_Sync).
func (h *pahoHandle) SubscribeSync(filter string, qos QoS, handler Handler, timeout time.Duration) (uint16, error) {
	return subscribeSync(h, filter, qos, handler, timeout)
}

// Unsubscribe removes the handler of exactly filter and sends UNSUBSCRIBE
// (IOT_MQTT_Unsubscribe). It returns a request id carried by the
// UnsubscribeSuccess event.
func (h *pahoHandle) Unsubscribe(filter string) (uint16, error) {
	if err := ValidateFilter(h.p.Topics, filter); err != nil {
		return 0, err
	}
	if err := h.usable(); err != nil {
		return 0, err
	}
	h.subMu.Lock()
	kept := h.subs[:0]
	var local bool
	for _, s := range h.subs {
		if s.filter == filter {
			local = s.qos == QoS3SubLocal
			continue
		}
		kept = append(kept, s)
	}
	clear(h.subs[len(kept):])
	h.subs = kept
	h.subMu.Unlock()
	if local {
		return 0, nil
	}
	id := h.newRequest(filter, true, 0)
	if err := failedAlready(h.client.Unsubscribe(filter)); err != nil {
		h.dropRequest(id)
		return 0, fmt.Errorf("iot: unsubscribe %q: %w", filter, err)
	}
	return id, nil
}

// Publish sends a message (IOT_MQTT_Publish) with info's QoS, Retain and
// Payload. It returns the packet id for QoS 1 and 2 (0 for QoS 0); its
// PublishSuccess event comes when the PUBACK (QoS 1) or PUBCOMP (QoS 2)
// arrives, with Sent = info.Sent (or the call time) and At = the arrival.
// The payload must not be modified afterwards: it is kept until
// acknowledged, for resending after a reconnect.
func (h *pahoHandle) Publish(topic string, info *TopicInfo) (uint16, error) {
	if info == nil || info.Payload == nil {
		return 0, fmt.Errorf("%w: nil message or payload", ErrInvalidArgument)
	}
	if info.QoS > QoS2 {
		return 0, fmt.Errorf("%w: publish QoS %d", ErrInvalidArgument, info.QoS)
	}
	if err := ValidateTopic(h.p.Topics, topic); err != nil {
		return 0, err
	}
	if err := h.usable(); err != nil {
		return 0, err
	}
	sent := info.Sent
	if sent.IsZero() {
		sent = h.clock.Now()
	}
	tok := h.client.Publish(topic, byte(info.QoS), info.Retain, info.Payload)
	if err := failedAlready(tok); err != nil {
		return 0, fmt.Errorf("iot: publish %q: %w", topic, err)
	}
	if info.QoS == QoS0 {
		return 0, nil
	}
	pid := tok.(*paho.PublishToken).MessageID()
	if pid == 0 {
		return 0, fmt.Errorf("iot: publish %q: no packet id assigned", topic)
	}
	h.mu.Lock()
	if at, ok := h.earlyAck[pid]; ok {
		delete(h.earlyAck, pid)
		if !at.Before(sent) {
			h.mu.Unlock()
			h.push(queued{ev: Event{Type: EventPublishSuccess, PacketID: pid, QoS: info.QoS, Sent: sent, At: at}})
			return pid, nil
		}
	}
	if h.pendingPub == nil {
		h.pendingPub = make(map[uint16]pendingPub)
	}
	h.pendingPub[pid] = pendingPub{sent: sent, qos: info.QoS}
	h.mu.Unlock()
	return pid, nil
}

func (h *pahoHandle) usable() error {
	h.mu.Lock()
	destroyed := h.destroyed
	h.mu.Unlock()
	if destroyed {
		return ErrDestroyed
	}
	if !h.client.IsConnectionOpen() {
		return ErrOffline
	}
	return nil
}

// failedAlready returns the token's error if it has already completed with
// one, without waiting.
func failedAlready(tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	default:
		return nil
	}
}

func (h *pahoHandle) addSub(filter string, qos QoS, handler Handler) {
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.subs = addSubscription(h.subs, filter, qos, handler)
}

// expireRequests fails the requests older than the request timeout (see
// the shared expireRequests). It must be called with h.mu held.
func (h *pahoHandle) expireRequests() {
	if len(h.requests) > 0 {
		h.requests = expireRequests(h.requests, h.clock.Now(), h.p.RequestTimeout, &h.inbox)
	}
}

// NextDeadline returns when the oldest outstanding SUBSCRIBE/UNSUBSCRIBE
// request times out (ok false when none is outstanding): the owner should
// Yield then, so the timeout is reported on time.
func (h *pahoHandle) NextDeadline() (at time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.requests {
		if d := r.sent.Add(h.p.RequestTimeout); !ok || d.Before(at) {
			at, ok = d, true
		}
	}
	return at, ok
}

func (h *pahoHandle) newRequest(filter string, unsub bool, qos QoS) uint16 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextReq++
	if h.nextReq == 0 {
		h.nextReq = 1
	}
	h.requests = append(h.requests, request{id: h.nextReq, unsub: unsub, qos: qos, filter: filter, sent: h.clock.Now()})
	return h.nextReq
}

func (h *pahoHandle) dropRequest(id uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.requests {
		if h.requests[i].id == id {
			h.requests = append(h.requests[:i], h.requests[i+1:]...)
			return
		}
	}
}

// onOutboundFrame matches a written SUBSCRIBE/UNSUBSCRIBE to the oldest
// request for the same filter.
func (h *pahoHandle) onOutboundFrame(f *frame) {
	if f.typ != pktSubscribe && f.typ != pktUnsubscribe {
		return
	}
	unsub := f.typ == pktUnsubscribe
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.requests {
		r := &h.requests[i]
		if r.wirePID == 0 && r.unsub == unsub && filterMatchesCapture(r.filter, f.filter) {
			r.wirePID = f.pid
			return
		}
	}
}

func filterMatchesCapture(filter string, captured []byte) bool {
	if len(filter) > maxFilterCapture {
		filter = filter[:maxFilterCapture]
	}
	return filter == string(captured)
}

// onInboundFrame runs on paho's reader goroutine for every packet of
// interest, at stamp = the time of the transport read that completed it.
func (h *pahoHandle) onInboundFrame(w *wireConn, f *frame, at time.Time) {
	switch f.typ {
	case pktPublish:
		h.mu.Lock()
		if w == h.conn {
			if len(h.arrivals) >= maxArrivals {
				n := copy(h.arrivals, h.arrivals[1:])
				h.arrivals = h.arrivals[:n]
			}
			h.arrivals = append(h.arrivals, arrival{at: at, topicLen: f.topicLen, qos: (f.flags >> 1) & 3, pid: f.pid})
		}
		h.mu.Unlock()
	case pktPuback, pktPubcomp:
		h.mu.Lock()
		pp, ok := h.pendingPub[f.pid]
		switch {
		case ok:
			delete(h.pendingPub, f.pid)
		case len(h.earlyAck) >= maxEarlyAcks:
			h.unknownAcks++ // a broker acking ids we never sent: bounded
		default:
			// The ack may have overtaken Publish's own bookkeeping.
			if h.earlyAck == nil {
				h.earlyAck = make(map[uint16]time.Time)
			}
			h.earlyAck[f.pid] = at
		}
		h.mu.Unlock()
		if ok {
			h.push(queued{ev: Event{Type: EventPublishSuccess, PacketID: f.pid, QoS: pp.qos, Sent: pp.sent, At: at}})
		}
	case pktSuback, pktUnsuback:
		unsub := f.typ == pktUnsuback
		h.mu.Lock()
		var r request
		found := false
		for i := range h.requests {
			if h.requests[i].wirePID == f.pid && h.requests[i].unsub == unsub {
				r, found = h.requests[i], true
				h.requests = append(h.requests[:i], h.requests[i+1:]...)
				break
			}
		}
		h.mu.Unlock()
		if !found {
			return
		}
		typ := EventSubscribeSuccess
		switch {
		case unsub:
			typ = EventUnsubscribeSuccess
		case f.nack:
			typ = EventSubscribeNack
		}
		h.push(queued{ev: Event{Type: typ, PacketID: r.id, QoS: r.qos, Filter: r.filter, Sent: r.sent, At: at}})
	}
}

// onMessage is paho's publish handler: it pairs the message with its
// transport arrival stamp and queues it for Yield.
func (h *pahoHandle) onMessage(_ paho.Client, m paho.Message) {
	topic := m.Topic()
	at, ok := h.takeArrival(len(topic), m.Qos(), m.MessageID())
	if !ok {
		at = h.clock.Now()
		h.arrivalMisses.Add(1)
	}
	if h.p.ReadBufSize > 0 && len(topic)+len(m.Payload())+4 > h.p.ReadBufSize {
		h.push(queued{ev: Event{Type: EventBufferOverflow, At: at}})
		return
	}
	h.push(queued{
		ev: Event{Type: EventPublishReceived, PacketID: m.MessageID(), At: at},
		msg: TopicInfo{
			PacketID: m.MessageID(), QoS: QoS(m.Qos()), Dup: m.Duplicate(), Retain: m.Retained(),
			Topic: topic, Payload: m.Payload(), Arrived: at,
		},
	})
}

// takeArrival pops the arrival stamp of the oldest matching PUBLISH.
func (h *pahoHandle) takeArrival(topicLen int, qos byte, pid uint16) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, a := range h.arrivals {
		if int(a.topicLen) == topicLen && a.qos == qos && (qos == 0 || a.pid == pid) {
			n := copy(h.arrivals, h.arrivals[i+1:])
			h.arrivals = h.arrivals[:n]
			return a.at, true
		}
	}
	return time.Time{}, false
}

// onLost is paho's connection-lost handler: report Disconnect and schedule
// a reconnect on the SDK backoff.
func (h *pahoHandle) onLost(_ paho.Client, err error) {
	h.mu.Lock()
	if h.destroyed {
		h.mu.Unlock()
		return
	}
	h.conn = nil
	h.arrivals = h.arrivals[:0]
	h.mu.Unlock()
	h.p.Logger.Debug("connection lost", "client_id", h.p.ClientID, "err", err)
	h.push(queued{ev: Event{Type: EventDisconnect, At: h.clock.Now(), Err: err}})
	if !h.p.NoReconnect {
		h.scheduleReconnect(h.p.ReconnectMin)
	}
}

func (h *pahoHandle) scheduleReconnect(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.destroyed {
		return
	}
	h.backoff = d
	h.timer = time.AfterFunc(d, h.reconnect)
}

// reconnect runs on a timer goroutine; it lives only while an attempt is
// in progress.
func (h *pahoHandle) reconnect() {
	err := h.connect(context.Background())
	h.mu.Lock()
	destroyed := h.destroyed
	next := min(h.backoff*2, h.p.ReconnectMax)
	h.mu.Unlock()
	if destroyed {
		if err == nil {
			h.client.Disconnect(0)
		}
		return
	}
	if err != nil {
		h.p.Logger.Debug("reconnect failed", "client_id", h.p.ClientID, "retry_in", next, "err", err)
		h.scheduleReconnect(next)
		return
	}
	if h.p.CleanSession {
		// The session is gone: publishes awaiting acks will never get them,
		// and subscriptions must be made again.
		h.mu.Lock()
		h.unacked.Add(int64(len(h.pendingPub)))
		clear(h.pendingPub)
		clear(h.earlyAck)
		h.requests = h.requests[:0]
		h.mu.Unlock()
		h.resubscribe()
	}
	h.mu.Lock()
	h.backoff = h.p.ReconnectMin
	h.mu.Unlock()
	h.push(queued{ev: Event{Type: EventReconnect, At: h.clock.Now()}})
}

func (h *pahoHandle) resubscribe() {
	h.subMu.RLock()
	subs := append([]subscription(nil), h.subs...)
	h.subMu.RUnlock()
	for _, s := range subs {
		if s.qos == QoS3SubLocal {
			continue
		}
		if _, err := h.sendSubscribe(s.filter, s.qos); err != nil {
			h.p.Logger.Debug("resubscribe failed", "client_id", h.p.ClientID, "filter", s.filter, "err", err)
		}
	}
}
