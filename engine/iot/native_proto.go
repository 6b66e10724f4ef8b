package iot

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// packet handles one packet from the broker, on the owner's goroutine.
// An error is a protocol breach that ends the connection.
func (h *nativeHandle) packet(in *inbound) error {
	pk := packets.Packet{ProtocolVersion: byte(h.p.Version)}
	if err := pk.FixedHeader.Decode(in.typ<<4 | in.flags); err != nil {
		return fmt.Errorf("%w: packet type %d flags %#x: %v", ErrProtocol, in.typ, in.flags, err)
	}
	pk.FixedHeader.Remaining = len(in.body)
	switch in.typ {
	case packets.Publish:
		if err := pk.PublishDecode(in.body); err != nil {
			return fmt.Errorf("%w: malformed PUBLISH: %v", ErrProtocol, err)
		}
		return h.onPublish(&pk, in.at)
	case packets.Puback, packets.Pubrec, packets.Pubcomp:
		if err := pk.PubackDecode(in.body); err != nil { // the same layout for the three
			return fmt.Errorf("%w: malformed %s: %v", ErrProtocol, packetName(in.typ), err)
		}
		h.onAck(&pk, in.at)
	case packets.Pubrel:
		if err := pk.PubrelDecode(in.body); err != nil {
			return fmt.Errorf("%w: malformed PUBREL: %v", ErrProtocol, err)
		}
		if i := slices.Index(h.inQoS2, pk.PacketID); i >= 0 {
			h.inQoS2 = slices.Delete(h.inQoS2, i, i+1)
		}
		h.ack(packets.Pubcomp, pk.PacketID)
	case packets.Suback, packets.Unsuback:
		var err error
		if in.typ == packets.Suback {
			err = pk.SubackDecode(in.body)
		} else {
			err = pk.UnsubackDecode(in.body)
		}
		if err != nil {
			return fmt.Errorf("%w: malformed %s: %v", ErrProtocol, packetName(in.typ), err)
		}
		h.onSuback(&pk, in.typ == packets.Unsuback, in.at)
	case packets.Pingresp:
	case packets.Disconnect: // MQTT 5.0: the broker says why it ends the session
		if err := pk.DisconnectDecode(in.body); err != nil {
			return fmt.Errorf("%w: malformed DISCONNECT: %v", ErrProtocol, err)
		}
		name := ReasonName(pk.ReasonCode)
		return &reasonError{name, fmt.Errorf("iot: the broker disconnected: %s (0x%02x)", name, pk.ReasonCode)}
	default:
		return fmt.Errorf("%w: unexpected %s from the broker", ErrProtocol, packetName(in.typ))
	}
	return nil
}

// onPublish delivers a message and acknowledges it (QoS 1: PUBACK; QoS 2:
// PUBREC, delivered once until its PUBREL).
func (h *nativeHandle) onPublish(pk *packets.Packet, at time.Time) error {
	if pk.TopicName == "" {
		return fmt.Errorf("%w: PUBLISH without a topic (topic aliases are not accepted)", ErrProtocol)
	}
	qos := QoS(pk.FixedHeader.Qos)
	switch qos {
	case QoS1:
		h.ack(packets.Puback, pk.PacketID)
	case QoS2:
		h.ack(packets.Pubrec, pk.PacketID)
		if slices.Contains(h.inQoS2, pk.PacketID) {
			return nil // a resend before PUBREL: delivered already
		}
		h.inQoS2 = append(h.inQoS2, pk.PacketID)
	}
	h.events = append(h.events, queued{
		ev: Event{Type: EventPublishReceived, PacketID: pk.PacketID, At: at},
		msg: TopicInfo{
			PacketID: pk.PacketID, QoS: qos, Dup: pk.FixedHeader.Dup, Retain: pk.FixedHeader.Retain,
			Topic: pk.TopicName, Payload: pk.Payload, Arrived: at,
		},
	})
	return nil
}

// ack queues a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (h *nativeHandle) ack(typ byte, pid uint16) {
	var b [4]byte
	b[0] = typ << 4
	if typ == packets.Pubrel {
		b[0] |= 0x02
	}
	b[1], b[2], b[3] = 2, byte(pid>>8), byte(pid)
	h.w.Write(b[:])
}

