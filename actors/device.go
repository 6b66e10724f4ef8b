package actors

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/engine/devsign"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Messages a device actor receives from itself, its timers and the
// coordinator.
type (
	connectDevice  struct{}
	yieldDevice    struct{}
	publishTick    struct{ stream int }
	stopPublishing struct{}
	stall          struct{ d time.Duration }
	// churnDevice takes the device offline (DISCONNECT) for d, after which
	// it connects again.
	churnDevice struct{ d time.Duration }
)

// device is the actor of one simulated device.
type device struct {
	env     *Env
	plan    scenarios.DevicePlan
	h       *iot.Handle
	self    *actor.PID
	root    *actor.RootContext
	streams []stream
	// awaiting counts subscriptions not yet acknowledged; publishing starts
	// when it reaches zero.
	awaiting  int
	connected bool
	stopped   bool // publishing stopped (drain)
	received  receiverStreams
	// stallNext, when set, hangs the device's loop at its next publish
	// slot (fault injection: a device that freezes).
	stallNext time.Duration
	// rec counts the device's events fleet-wide and in its group, one
	// call per event (set once started).
	rec metrics.Tally
	// churned is set while the device is away because of churn.
	churned bool
	// dialer is the device's own transport dialer (fault injection).
	dialer hal.Dialer
	// ep is the device's broker endpoint in a run against several
	// brokers (nil otherwise; see attachEndpoint).
	ep *deviceEndpoint
	// reqTimer wakes the device when its session has something due (see
	// armWake); wakeAt is when it is armed for, yieldBase the start of the
	// device's yield loop.
	reqTimer  *time.Timer
	wakeAt    time.Time
	yieldBase time.Time
	// parent is the coordinator, told when the device has sent everything.
	parent *actor.PID
	// finished is set once every stream has sent its count (and every
	// RRPC call has returned); streamsDone once every stream has.
	finished    bool
	streamsDone bool
	// thing matches thing-model posts to their replies; rrpc is the cloud
	// side's schedule of calls to the device.
	thing thingState
	rrpc  rrpcState
}

// stream is one publish entry of the device's plan.
type stream struct {
	pub      *scenarios.Publication
	seq      uint32
	sent     int
	next     time.Time // intended time of the next publish
	timer    *time.Timer
	expected [3]int // matching subscriptions by delivery QoS
	done     bool
}

// newDevice returns the producer of a device actor for plan.
func newDevice(env *Env, plan scenarios.DevicePlan) actor.Producer {
	return func() actor.Actor { return &device{env: env, plan: plan} }
}

// Receive implements actor.Actor.
func (d *device) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		d.self, d.root, d.parent = ctx.Self(), ctx.ActorSystem().Root, ctx.Parent()
		d.rec = d.env.Recorder.Tally(metrics.Group(d.env.Groups, d.plan.Group.Index))
		ctx.Send(d.self, connectDevice{})
	case connectDevice:
		if d.h != nil || d.stopped {
			return
		}
		if err := d.connect(); err != nil {
			// Let the coordinator's supervisor restart us after a backoff.
			escalate(ctx, err)
		}
	case yieldDevice:
		if d.h != nil {
			d.h.Yield(0)
			d.armWake()
		}
	case publishTick:
		d.publish(m.stream)
	case stall:
		d.stallNext = m.d
	case churnDevice:
		if d.h == nil || d.stopped {
			return
		}
		d.shutdown()
		d.rec.Inc(metrics.Disconnects)
		d.churned = true
		time.AfterFunc(m.d, func() { d.root.Send(d.self, connectDevice{}) })
	case stopPublishing:
		d.stopped = true
		d.stopTimers()
	case rrpcTick:
		d.callRRPC()
	case rrpcResult:
		d.rrpcDone(m)
	case rrpcAnswer:
		d.answerRRPC(m)
	case *actor.Stopping, *actor.Restarting:
		d.shutdown()
	}
}

