package metrics

import (
	"encoding/json"
	"fmt"
)

// Counter is a node-wide event counter. To add one, append a constant before
// NumCounters, describe it in counterTable (name, help, direction,
// Prometheus sample) and give it a field in Totals with the same JSON name:
// result.json, group lines, Prometheus, report rows and the wire form all
// derive from the table, and TestEveryCounterInEveryOutput fails until both
// exist.
type Counter uint8

// The node-wide counters.
const (
	// DevicesStarted counts device actors that began their life cycle.
	DevicesStarted Counter = iota
	// Connected is a gauge: devices currently connected. Add +1 on connect
	// and -1 on disconnect.
	Connected
	// ConnectOK counts successful connects, including reconnects.
	ConnectOK
	// SubscribeOK counts acknowledged subscriptions.
	SubscribeOK
	// SubscribeFailed counts refused or timed-out subscriptions.
	SubscribeFailed
	// Foreign counts received messages without a fleetbench stamp.
	Foreign
	// Lagged counts publishes sent later than their intended time.
	Lagged
	// Disconnects counts unexpected connection losses.
	Disconnects
	// Reconnects counts successful reconnects after a loss.
	Reconnects
	// BytesOut counts bytes written to the network.
	BytesOut
	// BytesIn counts bytes read from the network.
	BytesIn
	// PublishErrors counts publishes that failed locally or timed out.
	PublishErrors
	// LatencySaturated counts latencies above one hour, recorded as one hour.
	LatencySaturated
	// LatencyNegative counts negative latencies (clock skew), recorded as 0.
	LatencyNegative
	// LatencyDropped counts latencies not recorded because the kind or QoS
	// was invalid.
	LatencyDropped
	// CrossNode counts stamped messages received from a publisher that
	// runs on another node of a distributed run (their latency is corrected
	// by the measured clock offsets; see Result.ClockBoundUs).
	CrossNode
	// SubscribeTimeout counts subscriptions (part of SubscribeFailed) whose
	// SUBACK did not come within the request timeout.
	SubscribeTimeout
	// ProtocolErrors counts packets from the broker that break the protocol
	// on an established connection (an ack for an unknown packet id, …).
	ProtocolErrors
	// ThingPosts counts thing-model posts sent (Alink thing.event.*.post);
	// each one is also in Published.
	ThingPosts
	// ThingReplyMissing counts thing-model posts whose …/post_reply never
	// arrived (counted when the device stops or reconnects).
	ThingReplyMissing
	// RRPCCalls counts RRPC requests the cloud side sent to devices.
	RRPCCalls
	// RRPCTimeouts counts RRPC calls not answered within their timeout:
	// answered too late or never.
	RRPCTimeouts
	// RRPCFailed counts RRPC calls that failed otherwise (device offline,
	// request not delivered).
	RRPCFailed
	// NumCounters is the number of node-wide counters.
	NumCounters
)

// Better says which way a counter is better, for reports' comparisons and
// the marking of problem counters.
type Better int8

// The directions.
const (
	// Neutral counters are neither good nor bad (devices, bytes).
	Neutral Better = 0
	// LowerBetter counters count problems (lost, disconnects).
	LowerBetter Better = -1
	// HigherBetter counters count achievements (connected peak).
	HigherBetter Better = 1
)

// counterDef is everything fleetbench says about one node-wide counter.
type counterDef struct {
	// name is the snake_case name: Counts JSON, the Totals (and group)
	// JSON field and the Prometheus label value.
	name string
	// total is the Totals JSON field when it differs from name.
	total string
	// help says what the counter counts (report rows).
	help   string
	better Better
	// prom is the Prometheus family of the counter and label its label
	// value ("" for name; families without a label ignore it).
	prom  promFamily
	label string
}

// totalName is the counter's JSON name in Totals and group lines.
func (d *counterDef) totalName() string {
	if d.total != "" {
		return d.total
	}
	return d.name
}