// onAck matches a PUBACK, PUBREC or PUBCOMP to its publish.
func (h *nativeHandle) onAck(pk *packets.Packet, at time.Time) {
	typ := pk.FixedHeader.Type
	i := slices.IndexFunc(h.pending, func(o outbound) bool { return o.pid == pk.PacketID })
	if i < 0 || (typ == packets.Puback) != (h.pending[i].qos == QoS1) || (typ == packets.Pubcomp && !h.pending[i].released) {
		if typ == packets.Pubrec {
			h.ack(packets.Pubrel, pk.PacketID) // let the broker finish a flow we no longer hold
		}
		h.unknown++ // an ack for a packet id not awaited: the broker's error
		return
	}
	o := &h.pending[i]
	if h.p.Version == MQTT5 && pk.ReasonCode >= 0x80 {
		name := ReasonName(pk.ReasonCode)
		h.events = append(h.events, queued{ev: Event{Type: EventPublishNack, PacketID: o.pid, QoS: o.qos, Sent: o.sent, At: at, Reason: name,
			Err: fmt.Errorf("iot: publish %q refused: %s (0x%02x)", o.topic, name, pk.ReasonCode)}})
		h.pending = slices.Delete(h.pending, i, i+1)
		return
	}
	if typ == packets.Pubrec {
		o.released, o.lastSent = true, h.clock.Now()
		h.ack(packets.Pubrel, o.pid)
		return
	}
	h.events = append(h.events, queued{ev: Event{Type: EventPublishSuccess, PacketID: o.pid, QoS: o.qos, Sent: o.sent, At: at}})
	h.pending = slices.Delete(h.pending, i, i+1)
}

// onSuback matches a SUBACK or UNSUBACK to its request.
func (h *nativeHandle) onSuback(pk *packets.Packet, unsub bool, at time.Time) {
	i := slices.IndexFunc(h.requests, func(r request) bool { return r.id == pk.PacketID && r.unsub == unsub })
	if i < 0 {
		h.unknown++ // late (timed out already) or never asked for
		return
	}
	r := h.requests[i]
	h.requests = slices.Delete(h.requests, i, i+1)
	ev := Event{Type: EventSubscribeSuccess, PacketID: r.id, QoS: r.qos, Filter: r.filter, Sent: r.sent, At: at}
	if unsub {
		ev.Type = EventUnsubscribeSuccess
	}
	for _, code := range pk.ReasonCodes {
		if code >= 0x80 {
			ev.Type = EventSubscribeNack
			if unsub {
				ev.Type = EventUnsubscribeNack
			}
			if h.p.Version == MQTT5 {
				ev.Reason = ReasonName(code)
			}
			ev.Err = fmt.Errorf("iot: %w: %q (code 0x%02x)", ErrSubscribeNack, r.filter, code)
			break
		}
	}
	h.events = append(h.events, queued{ev: ev})
}

// newPID returns a packet id not in use, as the SDK's counter does (1 …
// 65535, wrapping to 1).
func (h *nativeHandle) newPID() uint16 {
	for {
		h.lastPID++
		if h.lastPID == 0 {
			h.lastPID = 1
		}
		id := h.lastPID
		if !slices.ContainsFunc(h.pending, func(o outbound) bool { return o.pid == id }) &&
			!slices.ContainsFunc(h.requests, func(r request) bool { return r.id == id }) {
			return id
		}
	}
}

// usable says whether requests can be sent now.
func (h *nativeHandle) usable() error {
	h.mu.Lock()
	destroyed := h.destroyed
	h.mu.Unlock()
	if destroyed {
		return ErrDestroyed
	}
	if h.conn == nil {
		return ErrOffline
	}
	return nil
}

// Subscribe registers the handler and sends SUBSCRIBE.
func (h *nativeHandle) Subscribe(filter string, qos QoS, handler Handler) (uint16, error) {
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

func (h *nativeHandle) addSub(filter string, qos QoS, handler Handler) {
	h.subs = addSubscription(h.subs, filter, qos, handler)
}

func (h *nativeHandle) sendSubscribe(filter string, qos QoS) (uint16, error) {
	pid := h.newPID()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: byte(h.p.Version), PacketID: pid,
		Filters: packets.Subscriptions{{Filter: filter, Qos: byte(qos)}}}
	if err := h.encode(&pk, pk.SubscribeEncode); err != nil {
		return 0, fmt.Errorf("iot: subscribe %q: %w", filter, err)
	}
	h.requests = append(h.requests, request{id: pid, qos: qos, filter: filter, sent: h.clock.Now()})
	if !h.inYield {
		h.flush()
	}
	return pid, nil
}