// escalate reports a failure to the supervisor without panicking.
func escalate(ctx actor.Context, err error) {
	if f, ok := ctx.(interface{ EscalateFailure(reason, message any) }); ok {
		f.EscalateFailure(err, ctx.Message())
		return
	}
	ctx.Stop(ctx.Self())
}

func (d *device) stripe() int { return d.plan.GlobalIndex }

// credentials returns the client id, username and password of the device.
func (d *device) credentials() (id, user, pass string, err error) {
	p := &d.plan
	if p.Auth != scenarios.AuthAlibaba {
		return p.ClientID, p.Username, p.Password, nil
	}
	region, err := devsign.ParseRegion(p.Region)
	if err != nil {
		return "", "", "", err
	}
	creds, err := devsign.Sign(region, devsign.Meta{ProductKey: p.ProductKey, DeviceName: p.DeviceName, DeviceSecret: p.DeviceSecret}, d.env.signOptions(p.Group))
	if err != nil {
		return "", "", "", fmt.Errorf("dev_sign %s/%s: %w", p.ProductKey, p.DeviceName, err)
	}
	id, user, pass = creds.ClientID, creds.Username, creds.Password
	if p.ClientID != "" {
		id = p.ClientID
	}
	if p.Username != "" {
		user = p.Username
	}
	if p.Password != "" {
		pass = p.Password
	}
	return id, user, pass, nil
}

// connect runs Sign → Construct → Subscribe.
func (d *device) connect() error {
	env := d.env
	if d.dialer == nil {
		d.dialer = env.Dialer
		if env.Faults != nil {
			d.dialer = env.Faults.Dialer(env.Dialer, d.plan.GlobalIndex)
		}
	}
	d.attachEndpoint()
	start := env.Clock.Now()
	id, user, pass, err := d.credentials()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), d.plan.ConnectTimeout)
		d.h, err = iot.Construct(ctx, iot.Params{
			Endpoint: d.endpoint(), Dialer: env.watchDial(d.dialer, d.plan.GlobalIndex, id), Clock: env.Clock,
			ClientID: id, Username: user, Password: pass,
			CleanSession: d.plan.CleanSession, KeepAlive: d.plan.KeepAlive,
			ConnectTimeout: d.plan.ConnectTimeout, Topics: env.Topics,
			EventHandler: env.watch(d.plan.GlobalIndex, id, d.onEvent),
			OnReady:      func() { d.root.Send(d.self, yieldDevice{}) },
			Logger:       env.Logger,
			CountBytes:   env.countBytes,
			Client:       d.plan.Client, Version: d.plan.MQTTVersion, SDK: d.plan.SDK,
			RequestTimeout: d.plan.RequestTimeout, MaxPacketSize: d.plan.MaxPacketSize,
			MQTT5: mqtt5Options(d.plan.MQTT5),
		})
		d.yieldBase, d.wakeAt = env.Clock.Now(), time.Time{}
		cancel()
	}
	d.attachEndpoint() // count at the endpoint of the last attempt
	rec := d.rec
	if err != nil {
		reason := failReason(err)
		rec.ConnectFailed(reason)
		if name := classifyReason(iot.ReasonOf(err)); name != "" {
			rec.CountReason("connack", name)
		}
		if env.FirstErrors != nil && env.FirstErrors.Note(reason, err) {
			env.Logger.Warn("connect failed (first of its kind; later ones are only counted)", "reason", reason.String(), "device", d.plan.GlobalIndex, "err", err)
		} else {
			env.Logger.Debug("connect failed", "device", d.plan.GlobalIndex, "err", err)
		}
		return err
	}
	d.sessionOnEndpoint()
	rec = d.rec
	rec.Record(metrics.Connect, 0, d.stripe(), env.Clock.Now().Sub(start))
	rec.Inc(metrics.ConnectOK)
	rec.Add(metrics.Connected, 1)
	d.connected = true
	if d.churned {
		d.churned = false
		rec.Inc(metrics.Reconnects)
	}
	d.awaiting = 0
	for i := range d.plan.Subscriptions {
		s := &d.plan.Subscriptions[i]
		subQoS := int(s.QoS)
		handler := func(_ *iot.Handle, ev *iot.Event) { d.receive(ev, subQoS) }
		if s.Reply != nil {
			reply := s.Reply
			handler = func(_ *iot.Handle, ev *iot.Event) {
				d.receive(ev, subQoS)
				d.sendReply(reply, ev.Message)
			}
		}
		if _, err := d.h.Subscribe(s.Filter, iot.QoS(s.QoS), handler); err != nil {
			rec.Inc(metrics.SubscribeFailed)
			env.Logger.Debug("subscribe failed", "device", d.plan.GlobalIndex, "filter", s.Filter, "err", err)
			continue
		}
		d.awaiting++
	}
	d.awaiting += d.subscribeThing()
	if d.awaiting == 0 {
		d.startPublishing()
	}
	d.armWake()
	return nil
}