// counterTable describes every node-wide counter; every output walks it.
var counterTable = [NumCounters]counterDef{
	DevicesStarted:    {name: "devices_started", total: "devices", help: "devices started", prom: promStarted},
	Connected:         {name: "connected", help: "devices connected at the end of the run (normally 0: devices disconnect when the run ends)", prom: promConnected},
	ConnectOK:         {name: "connect_ok", help: "connects the broker accepted (CONNACK 0), reconnects included", prom: promConnects, label: "ok"},
	SubscribeOK:       {name: "subscribe_ok", help: "acknowledged subscriptions", prom: promEvents},
	SubscribeFailed:   {name: "subscribe_failed", help: "refused or timed-out subscriptions", better: LowerBetter, prom: promEvents},
	Foreign:           {name: "foreign", help: "unstamped messages on subscribed topics: not counted as received or lost", better: LowerBetter, prom: promEvents},
	Lagged:            {name: "lagged", help: "publishes sent later than their intended time", better: LowerBetter, prom: promEvents},
	Disconnects:       {name: "disconnects", help: "unexpected connection losses", better: LowerBetter, prom: promEvents},
	Reconnects:        {name: "reconnects", help: "reconnects the broker accepted after a connection loss", prom: promEvents},
	BytesOut:          {name: "bytes_out", help: "bytes written to the network", prom: promBytes, label: "out"},
	BytesIn:           {name: "bytes_in", help: "bytes read from the network", prom: promBytes, label: "in"},
	PublishErrors:     {name: "publish_errors", help: "publishes that failed locally or timed out", better: LowerBetter, prom: promEvents},
	LatencySaturated:  {name: "latency_saturated", help: "latencies above one hour, recorded as one hour", better: LowerBetter, prom: promEvents},
	LatencyNegative:   {name: "latency_negative", help: "negative latencies (clock skew), recorded as 0", better: LowerBetter, prom: promEvents},
	LatencyDropped:    {name: "latency_dropped", help: "latencies not recorded (invalid kind or QoS)", better: LowerBetter, prom: promEvents},
	CrossNode:         {name: "cross_node_received", help: "deliveries whose publisher ran on another node (distributed runs)", prom: promEvents},
	SubscribeTimeout:  {name: "subscribe_timeout", help: "subscriptions never acknowledged within the request timeout (part of subscribe_failed)", better: LowerBetter, prom: promEvents},
	ProtocolErrors:    {name: "protocol_errors", help: "broker packets that broke the protocol on an established connection", better: LowerBetter, prom: promEvents},
	ThingPosts:        {name: "thing_posts", help: "thing-model posts sent (Alink thing.event.*.post; also in published)", prom: promEvents},
	ThingReplyMissing: {name: "thing_reply_missing", help: "thing-model posts whose post_reply never arrived", better: LowerBetter, prom: promEvents},
	RRPCCalls:         {name: "rrpc_calls", help: "RRPC requests sent by the cloud side", prom: promEvents},
	RRPCTimeouts:      {name: "rrpc_timeouts", help: "RRPC calls not answered within their timeout (late or never)", better: LowerBetter, prom: promEvents},
	RRPCFailed:        {name: "rrpc_failed", help: "RRPC calls that failed otherwise (device offline, not delivered)", better: LowerBetter, prom: promEvents},
}

// String returns the counter's snake_case name.
func (c Counter) String() string {
	if c < NumCounters {
		return counterTable[c].name
	}
	return fmt.Sprintf("Counter(%d)", uint8(c))
}

// QoSCounter is a counter kept separately for each QoS level.
type QoSCounter uint8

// The per-QoS counters.
const (
	// Published counts PUBLISH packets sent.
	Published QoSCounter = iota
	// Acked counts publishes acknowledged (PUBACK/PUBCOMP; QoS 0 when written).
	Acked
	// Received counts stamped messages delivered to subscribers.
	Received
	// Expected counts deliveries the plan predicts (publishes × matching
	// subscribers).
	Expected
	// Lost counts expected deliveries that never arrived (closed after the
	// drain).
	Lost
	// Duplicates counts deliveries of a sequence number already seen on the
	// same (publisher, receiver) stream.
	Duplicates
	// Reordered counts deliveries that arrived after a later sequence number
	// of the same stream.
	Reordered
	// NumQoSCounters is the number of per-QoS counters.
	NumQoSCounters
)

// qosCounterDef describes one per-QoS counter: its name (Counts, Totals,
// QoSTotals and group JSON, Prometheus kind label), help and direction.
type qosCounterDef struct {
	name   string
	help   string
	better Better
}

// qosCounterTable describes every per-QoS counter; every output walks it.
var qosCounterTable = [NumQoSCounters]qosCounterDef{
	Published:  {name: "published", help: "PUBLISH packets sent"},
	Acked:      {name: "acked", help: "publishes acknowledged (QoS 0: written)"},
	Expected:   {name: "expected", help: "deliveries the plan predicts, at the delivery QoS (publishes × matching subscriptions)"},
	Received:   {name: "received", help: "stamped deliveries to subscribers, duplicates included"},
	Lost:       {name: "lost", help: "expected − unique (received − duplicates), counted after the drain", better: LowerBetter},
	Duplicates: {name: "duplicates", help: "deliveries of a sequence number already received on its stream, over the whole stream", better: LowerBetter},
	Reordered:  {name: "reordered", help: "deliveries that arrived after a later sequence number of the same stream", better: LowerBetter},
}

