package scenarios

import (
	"net"
	"strconv"
	"time"
)

// Defaults and limits of the scenario schema.
const (
	DefaultSeed           = 1
	DefaultDrain          = 5 * time.Second
	DefaultKeepAlive      = 60 * time.Second // the SDK default
	MinKeepAlive          = 30 * time.Second // the SDK's accepted range
	MaxKeepAlive          = 1200 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultYield          = 200 * time.Millisecond // IOT_MQTT_Yield(pclient, 200) in the SDK examples
	DefaultRegion         = "cn-shanghai"
	DefaultDeviceName     = "dev-${index}"
	DefaultPayloadSize    = 64
	MinPayloadSize        = 20        // room for the measurement stamp (metrics.StampSize)
	MaxPayloadSize        = 256 << 10 // 256 KiB
	MaxGroupDevices       = 10_000_000
	MaxTopicLength        = 128 // the SDK's limit, enforced for auth: alibaba
	MinPublishInterval    = time.Millisecond
)

// MQTT client implementations, the values of a group's "client:".
const (
	// ClientNative is engine/iot's own MQTT session (the default).
	ClientNative = "native"
	// ClientPaho is github.com/eclipse/paho.mqtt.golang, kept as the
	// reference to cross-check the native session. It speaks MQTT 3.1.1
	// only.
	ClientPaho = "paho"
)

// MQTT protocol versions, the values of Group.MQTTVersion (the protocol
// level sent in CONNECT).
const (
	MQTTv311 = 4 // MQTT 3.1.1, the default and the only version of the 3.x SDKs
	MQTTv5   = 5 // MQTT 5.0
)

// SDK profiles, the values of a group's "sdk:". A profile selects the
// timings and limits of that SDK release (engine/iot defines them).
const (
	SDK320 = "3.2.0" // the default
	SDK301 = "3.0.1"
	SDK4x  = "4.x"
)

// Limits of the MQTT settings of a group.
const (
	MinMaxPacketSize  = 16        // a CONNECT with a one-character client id
	MaxMaxPacketSize  = 268435455 // MQTT's limit: a remaining length of 4 bytes
	MaxSessionExpiry  = 4294967295 * time.Second
	MaxReceiveMaximum = 65535
)

// DefaultConnectRatePerSecond is the connect rate of a group that sets
// none (100/s), the same as emqtt-bench's default 10 ms connect interval.
const DefaultConnectRatePerSecond = 100

// Scenario is a validated scenario file. Build one with Load, Parse or
// Document.Scenario; the zero value is not useful.
type Scenario struct {
	// File is the name of the scenario file, as given to Load or Parse.
	File string
	// Name defaults to the file name without its extension.
	Name        string
	Description string
	// Seed seeds every random choice of the run (default 1).
	Seed int64
	// Duration is how long load is applied: the time from the start until
	// the last publish. It defaults to the total of the stages; when both
	// are given the run lasts Duration, cutting stages short or holding
	// the last stage's target.
	Duration time.Duration
	// Drain is the time after the last publish during which in-flight
	// messages are still collected (default 5s).
	Drain time.Duration
	// Hold keeps the devices connected for the whole Duration even when
	// every device has sent its planned count of messages. By default a
	// run whose publishes all have counts ends (drains) as soon as every
	// device has sent them; publishes without a count run until Duration.
	Hold bool
	// Broker is the target broker; Broker.Embedded() means fleetbench
	// starts its own.
	Broker Broker
	// Groups are the device groups in file order ("devices:" in YAML).
	Groups []*Group
	// Stages ramp the number of connected devices, like k6 stages. Empty
	// means every group connects at its connect rate and then holds.
	Stages []Stage
	// Faults is the fault timeline ("faults:"), in file order: network
	// impairments of some devices, or a broker outage, for a window of
	// the run. The engine applies them through the HAL.
	Faults []Fault
	// Churn lists the periodic disconnects ("churn:"), in file order.
	Churn []Churn
	// Thresholds are kept as written; the reports package parses them.
	Thresholds []Threshold

	total     int
	stampKeys []StampKeys // distinct key sets of the JSON templates
	redact    *Redactor   // the secrets of the scenario
}