// armWake makes the device yield when its session next has something due
// without anything arriving: a SUBSCRIBE's timeout (so a broker that never
// acknowledges is reported as subscribe_failed, reason timeout), a
// keepalive ping, a QoS 1 resend, a reconnect attempt. It is the device's
// one timer for its session, rounded up to the device's yield loop (the
// group's yield:), as the SDK runs that work inside IOT_MQTT_Yield; it is
// re-armed only when the deadline moves earlier or has passed.
func (d *device) armWake() {
	if d.h == nil {
		return
	}
	at, ok := d.h.NextDeadline()
	if !ok {
		return
	}
	if y := d.plan.Yield; y > 0 && !d.yieldBase.IsZero() {
		if since := at.Sub(d.yieldBase); since > 0 {
			at = d.yieldBase.Add((since + y - 1) / y * y)
		}
	}
	now := d.env.Clock.Now()
	if !d.wakeAt.IsZero() && d.wakeAt.After(now) && !at.Before(d.wakeAt) {
		return // an earlier wake-up is armed; it re-arms for this one
	}
	d.wakeAt = at
	wait := max(0, at.Sub(now)) + time.Millisecond
	if d.reqTimer == nil {
		d.reqTimer = time.AfterFunc(wait, func() { d.root.Send(d.self, yieldDevice{}) })
		return
	}
	d.reqTimer.Reset(wait)
}

// onEvent handles the events Yield delivers.
func (d *device) onEvent(_ *iot.Handle, ev *iot.Event) {
	d.onEndpointEvent(ev)
	rec := d.rec
	switch ev.Type {
	case iot.EventPublishSuccess:
		rec.IncQoS(metrics.Acked, int(ev.QoS))
		rec.Record(metrics.PublishAck, int(ev.QoS), d.stripe(), ev.Latency())
	case iot.EventPublishReceived:
		d.receive(ev, -1) // no subscription of ours matched
	case iot.EventSubscribeSuccess, iot.EventSubscribeNack, iot.EventSubscribeTimeout:
		switch ev.Type {
		case iot.EventSubscribeSuccess:
			rec.Inc(metrics.SubscribeOK)
			rec.Record(metrics.Subscribe, int(ev.QoS), d.stripe(), ev.Latency())
		case iot.EventSubscribeNack:
			rec.Inc(metrics.SubscribeFailed)
			if ev.Reason != "" {
				rec.CountReason("suback", ev.Reason)
			}
		case iot.EventSubscribeTimeout:
			rec.Inc(metrics.SubscribeFailed)
			rec.Inc(metrics.SubscribeTimeout)
			d.env.Logger.Debug("subscribe timed out", "device", d.plan.GlobalIndex, "filter", ev.Filter, "err", ev.Err)
		default:
			rec.Inc(metrics.SubscribeFailed)
		}
		if d.awaiting > 0 {
			d.awaiting--
			if d.awaiting == 0 {
				d.startPublishing()
			}
		}
	case iot.EventPublishNack:
		rec.Inc(metrics.PublishErrors)
		if ev.Reason != "" {
			rec.CountReason("puback", ev.Reason)
		}
	case iot.EventBufferOverflow:
		rec.Inc(metrics.ProtocolErrors)
	case iot.EventDisconnect:
		if ev.Reason != "" {
			rec.CountReason("disconnect", ev.Reason)
		}
		rec.Inc(metrics.Disconnects)
		if d.connected {
			d.connected = false
			rec.Add(metrics.Connected, -1)
		}
	case iot.EventReconnect:
		rec.Inc(metrics.Reconnects)
		if !d.connected {
			d.connected = true
			rec.Add(metrics.Connected, 1)
		}
	}
}