// encode appends a packet to the write batch, refusing one larger than
// the maximum packet size (ours, or the broker's under MQTT 5.0).
func (h *nativeHandle) encode(pk *packets.Packet, enc func(*bytes.Buffer) error) error {
	mark := h.w.Len()
	if err := enc(&h.w); err != nil {
		h.w.Truncate(mark)
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	limit := h.p.MaxPacketSize
	if h.server.maxPacket > 0 {
		limit = min(limit, h.server.maxPacket)
	}
	if n := h.w.Len() - mark; n > limit {
		h.w.Truncate(mark)
		return fmt.Errorf("%w: a %d-byte %s, the limit is %d", ErrPacketTooLarge, n, packetName(pk.FixedHeader.Type), limit)
	}
	return nil
}

// SubscribeSync subscribes and yields until the SUBACK
// (IOT_MQTT_Subscribe_Sync).
func (h *nativeHandle) SubscribeSync(filter string, qos QoS, handler Handler, timeout time.Duration) (uint16, error) {
	return subscribeSync(h, filter, qos, handler, timeout)
}

// Unsubscribe removes the handler of exactly filter and sends UNSUBSCRIBE.
func (h *nativeHandle) Unsubscribe(filter string) (uint16, error) {
	if err := ValidateFilter(h.p.Topics, filter); err != nil {
		return 0, err
	}
	if err := h.usable(); err != nil {
		return 0, err
	}
	local := false
	h.subs = slices.DeleteFunc(h.subs, func(s subscription) bool {
		if s.filter == filter {
			local = s.qos == QoS3SubLocal
			return true
		}
		return false
	})
	if local {
		return 0, nil
	}
	pid := h.newPID()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, ProtocolVersion: byte(h.p.Version), PacketID: pid,
		Filters: packets.Subscriptions{{Filter: filter}}}
	if err := h.encode(&pk, pk.UnsubscribeEncode); err != nil {
		return 0, fmt.Errorf("iot: unsubscribe %q: %w", filter, err)
	}
	h.requests = append(h.requests, request{id: pid, unsub: true, filter: filter, sent: h.clock.Now()})
	if !h.inYield {
		h.flush()
	}
	return pid, nil
}

// Publish sends a message; QoS 1/2 publishes wait in the queue for their
// acknowledgement and are resent every ResendFactor × request timeout.
func (h *nativeHandle) Publish(topic string, info *TopicInfo) (uint16, error) {
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
	if info.QoS > QoS0 {
		limit := h.prof.QoS1Queue
		if h.server.receiveMax > 0 {
			limit = min(limit, h.server.receiveMax)
		}
		if len(h.pending) >= limit {
			return 0, fmt.Errorf("iot: publish %q: %w (%d)", topic, ErrQueueFull, limit)
		}
	}
	sent := info.Sent
	if sent.IsZero() {
		sent = h.clock.Now()
	}
	o := outbound{qos: info.QoS, retain: info.Retain, topic: topic, payload: info.Payload, sent: sent, lastSent: h.clock.Now()}
	if info.QoS > QoS0 {
		o.pid = h.newPID()
	}
	if err := h.encodePublish(&o, false, true); err != nil {
		return 0, fmt.Errorf("iot: publish %q: %w", topic, err)
	}
	if info.QoS > QoS0 {
		h.pending = append(h.pending, o)
	}
	if !h.inYield {
		h.flush()
	}
	return o.pid, nil
}

// encodePublish appends the PUBLISH of o to the write batch (with its
// topic alias under MQTT 5.0 when assign allows a new one).
func (h *nativeHandle) encodePublish(o *outbound, dup, assign bool) error {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: byte(o.qos), Retain: o.retain, Dup: dup && o.qos > 0},
		ProtocolVersion: byte(h.p.Version), PacketID: o.pid, TopicName: o.topic, Payload: o.payload,
	}
	if h.p.Version == MQTT5 {
		pk.Properties.User = userProps(h.p.MQTT5.UserProperties)
		if h.p.MQTT5.TopicAliases && h.server.aliasMax > 0 {
			if a, ok := h.aliases[o.topic]; ok {
				pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = a, true
				pk.TopicName = ""
			} else if assign && len(h.aliases) < h.server.aliasMax {
				if h.aliases == nil {
					h.aliases = make(map[string]uint16)
				}
				a := uint16(len(h.aliases) + 1)
				h.aliases[o.topic] = a
				pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = a, true
			}
		}
	}
	return h.encode(&pk, pk.PublishEncode)
}

// resend sends a publish awaiting its ack again: the PUBLISH (as the SDK
// does, without DUP for 3.1.1; with DUP after a reconnect under 5.0), or
// its PUBREL once PUBREC came.
func (h *nativeHandle) resend(o *outbound, now time.Time, dup bool) {
	o.lastSent = now
	if o.released {
		h.ack(packets.Pubrel, o.pid)
		return
	}
	if err := h.encodePublish(o, dup, false); err != nil {
		h.p.Logger.Debug("resend failed", "client_id", h.p.ClientID, "topic", o.topic, "err", err)
	}
}

// packetName names a control packet type for messages.
func packetName(typ byte) string {
	if n, ok := packets.PacketNames[typ]; ok {
		return n
	}
	return fmt.Sprintf("packet type %d", typ)
}