// Total returns the number of devices across all groups.
func (s *Scenario) Total() int { return s.total }

// Transport is how devices reach the broker.
type Transport string

// Transports.
const (
	TransportTCP Transport = "tcp"
	TransportTLS Transport = "tls"
	TransportWS  Transport = "ws"  // MQTT over WebSocket
	TransportWSS Transport = "wss" // MQTT over WebSocket over TLS
)

// Secure reports whether the transport runs over TLS (and takes the
// broker.tls settings).
func (t Transport) Secure() bool { return t == TransportTLS || t == TransportWSS }

// Broker is the "broker:" section. broker.url is one URL or a list of
// them (a cluster's nodes): Endpoints holds them all, and URL, Transport,
// Host and Port describe the first.
type Broker struct {
	// URL is the first broker URL as written (with ${env:...} resolved);
	// empty means the embedded broker.
	URL string
	// Transport is TCP for mqtt:// and tcp://, TLS for mqtts://, ssl://
	// and tls://, WS for ws://, WSS for wss://. Empty for the embedded
	// broker.
	Transport Transport
	// Host and Port come from the URL; the port defaults to 1883 for TCP,
	// 8883 for TLS, 80 for WS and 443 for WSS.
	Host string
	Port int
	// Path is the HTTP path of a ws:// or wss:// URL as written (escaped);
	// empty means the transport's default, /mqtt (hal.DefaultWSPath).
	Path string
	// TLS is set for the TLS transport (a zero TLS means the system roots
	// and full verification); nil otherwise.
	TLS *TLS
	// SourceAddresses are the local IP addresses device connections are
	// spread over (round robin), each giving its own ephemeral port range:
	// the way past ~28k connections per source address. Written as single
	// addresses or IPv4 ranges ("127.0.0.1-127.0.0.8"); empty = the
	// kernel's choice. The pool applies per endpoint: each broker
	// endpoint has its own ephemeral port space on every address.
	SourceAddresses []string
	// Endpoints are the broker URLs of broker.url in file order (empty for
	// the embedded broker); devices are spread over them (see EndpointOf).
	Endpoints []Endpoint
	// Failover is what a device does when its endpoint is lost (default
	// FailoverNone: it reconnects to its own).
	Failover Failover

	slots []int // endpoint of each weighted slot (nil: round robin)
	// Platform is the IoT platform the broker is (broker.platform):
	// PlatformAlibaba, or "" for a generic MQTT broker. See platform.go.
	Platform string
	// Alibaba is the "broker.alibaba:" section (nil without one). With
	// Platform alibaba and no URL, it gives the endpoint: URL, Host, Port
	// and TLS are then computed from it (PlatformEndpoint reports so).
	Alibaba *AlibabaEndpoint

	derived bool // URL computed from Alibaba
}

// Embedded reports whether the scenario runs against fleetbench's embedded
// broker. The embedded broker's credentials are derived from the device
// plans (auth: alibaba devices are checked with dev_sign).
func (b Broker) Embedded() bool { return b.URL == "" }

// Addr returns "host:port", or "" for the embedded broker.
func (b Broker) Addr() string {
	if b.Embedded() {
		return ""
	}
	return net.JoinHostPort(b.Host, strconv.Itoa(b.Port))
}

// TLS is the "broker.tls:" section. File paths are resolved against the
// directory of the scenario file.
type TLS struct {
	CA                 string // PEM file of the CA bundle; empty means the system roots
	Cert               string // PEM client certificate (needs Key)
	Key                string // PEM private key of Cert
	ServerName         string // SNI and verification name; empty means the URL host
	InsecureSkipVerify bool
}

// Auth is how a device authenticates.
type Auth string

// Authentication modes.
const (
	// AuthNone sends no username or password.
	AuthNone Auth = "none"
	// AuthPassword sends the group's username and password templates.
	AuthPassword Auth = "password"
	// AuthAlibaba signs the credentials like the SDK's IOT_Sign_MQTT
	// (dev_sign) from product key, device name and device secret.
	AuthAlibaba Auth = "alibaba"
)

