package iot

import (
	"context"
	"fmt"
	"time"
)

// Handle is one device's MQTT connection (the SDK's client handle, without
// the singleton). Construct it, call Yield from the goroutine that owns it,
// and Destroy it at the end. Subscribe, Unsubscribe, Publish and Yield are
// meant to be called from that one owner goroutine; handlers and events
// run inside Yield, on that goroutine.
//
// The session behind it is engine/iot's own (Params.Client ClientNative,
// the default: one reader goroutine per connection, everything else on
// the owner's goroutine) or paho.mqtt.golang (ClientPaho, the reference
// client the native session is checked against).
type Handle struct {
	s session
}

// session is what a Handle runs on.
type session interface {
	Destroy() error
	CheckStateNormal() bool
	Stats() Stats
	Yield(timeout time.Duration) error
	Subscribe(filter string, qos QoS, handler Handler) (uint16, error)
	SubscribeSync(filter string, qos QoS, handler Handler, timeout time.Duration) (uint16, error)
	Unsubscribe(filter string) (uint16, error)
	Publish(topic string, info *TopicInfo) (uint16, error)
	NextDeadline() (time.Time, bool)
}

// Construct connects a device (IOT_MQTT_Construct) and returns its handle.
// ctx bounds the initial connect, retries included; the handle outlives it.
func Construct(ctx context.Context, p Params) (*Handle, error) {
	p.applyDefaults()
	if p.ClientID == "" && !p.CleanSession {
		return nil, fmt.Errorf("%w: an empty client id needs clean_session", ErrInvalidArgument)
	}
	h := &Handle{}
	switch p.Client {
	case ClientPaho:
		if p.Version == MQTT5 {
			return nil, fmt.Errorf("%w: the paho client speaks MQTT 3.1.1 only", ErrInvalidArgument)
		}
		s, err := constructPaho(ctx, h, p)
		if err != nil {
			return nil, err
		}
		h.s = s
	case ClientNative:
		s, err := constructNative(ctx, h, p)
		if err != nil {
			return nil, err
		}
		h.s = s
	default:
		return nil, fmt.Errorf("%w: client %q (want %q or %q)", ErrInvalidArgument, p.Client, ClientNative, ClientPaho)
	}
	return h, nil
}

// Destroy disconnects (sending DISCONNECT when connected) and releases the
// handle (IOT_MQTT_Destroy). Events still queued are discarded.
func (h *Handle) Destroy() error { return h.s.Destroy() }

// CheckStateNormal reports whether the handle is connected
// (IOT_MQTT_CheckStateNormal).
func (h *Handle) CheckStateNormal() bool { return h.s.CheckStateNormal() }

// Stats returns the handle's counters.
func (h *Handle) Stats() Stats { return h.s.Stats() }

// Yield delivers pending events and messages to their handlers, waiting up
// to timeout for more (IOT_MQTT_Yield). Yield(0) delivers what is pending
// and returns at once. A Yield called from inside a handler returns nil
// without delivering. On the native session Yield also runs what is due:
// acknowledgements, keepalive pings, QoS 1 resends, request timeouts and
// reconnect attempts, written out in one batch.
func (h *Handle) Yield(timeout time.Duration) error { return h.s.Yield(timeout) }

// Subscribe registers handler for filter and sends SUBSCRIBE without
// waiting for the SUBACK (IOT_MQTT_Subscribe). It returns a request id that
// the SubscribeSuccess/SubscribeNack/SubscribeTimeout event carries as
// PacketID. Subscribing a filter again replaces its handler and QoS.
func (h *Handle) Subscribe(filter string, qos QoS, handler Handler) (uint16, error) {
	return h.s.Subscribe(filter, qos, handler)
}

// SubscribeSync subscribes and waits up to timeout (capped at 10 s) for the
// SUBACK, yielding meanwhile; a refusal is retried until the timeout, as in
// IOT_MQTT_Subscribe_Sync. Called from inside a handler, or with
// QoS3SubLocal, it does not wait.
func (h *Handle) SubscribeSync(filter string, qos QoS, handler Handler, timeout time.Duration) (uint16, error) {
	return h.s.SubscribeSync(filter, qos, handler, timeout)
}

// Unsubscribe removes the handler of exactly filter and sends UNSUBSCRIBE
// (IOT_MQTT_Unsubscribe). It returns a request id carried by the
// UnsubscribeSuccess event.
func (h *Handle) Unsubscribe(filter string) (uint16, error) { return h.s.Unsubscribe(filter) }

// Publish sends a message (IOT_MQTT_Publish) with info's QoS, Retain and
// Payload. It returns the packet id for QoS 1 and 2 (0 for QoS 0); its
// PublishSuccess event comes when the PUBACK (QoS 1) or PUBCOMP (QoS 2)
// arrives, with Sent = info.Sent (or the call time) and At = the arrival.
// The payload must not be modified afterwards: it is kept until
// acknowledged, for resending.
func (h *Handle) Publish(topic string, info *TopicInfo) (uint16, error) {
	return h.s.Publish(topic, info)
}

// PublishSimple publishes payload with retain off (IOT_MQTT_Publish_Simple).
func (h *Handle) PublishSimple(topic string, qos QoS, payload []byte) (uint16, error) {
	return h.s.Publish(topic, &TopicInfo{QoS: qos, Payload: payload})
}

// NextDeadline returns when the handle next needs its owner to Yield even
// if nothing arrives (ok false when never): an outstanding request's
// timeout and, on the native session, the next keepalive ping, QoS 1
// resend or reconnect attempt. The owner arms one timer for it; there is
// no timer or ticker per connection inside the handle.
func (h *Handle) NextDeadline() (time.Time, bool) { return h.s.NextDeadline() }

// Stats are a handle's transport counters.
type Stats struct {
	BytesIn, BytesOut int64
	// Inflight is the number of QoS 1/2 publishes awaiting PUBACK/PUBCOMP.
	Inflight int
	// Unacked counts publishes whose acknowledgement can no longer come
	// (dropped with the session on a clean-session reconnect).
	Unacked int64
	// ArrivalMisses counts messages whose transport arrival stamp was not
	// found (they are stamped when paho delivers them instead).
	ArrivalMisses int64
	// UnknownAcks counts PUBACK/PUBCOMPs for packet ids that were never
	// published (or no longer awaited): a protocol error of the broker.
	// Acks that may still be claimed by a publish in progress are
	// included, so read it when the handle no longer publishes.
	UnknownAcks int64
}