// String returns the counter's snake_case name.
func (c QoSCounter) String() string {
	if c < NumQoSCounters {
		return qosCounterTable[c].name
	}
	return fmt.Sprintf("QoSCounter(%d)", uint8(c))
}

// FailReason classifies a failed connect.
type FailReason uint8

// The connect failure reasons.
const (
	// ReasonRefusedAuth is CONNACK 4 or 5 (bad credentials, not authorized).
	ReasonRefusedAuth FailReason = iota
	// ReasonRefusedOther is any other CONNACK refusal.
	ReasonRefusedOther
	// ReasonTimeout is no CONNACK within the timeout.
	ReasonTimeout
	// ReasonNetwork is a dial, reset or EOF error.
	ReasonNetwork
	// ReasonTLS is a TLS handshake or certificate error.
	ReasonTLS
	// ReasonDNS is a name resolution error.
	ReasonDNS
	// ReasonNotMQTT is a server that does not speak MQTT: its first bytes
	// are not a CONNACK (an HTTP server, a TLS port spoken to in plain
	// TCP, …).
	ReasonNotMQTT
	// ReasonProtocol is a CONNACK that breaks the protocol: a return code
	// MQTT 3.1.1 does not define (6–255) or a malformed packet.
	ReasonProtocol
	// ReasonOther is anything not classified above.
	ReasonOther
	// NumFailReasons is the number of failure reasons.
	NumFailReasons
)

var failReasonNames = [NumFailReasons]string{
	ReasonRefusedAuth:  "refused_auth",
	ReasonRefusedOther: "refused_other",
	ReasonTimeout:      "timeout",
	ReasonNetwork:      "network",
	ReasonTLS:          "tls",
	ReasonDNS:          "dns",
	ReasonNotMQTT:      "not_mqtt",
	ReasonProtocol:     "protocol",
	ReasonOther:        "other",
}

// String returns the reason's snake_case name, as used in
// connect_failed_by_reason.
func (r FailReason) String() string {
	if r < NumFailReasons {
		return failReasonNames[r]
	}
	return fmt.Sprintf("FailReason(%d)", uint8(r))
}

// Counts is a copy of every counter at one moment (or, in Snapshot.Delta, the
// change over an interval). The zero value is all zeros.
type Counts struct {
	// Counter holds the node-wide counters, indexed by Counter.
	Counter [NumCounters]int64
	// QoS holds the per-QoS counters, indexed by QoSCounter and QoS level.
	QoS [NumQoSCounters][NumQoS]int64
	// ConnectFailed holds failed connects, indexed by FailReason.
	ConnectFailed [NumFailReasons]int64
	// QoSMismatch counts stamped deliveries that arrived at another QoS
	// than the plan's delivery QoS, indexed [expected][delivered]. They are
	// in Received (at the expected QoS), never in Lost.
	QoSMismatch [NumQoS][NumQoS]int64
}

// MismatchKey names a QoS mismatch pair in result.json: "1->0" is a
// delivery expected at QoS 1 that arrived at QoS 0.
func MismatchKey(expected, delivered int) string {
	return qosKey(expected) + "->" + qosKey(delivered)
}

// MismatchTotal returns the QoS-mismatched deliveries over all pairs.
func (c *Counts) MismatchTotal() int64 {
	var n int64
	for e := range c.QoSMismatch {
		for _, v := range c.QoSMismatch[e] {
			n += v
		}
	}
	return n
}

// Get returns a node-wide counter (0 for an unknown counter).
func (c *Counts) Get(k Counter) int64 {
	if k >= NumCounters {
		return 0
	}
	return c.Counter[k]
}

// GetQoS returns a per-QoS counter for one QoS level (0 when out of range).
func (c *Counts) GetQoS(k QoSCounter, qos int) int64 {
	if k >= NumQoSCounters || uint(qos) >= NumQoS {
		return 0
	}
	return c.QoS[k][qos]
}

// Sum returns a per-QoS counter summed over all QoS levels.
func (c *Counts) Sum(k QoSCounter) int64 {
	if k >= NumQoSCounters {
		return 0
	}
	var n int64
	for _, v := range c.QoS[k] {
		n += v
	}
	return n
}

// ConnectFailedTotal returns failed connects over all reasons.
func (c *Counts) ConnectFailedTotal() int64 {
	var n int64
	for _, v := range c.ConnectFailed {
		n += v
	}
	return n
}