// QoS is an MQTT quality of service level: 0, 1 or 2.
type QoS uint8

// Group is one entry of "devices:": Count devices that share one
// configuration. The template fields (ProductKey … Password, topics) hold
// the text as written, with ${env:...} unresolved, so that reports can
// print them without leaking values read from the environment; the
// resolved values are in the DevicePlans.
type Group struct {
	// Name is unique in the scenario and matches [a-z0-9_-]+.
	Name string
	// Index is the position of the group in Scenario.Groups.
	Index int
	// First is the global index of the group's device 0; the group holds
	// global indices First … First+Count-1.
	First int
	// Count is the number of devices (1 … 10,000,000).
	Count int
	// Auth is the authentication mode. When not written it is alibaba if
	// device_secret or credentials_file is given, password if username or
	// password is, and none otherwise.
	Auth Auth
	// Region is the Alibaba Cloud region for auth: alibaba (default cn-shanghai).
	Region string
	// The templates as written; all empty with a credentials file.
	ProductKey   string
	DeviceName   string // default "dev-${index}" without a credentials file
	DeviceSecret string
	ClientID     string // the effective template, defaults included; "" when the signer builds it
	Username     string
	Password     string
	// CredentialsFile is the resolved path of the CSV file that supplies
	// product key, device name and secret per device, or "".
	CredentialsFile string
	KeepAlive       time.Duration // default 60s, 30s … 1200s
	CleanSession    bool          // default false, as the SDK
	Connect         Connect
	Subscribe       []SubscribeSpec
	Publish         []PublishSpec
	// Yield is the period of the device's IOT_MQTT_Yield loop (default 200ms).
	Yield time.Duration
	// Client is the MQTT client implementation: ClientNative (default) or
	// ClientPaho.
	Client string
	// MQTTVersion is MQTTv311 (4, the default) or MQTTv5 (5).
	MQTTVersion int
	// SDK is the SDK profile: SDK320 (default), SDK301 or SDK4x.
	SDK string
	// RequestTimeout overrides the profile's request timeout (the SDK's
	// request_timeout_ms); 0 means the profile's default. Within the
	// profile's range: 1s … 10s for 3.2.0 and 4.x, 500ms … 5s for 3.0.1.
	RequestTimeout time.Duration
	// CustomizeInfo is the SDK's customize_info (extend client id in
	// 4.x), "k=v" text appended to the signed client id of auth: alibaba;
	// "" for none.
	CustomizeInfo string
	// MaxPacketSize bounds the MQTT packets the device sends and accepts,
	// in bytes (16 … 268,435,455); 0 means the profile's buffer (3,072
	// bytes for the 3.x SDKs).
	MaxPacketSize int
	// MQTT5 holds the MQTT 5.0 settings; nil unless MQTTVersion is MQTTv5.
	MQTT5 *MQTT5
	// RRPC is the group's cloud-to-device calls ("rrpc:"); nil without.
	RRPC *RRPC
	// Pos is where the group is defined.
	Pos Position

	pk, dn, ds, cid, user, pass tmpl
	creds                       *credentials
	path                        string // "devices[i]" in the file
	hasPK                       bool   // product_key or a credentials file is given
	idOK                        bool   // the identity templates compiled
}

// MQTT5 is a group's "mqtt5:" section: the MQTT 5.0 settings of its
// devices. A group with mqtt_version: 5 always has one (the zero value
// when the section is absent).
type MQTT5 struct {
	// SessionExpiry is the Session Expiry Interval sent in CONNECT (0 …
	// 4294967295 s, whole seconds; 0 ends the session with the connection).
	SessionExpiry time.Duration
	// ReceiveMaximum is the Receive Maximum sent in CONNECT: how many QoS 1
	// and 2 publications the device accepts unacknowledged (1 … 65535); 0
	// sends none, which means the protocol default, 65535.
	ReceiveMaximum int
	// TopicAliases makes the device use topic aliases on PUBLISH when the
	// broker allows them (Topic Alias Maximum in CONNACK).
	TopicAliases bool
	// UserProperties are sent on CONNECT and on every PUBLISH, in file
	// order. Values may use ${env:NAME}.
	UserProperties []UserProperty
}