// replyFlag marks a reply in the stream byte of a stamp: a responder
// sends the request's payload back with it set.
const replyFlag = 0x80

// receive records a message delivered on a subscription of QoS subQoS
// (-1 when no subscription of the device matched): e2e latency from the
// intended send time in its stamp to its arrival at the transport (or, for
// the reply to one of this device's requests, the round trip). Only
// stamped messages are received; foreign ones are counted apart. A
// delivery at another QoS than the plan's (min of publish and subscription
// QoS) counts as received at the planned QoS plus a QoS-mismatch finding,
// so a broker that downgrades shows as a finding, not as loss.
func (d *device) receive(ev *iot.Event, subQoS int) {
	rec, m := d.rec, ev.Message
	st, ok := d.decode(m.Payload)
	if !ok {
		rec.Inc(metrics.Foreign)
		return
	}
	qos := int(m.QoS)
	if want, ok := d.plannedQoS(st, subQoS); ok && want != qos {
		rec.QoSMismatch(want, qos)
		qos = want
	}
	rec.IncQoS(metrics.Received, qos)
	kind := metrics.E2E
	if st.Publisher == uint32(d.plan.GlobalIndex) && (st.Stream&replyFlag != 0 || !d.publishesTo(m.Topic)) {
		kind = metrics.RoundTrip
		st.Stream |= replyFlag
	}
	dup := d.account(qos, st.Publisher, st.Stream, st.Seq)
	latency := m.Arrived.Sub(d.env.Epoch) - time.Duration(st.Intended)
	rec.Record(kind, qos, d.stripe(), latency)
	if dist := d.env.Distributed; dist != nil && !dup && dist.received(int(st.Publisher), qos) {
		// Published on another node: the latency spans two clocks, both
		// on the run's shared epoch (see Env.Epoch).
		rec.Inc(metrics.CrossNode)
		if kind == metrics.E2E {
			rec.Record(metrics.E2ECrossNode, qos, d.stripe(), latency)
		}
	}
}

// plannedQoS returns the QoS the plan expects a stamped delivery at: the
// lower of its publication's QoS and the subscription's. Replies (whose
// QoS is the responder's) and deliveries outside the device's own
// subscriptions are not judged.
func (d *device) plannedQoS(st metrics.Stamp, subQoS int) (int, bool) {
	if subQoS < 0 || st.Stream&replyFlag != 0 || d.env.PublishQoS == nil {
		return 0, false
	}
	pub, ok := d.env.PublishQoS(int(st.Publisher), int(st.Stream))
	if !ok {
		return 0, false
	}
	return d.env.deliveryQoS(pub, subQoS), true
}

// decode reads the stamp of a binary payload or of a JSON template.
func (d *device) decode(payload []byte) (metrics.Stamp, bool) {
	if st, err := metrics.DecodeStamp(payload); err == nil {
		return st, true
	}
	if len(payload) > 0 && payload[0] == '{' {
		for _, k := range d.env.StampKeys {
			if st, err := metrics.DecodeJSONStamp(payload, k); err == nil {
				return st, true
			}
		}
	}
	return metrics.Stamp{}, false
}

// publishesTo reports whether topic is one of the device's own publish
// topics (a self round trip rather than a reply).
func (d *device) publishesTo(topic string) bool {
	for i := range d.plan.Publishes {
		if d.plan.Publishes[i].Targets == nil && d.plan.Publishes[i].Topic == topic {
			return true
		}
	}
	return false
}

