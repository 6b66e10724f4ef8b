package iot

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// QoS is an MQTT quality of service (iotx_mqtt_qos_t).
type QoS byte

// QoS levels. QoS3SubLocal is valid only for Subscribe: the handler is
// registered locally and no SUBSCRIBE is sent (the cloud subscribes the
// device on its behalf, see _ss=1 in dev_sign).
const (
	QoS0         QoS = 0
	QoS1         QoS = 1
	QoS2         QoS = 2
	QoS3SubLocal QoS = 3
)

// EventType mirrors iotx_mqtt_event_type_t, with the SDK's numbering.
type EventType int

// Event types. The names keep the SDK's meaning; the misspelt "SUBCRIBE" of
// the C names is not kept.
const (
	EventUndef              EventType = 0
	EventDisconnect         EventType = 1
	EventReconnect          EventType = 2
	EventSubscribeSuccess   EventType = 3
	EventSubscribeTimeout   EventType = 4
	EventSubscribeNack      EventType = 5
	EventUnsubscribeSuccess EventType = 6
	EventUnsubscribeTimeout EventType = 7
	EventUnsubscribeNack    EventType = 8
	EventPublishSuccess     EventType = 9
	EventPublishTimeout     EventType = 10
	EventPublishNack        EventType = 11
	EventPublishReceived    EventType = 12
	EventBufferOverflow     EventType = 13
)

var eventNames = [...]string{
	"undef", "disconnect", "reconnect", "subscribe_success", "subscribe_timeout",
	"subscribe_nack", "unsubscribe_success", "unsubscribe_timeout", "unsubscribe_nack",
	"publish_success", "publish_timeout", "publish_nack", "publish_received", "buffer_overflow",
}