// Add adds o to c, counter by counter.
func (c *Counts) Add(o *Counts) {
	for i := range c.Counter {
		c.Counter[i] += o.Counter[i]
	}
	for i := range c.QoS {
		for q := range c.QoS[i] {
			c.QoS[i][q] += o.QoS[i][q]
		}
	}
	for i := range c.ConnectFailed {
		c.ConnectFailed[i] += o.ConnectFailed[i]
	}
	for e := range c.QoSMismatch {
		for g := range c.QoSMismatch[e] {
			c.QoSMismatch[e][g] += o.QoSMismatch[e][g]
		}
	}
}

// Sub returns c − o, counter by counter.
func (c *Counts) Sub(o *Counts) Counts {
	d := *c
	for i := range d.Counter {
		d.Counter[i] -= o.Counter[i]
	}
	for i := range d.QoS {
		for q := range d.QoS[i] {
			d.QoS[i][q] -= o.QoS[i][q]
		}
	}
	for i := range d.ConnectFailed {
		d.ConnectFailed[i] -= o.ConnectFailed[i]
	}
	for e := range d.QoSMismatch {
		for g := range d.QoSMismatch[e] {
			d.QoSMismatch[e][g] -= o.QoSMismatch[e][g]
		}
	}
	return d
}

// countsJSON is the wire form of Counts: counters by name, so that adding a
// counter does not shift the others.
type countsJSON struct {
	Counters      map[string]int64         `json:"counters"`
	QoS           map[string][NumQoS]int64 `json:"qos"`
	ConnectFailed map[string]int64         `json:"connect_failed"`
	QoSMismatch   map[string]int64         `json:"qos_mismatch,omitempty"`
}

// MarshalJSON encodes the counters by name.
func (c Counts) MarshalJSON() ([]byte, error) {
	w := countsJSON{
		Counters:      make(map[string]int64, NumCounters),
		QoS:           make(map[string][NumQoS]int64, NumQoSCounters),
		ConnectFailed: make(map[string]int64, NumFailReasons),
	}
	for i, v := range c.Counter {
		w.Counters[Counter(i).String()] = v
	}
	for i, v := range c.QoS {
		w.QoS[QoSCounter(i).String()] = v
	}
	for i, v := range c.ConnectFailed {
		w.ConnectFailed[FailReason(i).String()] = v
	}
	for e := range c.QoSMismatch {
		for g, v := range c.QoSMismatch[e] {
			if v != 0 {
				if w.QoSMismatch == nil {
					w.QoSMismatch = make(map[string]int64)
				}
				w.QoSMismatch[MismatchKey(e, g)] = v
			}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes counters by name. An unknown name is an error: it
// means the sender runs a different fleetbench version and its numbers would
// otherwise be silently lost.
func (c *Counts) UnmarshalJSON(data []byte) error {
	var w countsJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("metrics: decode counts: %w", err)
	}
	var out Counts
	for name, v := range w.Counters {
		i := indexOf(int(NumCounters), func(i int) string { return Counter(i).String() }, name)
		if i < 0 {
			return fmt.Errorf("metrics: decode counts: unknown counter %q", name)
		}
		out.Counter[i] = v
	}
	for name, v := range w.QoS {
		i := indexOf(int(NumQoSCounters), func(i int) string { return QoSCounter(i).String() }, name)
		if i < 0 {
			return fmt.Errorf("metrics: decode counts: unknown per-QoS counter %q", name)
		}
		out.QoS[i] = v
	}
	for name, v := range w.ConnectFailed {
		i := indexOf(int(NumFailReasons), func(i int) string { return FailReason(i).String() }, name)
		if i < 0 {
			return fmt.Errorf("metrics: decode counts: unknown connect failure reason %q", name)
		}
		out.ConnectFailed[i] = v
	}
	for name, v := range w.QoSMismatch {
		e, g, ok := parseMismatchKey(name)
		if !ok {
			return fmt.Errorf("metrics: decode counts: unknown QoS mismatch %q", name)
		}
		out.QoSMismatch[e][g] = v
	}
	*c = out
	return nil
}

// indexOf returns the i < n whose name is name, or -1.
func indexOf(n int, nameOf func(int) string, name string) int {
	for i := range n {
		if nameOf(i) == name {
			return i
		}
	}
	return -1
}

// parseMismatchKey reads a MismatchKey.
func parseMismatchKey(k string) (expected, delivered int, ok bool) {
	if len(k) != 4 || k[1:3] != "->" || k[0] < '0' || k[0] > '2' || k[3] < '0' || k[3] > '2' {
		return 0, 0, false
	}
	return int(k[0] - '0'), int(k[3] - '0'), true
}