// sendReply answers a request (subscription with reply:) with the
// request's own payload, marked as a reply, so the requester measures the
// whole round trip.
func (d *device) sendReply(r *scenarios.Reply, m *iot.TopicInfo) {
	rec := d.rec
	topic, ok := r.Topic(m.Topic)
	if !ok {
		rec.Inc(metrics.PublishErrors)
		return
	}
	payload := bytes.Clone(m.Payload)
	if _, err := metrics.DecodeStamp(payload); err == nil {
		payload[3] |= replyFlag
	}
	qos := iot.QoS(r.QoS)
	if _, err := d.h.Publish(topic, &iot.TopicInfo{QoS: qos, Payload: payload}); err != nil {
		rec.Inc(metrics.PublishErrors)
		d.env.Logger.Debug("reply failed", "device", d.plan.GlobalIndex, "topic", topic, "err", err)
		return
	}
	rec.IncQoS(metrics.Published, int(qos))
	d.addExpected(topic, qos)
}

// addExpected counts the deliveries the plan expects for one message.
func (d *device) addExpected(topic string, qos iot.QoS) {
	if d.env.Index == nil {
		return
	}
	for q, n := range d.env.Index.Count(topic, qos) {
		if n > 0 {
			d.rec.AddQoS(metrics.Expected, q, int64(n))
		}
	}
}

// account checks a stamped arrival against its stream: duplicates and
// late (reordered) arrivals are counted per (publisher, receiver) stream.
// It reports whether the arrival was a duplicate.
func (d *device) account(qos int, publisher uint32, stream uint8, seq uint32) (dup bool) {
	dup, late := d.received.observe(streamKey{publisher: publisher, stream: stream}, seq)
	switch {
	case dup:
		d.rec.IncQoS(metrics.Duplicates, qos)
	case late:
		d.rec.IncQoS(metrics.Reordered, qos)
	}
	return dup
}

// startPublishing arms one timer per publish entry. After churn it
// resumes the schedule from now: the slots the device spent away were not
// missed by a slow device but skipped by design.
func (d *device) startPublishing() {
	if d.stopped {
		return
	}
	d.startRRPC()
	now := d.env.Clock.Now()
	if d.streams != nil {
		for i := range d.streams {
			if s := &d.streams[i]; !s.done {
				s.next = now
				s.timer.Reset(0)
			}
		}
		return
	}
	d.streams = make([]stream, len(d.plan.Publishes))
	if len(d.streams) == 0 {
		d.streamsDone = true
		d.finish() // nothing to publish: done once connected and subscribed
		return
	}
	for i := range d.plan.Publishes {
		p := &d.plan.Publishes[i]
		s := &d.streams[i]
		s.pub = p
		s.next = now.Add(p.Start)
		if d.env.Index != nil && p.Targets == nil && p.Thing == nil {
			s.expected = d.env.Index.Count(p.Topic, iot.QoS(p.QoS))
		}
		i := i
		s.timer = time.AfterFunc(p.Start, func() { d.root.Send(d.self, publishTick{stream: i}) })
	}
}