// String returns a snake_case name such as "publish_success".
func (t EventType) String() string {
	if t >= 0 && int(t) < len(eventNames) {
		return eventNames[t]
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// TopicInfo mirrors iotx_mqtt_topic_info_t: a message to publish, or one
// received.
type TopicInfo struct {
	PacketID uint16
	QoS      QoS
	Dup      bool
	Retain   bool
	Topic    string
	Payload  []byte
	// Sent is, for an outgoing message, the time its acknowledgement latency
	// counts from; zero means the moment Publish is called. Set it to the
	// intended send time to avoid coordinated omission.
	Sent time.Time
	// Arrived is, for a received message, the moment the transport read
	// that completed the PUBLISH packet returned.
	Arrived time.Time
}

// Event is what handlers receive (iotx_mqtt_event_msg_t).
type Event struct {
	Type EventType
	// PacketID of the acknowledged PUBLISH (PublishSuccess). For
	// Subscribe/Unsubscribe events it is the request id the call returned.
	PacketID uint16
	// QoS of the acknowledged publish (PublishSuccess) or the requested
	// QoS of a subscription (SubscribeSuccess/SubscribeNack).
	QoS QoS
	// Message is the received message (PublishReceived). It is valid only
	// during the handler call: copy what you keep.
	Message *TopicInfo
	// Filter is the topic filter of a Subscribe/Unsubscribe event.
	Filter string
	// Sent is when the acknowledged request counted from, At when its
	// acknowledgement arrived (transport read) or the state changed, so
	// At−Sent is the request's latency.
	Sent, At time.Time
	// Err gives the reason of a Disconnect, a failed reconnect, a nack or
	// a timeout.
	Err error
	// Reason names the MQTT 5.0 reason code of a nack (PUBACK, SUBACK) or
	// of the broker's DISCONNECT ("quota_exceeded", …); "" otherwise.
	Reason string
}

// Latency returns At − Sent, or 0 when either is unset.
func (e *Event) Latency() time.Duration {
	if e.Sent.IsZero() || e.At.IsZero() {
		return 0
	}
	return e.At.Sub(e.Sent)
}

// Handler is an MQTT event callback (iotx_mqtt_event_handle_func_fpt); the
// SDK's pcontext is whatever the closure captures. Handlers run inside
// Yield, on the goroutine that calls it.
type Handler func(h *Handle, ev *Event)

// SDK defaults of the default profile (3.2.0; see Profile).
const (
	DefaultKeepAlive      = 60 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultReconnectMin   = 1 * time.Second
	DefaultReconnectMax   = 30 * time.Second
)

// The MQTT client implementations a Handle can run on.
const (
	// ClientNative is engine/iot's own session (the default).
	ClientNative = "native"
	// ClientPaho is paho.mqtt.golang, kept as the reference client.
	ClientPaho = "paho"
)

// The MQTT protocol versions, as the CONNECT protocol level.
const (
	MQTT311 = 4
	MQTT5   = 5
)

// MQTT5Options are the MQTT 5.0 settings of a session.
type MQTT5Options struct {
	// SessionExpiry is sent in CONNECT (0: the session ends with the
	// connection).
	SessionExpiry time.Duration
	// ReceiveMaximum is sent in CONNECT: how many QoS 1/2 deliveries the
	// device accepts at once (0: the protocol's 65,535).
	ReceiveMaximum int
	// TopicAliases uses topic aliases on publish, up to the broker's
	// Topic Alias Maximum.
	TopicAliases bool
	// UserProperties are sent on CONNECT and on every PUBLISH.
	UserProperties []UserProperty
}

// UserProperty is one MQTT 5.0 user property.
type UserProperty struct{ Key, Value string }

// Params mirrors iotx_mqtt_param_t plus the HAL the handle runs on. Zero
// values get the SDK's defaults; out-of-range values fall back to the
// default, as in IOT_MQTT_Construct.
type Params struct {
	// Client selects the implementation: ClientNative (default) or
	// ClientPaho.
	Client string
	// Version is MQTT311 (default) or MQTT5 (native client only).
	Version int
	// MQTT5 holds the MQTT 5.0 settings (Version MQTT5 only).
	MQTT5 MQTT5Options
	// SDK is the SDK profile ("3.2.0" default, "3.0.1", "4.x"): its
	// keepalive and ping policy, request timeout and range, QoS 1 resends
	// and queue, Construct's retries, buffers and backoff.
	SDK string
	// Profile, when set, replaces the SDK profile's values (scaled-down
	// timings for tests and experiments).
	Profile *Profile
	// MaxPacketSize bounds every packet sent and received, checked from
	// the fixed header before anything is allocated; 0 means the
	// profile's buffer. Larger incoming packets close the connection
	// (ErrPacketTooLarge), larger outgoing ones fail.
	MaxPacketSize int
	// Endpoint is where to connect (host, port, transport, TLS).
	Endpoint hal.Endpoint
	// Dialer establishes the transport; nil means a hal.NetDialer.
	Dialer hal.Dialer
	// Clock stamps arrivals and acknowledgements; nil means the system clock.
	Clock hal.Clock

	ClientID, Username, Password string
	// CleanSession defaults to false, as in the SDK.
	CleanSession bool
	// KeepAlive is the ping interval, default and range from the profile
	// (3.x: 60 s, [30 s, 1200 s]).
	KeepAlive time.Duration
	// RequestTimeout bounds the CONNACK wait, SUBACK wait and write
	// blocking; default and range from the profile (3.2.0: 5 s in
	// [1 s, 10 s]; 3.0.1: 2 s in [500 ms, 5 s]).
	RequestTimeout time.Duration
	// ConnectTimeout bounds one connect attempt (transport + CONNACK);
	// default: RequestTimeout + the dialer's own timeout.
	ConnectTimeout time.Duration
	// ReconnectMin/ReconnectMax: the reconnect backoff (profile
	// defaults: 3.2.0 1 s doubling to 30 s; 4.x 2 s × (n+1) ± 0.5 s).
	ReconnectMin, ReconnectMax time.Duration
	// NoReconnect disables automatic reconnection.
	NoReconnect bool
	// ReadBufSize, when > 0, is the largest incoming packet accepted; larger
	// ones are discarded with EventBufferOverflow (the SDK's read buffer).
	// 0 means no limit.
	ReadBufSize int
	// Topics selects topic validation (default SDKTopics).
	Topics TopicRules
	// EventHandler receives events and the messages no subscription handler
	// matched (handle_event).
	EventHandler Handler
	// OnReady, when set, is called (from a network goroutine) when new
	// events are ready, so the owner can call Yield(0) instead of polling.
	// It is called once per transition from "nothing pending" to
	// "something pending" and must not block.
	OnReady func()
	// Logger receives connection-level logs; nil discards them.
	Logger *slog.Logger
	// CountBytes, when set, is told of every transport read (in) and write
	// (out) as it happens, from the network goroutines: the node's live
	// traffic counters. It must be cheap and safe for concurrent use.
	CountBytes func(in, out int64)
}

// Errors returned by the handle. They can be tested with errors.Is.
var (
	// ErrOffline: the handle is not connected (IOTX_ERR_MQTT_IN_OFFLINE_STATUS).
	ErrOffline = errors.New("iot: offline")
	// ErrDestroyed: the handle was destroyed.
	ErrDestroyed = errors.New("iot: handle destroyed")
	// ErrNotAuthorized: the broker refused the credentials (CONNACK 4 or 5).
	ErrNotAuthorized = errors.New("iot: broker refused the credentials (bad username or password / not authorized): check product key, device name and device secret")
	// ErrConnectRefused: the broker refused the connection for another reason.
	ErrConnectRefused = errors.New("iot: broker refused the connection")
	// ErrConnectTimeout: no CONNACK within the connect timeout.
	ErrConnectTimeout = errors.New("iot: connect timed out")
	// ErrSubscribeTimeout: SubscribeSync saw no SUBACK in time (SYNC_SUB_TIMEOUT).
	ErrSubscribeTimeout = errors.New("iot: subscribe timed out")
	// ErrSubscribeNack: the broker refused a subscription (SUBACK 0x80).
	ErrSubscribeNack = errors.New("iot: subscription refused by the broker")
	// ErrPacketTooLarge: a packet is larger than the maximum packet size
	// (the SDK's buffer by default): an incoming one closes the
	// connection, an outgoing one is not sent.
	ErrPacketTooLarge = errors.New("iot: packet too large")
	// ErrQueueFull: too many QoS 1/2 publishes await their ack (the
	// profile's QoS 1 queue, or the broker's MQTT 5.0 Receive Maximum).
	ErrQueueFull = errors.New("iot: too many publishes awaiting acknowledgement")
	// ErrNotMQTT: the server's first bytes were not a CONNACK: it does not
	// speak MQTT (an HTTP server, a TLS port spoken to in plain TCP, …).
	ErrNotMQTT = errors.New("iot: not an MQTT server")
	// ErrProtocol: the broker broke the protocol (a CONNACK return code
	// MQTT 3.1.1 does not define, …); the connection was closed.
	ErrProtocol = errors.New("iot: MQTT protocol error")
	// ErrInvalidArgument: a bad argument (IOTX_ERR_MQTT_USER_INPUT_INVALID).
	ErrInvalidArgument = errors.New("iot: invalid argument")
)

// profile returns the params' SDK profile (3.2.0 for an unknown name,
// which Construct refuses before using it).
func (p *Params) profile() Profile {
	if p.Profile != nil {
		return *p.Profile
	}
	prof, err := LookupProfile(p.SDK)
	if err != nil {
		return profile320
	}
	return prof
}

func (p *Params) applyDefaults() {
	prof := p.profile()
	if p.Client == "" {
		p.Client = ClientNative
	}
	if p.Version == 0 {
		p.Version = MQTT311
	}
	if p.KeepAlive < prof.KeepAliveMin || p.KeepAlive > prof.KeepAliveMax {
		p.KeepAlive = prof.KeepAlive
	}
	if p.RequestTimeout < prof.RequestTimeoutMin || p.RequestTimeout > prof.RequestTimeoutMax {
		p.RequestTimeout = prof.RequestTimeout
	}
	if p.MaxPacketSize <= 0 {
		p.MaxPacketSize = prof.Buffer
	}
	p.MaxPacketSize = min(p.MaxPacketSize, maxRemaining+5)
	if p.ConnectTimeout <= 0 {
		p.ConnectTimeout = p.RequestTimeout + 10*time.Second
	}
	if p.ReconnectMin <= 0 {
		p.ReconnectMin = prof.ReconnectMin
	}
	if p.ReconnectMax < p.ReconnectMin {
		p.ReconnectMax = prof.ReconnectMax
		if p.ReconnectMax < p.ReconnectMin {
			p.ReconnectMax = p.ReconnectMin
		}
	}
	if p.Dialer == nil {
		p.Dialer = &hal.NetDialer{}
	}
	if p.Clock == nil {
		p.Clock = hal.NewSystemClock()
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
}