// UserProperty is one MQTT 5.0 user property, a name-value pair.
type UserProperty struct{ Key, Value string }

// Connect is a group's "connect:" section.
type Connect struct {
	// Rate is the highest rate at which the group's devices connect
	// (default 100/s). Without stages it sets the ramp; with stages the
	// coordinator uses it as a cap.
	Rate Rate
	// Timeout bounds one connect attempt (default 10s).
	Timeout time.Duration
}

// SubscribeSpec is one entry of a group's "subscribe:" list.
type SubscribeSpec struct {
	// Topic is the filter template as written. It may name a shared
	// subscription, "$share/<group>/<filter>" (see SplitShared).
	Topic string
	QoS   QoS
	// Reply makes the group a responder: every message received on this
	// subscription is answered with a message to the reply topic. nil
	// when the entry has no "reply:".
	Reply *ReplySpec
	Pos   Position
	t     tmpl
	// levels is the number of levels of the (inner) filter and multi
	// whether it ends with '#'; valid when the filter compiled.
	levels   int
	multi    bool
	filterOK bool
}

// ReplySpec is a subscription's "reply:" section.
type ReplySpec struct {
	// Topic is the reply topic template as written; besides the
	// responder's own placeholders it may use ${topic[N]}, level N of the
	// received topic. N must be a level of the filter (fewer than its
	// levels), except after a filter ending in '#', whose topics may have
	// any depth: there a missing level is found when replying.
	Topic string
	QoS   QoS
	Pos   Position
	t     tmpl
	// shared is the Reply of every device when the topic does not depend
	// on the device (nil otherwise: plans then allocate their replies).
	shared *Reply
}

// PublishSpec is one entry of a group's "publish:" list.
type PublishSpec struct {
	Topic string // the topic template as written
	QoS   QoS
	// Interval between two messages of one device; set from "interval:"
	// or from "rate:" (Rate.Interval).
	Interval time.Duration
	// Rate is the per-device rate when written as "rate:"; zero otherwise.
	Rate   Rate
	Retain bool
	// Count is the number of messages per device; 0 means until the end.
	Count int
	// Start delays the first message after the device is connected and subscribed.
	Start   time.Duration
	Payload PayloadSpec
	// Targets is the group named by "targets:": each message goes to the
	// next device of that group, round robin, and the topic may use
	// ${target.index}, ${target.productKey}, ${target.deviceName} and
	// ${target.clientId}. nil without "targets:".
	Targets *Group
	// Thing is set for a thing-model post ("thing:"); the topic is then
	// the thing topic and the payload an Alink request (see ThingSpec).
	Thing   *ThingSpec
	Pos     Position
	t       tmpl
	topicOK bool // the topic of a targeted entry compiled
}

// PayloadSpec is a publication's "payload:" section: either a size (a
// binary payload carrying the measurement stamp, padded to Size bytes;
// 16 … 256 KiB) or a JSON template. Without "payload:" it is {size: 64}.
type PayloadSpec struct {
	Size     int    // bytes; 0 when Template is set
	Template string // as written; "" when Size is set
	t        *bodyTmpl
}

// bodyTmpl is a payload template with the members that carry its stamp.
type bodyTmpl struct {
	tmpl
	keys   StampKeys
	keysOK bool
}

// Stage is one entry of "stages:": ramp linearly from the previous target
// (0 for the first stage) to Target connected devices over Duration.
type Stage struct {
	Duration time.Duration
	Target   int
	Pos      Position
}

// Threshold is one entry of "thresholds:", kept as written.
type Threshold struct {
	Expr string
	Pos  Position
	// Set is the --set override that wrote it, if any, and Flag the flag
	// that override stands for (see Error.Set and Error.Flag), so an error
	// in it names what the user typed.
	Set, Flag string
}

// From names the flag or override that supplied the threshold, as
// " (from --set …)", or "" for one written in the file: what an error
// message appends, as Error does.
func (t Threshold) From() string {
	switch {
	case t.Flag != "":
		return " (from " + t.Flag + ")"
	case t.Set != "":
		return " (from --set " + t.Set + ")"
	}
	return ""
}