// publish sends the next message of stream i at its intended time and
// re-arms the timer for the one after. Latency counts from the intended
// time, so a device that falls behind shows it as latency (and as lagged).
func (d *device) publish(i int) {
	if d.stopped || i >= len(d.streams) || d.streams[i].done {
		return
	}
	if d.stallNext > 0 {
		time.Sleep(d.stallNext) // nothing runs meanwhile; timers and arrivals queue up
		d.stallNext = 0
	}
	s, env, rec := &d.streams[i], d.env, d.rec
	p := s.pub
	qos := int(p.QoS)
	intended := s.next
	now := env.Clock.Now()
	if now.Sub(intended) > p.Interval {
		rec.Inc(metrics.Lagged)
	}
	var payload []byte
	if p.Thing != nil {
		payload = d.thingPayload(p, s.seq, i, intended)
	} else {
		payload = d.payload(i, s, intended)
	}
	topic := p.Topic
	if p.Targets != nil {
		topic = p.TopicFor(p.Target(uint64(s.seq)))
	}
	_, err := d.h.Publish(topic, &iot.TopicInfo{QoS: iot.QoS(p.QoS), Retain: p.Retain, Payload: payload, Sent: intended})
	if qos > 0 {
		d.armWake() // its resend
	}
	if err != nil {
		rec.Inc(metrics.PublishErrors)
		if p.Thing != nil {
			d.thingPostFailed()
		}
		env.Logger.Debug("publish failed", "device", d.plan.GlobalIndex, "topic", topic, "err", err)
	} else {
		rec.IncQoS(metrics.Published, qos)
		if p.Thing != nil {
			rec.Inc(metrics.ThingPosts)
		}
		rec.NotePublish(d.stripe(), intended.Sub(env.Epoch))
		if p.Targets != nil {
			d.addExpected(topic, iot.QoS(p.QoS))
		} else {
			for q, n := range s.expected {
				if n > 0 {
					rec.AddQoS(metrics.Expected, q, int64(n))
				}
			}
		}
	}
	s.seq++
	s.sent++
	if p.Count > 0 && s.sent >= p.Count {
		s.done = true
		for i := range d.streams {
			if !d.streams[i].done {
				return
			}
		}
		d.streamsDone = true
		d.finish()
		return
	}
	s.next = intended.Add(p.Interval)
	s.timer.Reset(max(0, s.next.Sub(env.Clock.Now())))
}

// payload builds the message body: the binary stamp padded to the
// configured size, or the JSON template with its runtime fields.
func (d *device) payload(i int, s *stream, intended time.Time) []byte {
	ts := intended.Sub(d.env.Epoch).Nanoseconds()
	pl := s.pub.Payload
	if pl.IsTemplate() {
		return pl.AppendTemplate(make([]byte, 0, pl.MaxSize()), scenarios.RuntimeFields{
			Seq: uint64(s.seq), TS: ts, Publisher: uint64(d.plan.GlobalIndex), Stream: uint64(i),
		})
	}
	st := metrics.Stamp{Stream: uint8(i), Publisher: uint32(d.plan.GlobalIndex), Seq: s.seq, Intended: ts}
	return metrics.AppendStamp(make([]byte, 0, max(pl.Size, metrics.StampSize)), st, pl.Size)
}

// mqtt5Options maps a group's mqtt5: block to the session's options.
func mqtt5Options(m *scenarios.MQTT5) iot.MQTT5Options {
	if m == nil {
		return iot.MQTT5Options{}
	}
	o := iot.MQTT5Options{SessionExpiry: m.SessionExpiry, ReceiveMaximum: m.ReceiveMaximum, TopicAliases: m.TopicAliases}
	for _, u := range m.UserProperties {
		o.UserProperties = append(o.UserProperties, iot.UserProperty{Key: u.Key, Value: u.Value})
	}
	return o
}

// finish tells the coordinator that the device has sent its whole plan.
func (d *device) finish() {
	if d.finished || d.parent == nil || d.rrpcActive() {
		return
	}
	d.finished = true
	d.root.Send(d.parent, deviceDone{index: d.plan.GlobalIndex})
}

func (d *device) stopTimers() {
	if d.reqTimer != nil {
		d.reqTimer.Stop()
	}
	if d.rrpc.timer != nil {
		d.rrpc.timer.Stop()
	}
	for i := range d.streams {
		if t := d.streams[i].timer; t != nil {
			t.Stop()
		}
	}
}

// shutdown stops the timers and destroys the handle (sending DISCONNECT).
func (d *device) shutdown() {
	d.stopTimers()
	if d.h == nil {
		return
	}
	d.h.Yield(0) // record what already arrived
	d.closeThing()
	rec := d.rec
	if n := d.h.Stats().UnknownAcks; n > 0 {
		rec.Add(metrics.ProtocolErrors, n)
	}
	d.h.Destroy()
	d.h = nil
	if d.connected {
		d.connected = false
		rec.Add(metrics.Connected, -1)
	}
}
