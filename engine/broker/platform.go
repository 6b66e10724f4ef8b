package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// PlatformAlibaba is the Options.Platform value that makes the embedded
// broker emulate the Alibaba Cloud IoT Platform.
const PlatformAlibaba = "alibaba"

// What the emulator models, with its sources. The platform's own
// description of its MQTT (help doc 30540, "Comparisons between IoT
// Platform based MQTT and standard MQTT") says: no will and no retained
// messages, no QoS 2, "does not support SUB QoS, only PUB QoS" (a message
// is delivered at the QoS its publisher chose), RRPC over plain MQTT
// topics. It does not say what happens to a client that sends what is not
// supported; the emulator's choices are marked [model]:
//   - a PUBLISH at QoS 2 closes the connection [model: the 3.x SDK
//     refuses QoS 2 itself (IOT_MQTT_Publish returns PUB_QOS_INVALID), so
//     only a foreign client can send one, and MQTT 3.1.1 has no negative
//     ack to answer it with];
//   - a retained PUBLISH is delivered but not retained (RetainAvailable 0);
//   - a will in CONNECT is accepted and never published [model];
//   - SUBSCRIBE at any QoS is granted as asked (QoS 2 as 1), and every
//     delivery is made at the publisher's QoS (the subscription is held at
//     QoS 1 internally);
//   - a CONNECT with the client id of a connected device forces the older
//     connection offline (MQTT's session takeover; the platform documents
//     the same for a duplicated device identity), counted as Kicked;
//   - thing-model posts /sys/${pk}/${dn}/thing/event/${id}/post are
//     answered on …/post_reply in the platform's format (see thingReply);
//   - RRPC calls (Broker.RRPC) publish on /sys/${pk}/${dn}/rrpc/request/
//     ${messageId} and wait for …/rrpc/response/${messageId}.
//
// Not modelled: rate limits and quotas, the rules engine and data
// forwarding, thing-model (TSL) validation of params, device shadows,
// OTA, gateways and sub-devices, MQTT 5-only features.

// Alink reply codes the emulator sends. 200 and 460 are the platform's
// common Alink codes "success" and "request parameter error".
const (
	AlinkCodeOK       = 200
	AlinkCodeBadParam = 460
)

// PlatformStats are the emulator's counters (zero unless platform:
// alibaba). Totals since New.
type PlatformStats struct {
	// ThingPosts counts thing-model posts received; ThingReplies the
	// replies sent, ThingReplyErrors those with a code other than 200.
	ThingPosts, ThingReplies, ThingReplyErrors int64
	// RRPCRequests counts RRPC requests sent, RRPCAnswered the answers
	// matched within the call's timeout, RRPCLate answers that came after
	// it (or for an unknown message id), RRPCOffline calls refused because
	// the device was not connected.
	RRPCRequests, RRPCAnswered, RRPCLate, RRPCOffline int64
	// QoS2Refused counts connections closed for a QoS 2 PUBLISH,
	// RetainIgnored retained PUBLISHes delivered without being retained,
	// WillsDropped CONNECTs whose will was discarded.
	QoS2Refused, RetainIgnored, WillsDropped int64
	// Kicked counts connections forced offline by a newer CONNECT with the
	// same client id.
	Kicked int64
}

// platform is the emulator: a mochi hook plus the inline subscriptions of
// the cloud side.
type platform struct {
	mqtt.HookBase
	srv *mqtt.Server

	// online counts the connected sessions per username "${dn}&${pk}".
	online sync.Map // string → *atomic.Int64
	// subReq keeps the QoS levels a SUBSCRIBE asked for until its SUBACK
	// is encoded, keyed by client id and packet id.
	subReq sync.Map // subKey → []byte

	rrpc rrpcTable

	thingPosts, thingReplies, thingReplyErrors            atomic.Int64
	rrpcRequests, rrpcAnswered, rrpcLate, rrpcOffline     atomic.Int64
	qos2Refused, retainIgnored, willsDropped, kickedConns atomic.Int64
}

type subKey struct {
	client string
	id     uint16
}

// Inline subscription identifiers of the cloud side.
const (
	subIDThing = 1 + iota
	subIDRRPC
)

// ID implements mqtt.Hook.
func (p *platform) ID() string { return "fleetbench-platform" }

// Provides implements mqtt.Hook.
func (p *platform) Provides(b byte) bool {
	switch b {
	case mqtt.OnPacketRead, mqtt.OnPublish, mqtt.OnSubscribe, mqtt.OnPacketEncode,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

// start adds the cloud side's inline subscriptions; mochi must be serving.
func (p *platform) start(srv *mqtt.Server) error {
	p.srv = srv
	if err := srv.Subscribe("/sys/+/+/thing/event/+/post", subIDThing, p.onThingPost); err != nil {
		return err
	}
	return srv.Subscribe("/sys/+/+/rrpc/response/+", subIDRRPC, p.onRRPCResponse)
}

// OnPacketRead implements mqtt.Hook: a QoS 2 PUBLISH ends the connection
// (ErrRejectPacket makes mochi's read loop fail).
func (p *platform) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 2 {
		p.qos2Refused.Add(1)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnPublish implements mqtt.Hook: retained messages are counted (mochi
// does not store them: RetainAvailable is 0 under the platform).
func (p *platform) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Retain && !cl.Net.Inline {
		p.retainIgnored.Add(1)
		pk.FixedHeader.Retain = false
	}
	return pk, nil
}

// OnSubscribe implements mqtt.Hook: every filter is held at QoS 1, the
// platform's highest, so mochi delivers at the publisher's QoS (it
// delivers at min(publish, subscription)); the QoS asked for is restored
// in the SUBACK by OnPacketEncode.
func (p *platform) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	req := make([]byte, len(pk.Filters))
	filters := make(packets.Subscriptions, len(pk.Filters))
	copy(filters, pk.Filters)
	for i := range filters {
		req[i] = min(filters[i].Qos, 1)
		filters[i].Qos = 1
	}
	pk.Filters = filters
	p.subReq.Store(subKey{cl.ID, pk.PacketID}, req)
	return pk
}

// OnPacketEncode implements mqtt.Hook: see OnSubscribe.
func (p *platform) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Suback {
		return pk
	}
	v, ok := p.subReq.LoadAndDelete(subKey{cl.ID, pk.PacketID})
	if !ok {
		return pk
	}
	req := v.([]byte)
	codes := bytes.Clone(pk.ReasonCodes)
	for i, c := range codes {
		if c <= 2 && i < len(req) {
			codes[i] = req[i]
		}
	}
	pk.ReasonCodes = codes
	return pk
}

// OnSessionEstablished implements mqtt.Hook: the device is online; its
// will, if any, is dropped.
func (p *platform) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if atomic.SwapUint32(&cl.Properties.Will.Flag, 0) == 1 {
		p.willsDropped.Add(1)
	}
	p.onlineCounter(string(cl.Properties.Username)).Add(1)
}

// OnDisconnect implements mqtt.Hook.
func (p *platform) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if errors.Is(err, packets.ErrSessionTakenOver) || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		p.kickedConns.Add(1)
	}
	if v, ok := p.online.Load(string(cl.Properties.Username)); ok {
		v.(*atomic.Int64).Add(-1)
	}
}

func (p *platform) onlineCounter(user string) *atomic.Int64 {
	if v, ok := p.online.Load(user); ok {
		return v.(*atomic.Int64)
	}
	v, _ := p.online.LoadOrStore(user, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// isOnline reports whether a device has a connected session.
func (p *platform) isOnline(pk, dn string) bool {
	v, ok := p.online.Load(dn + "&" + pk)
	return ok && v.(*atomic.Int64).Load() > 0
}

// alinkRequest is the part of an Alink JSON request the emulator reads.
type alinkRequest struct {
	ID      json.RawMessage `json:"id"`
	Version string          `json:"version"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// alinkReply is the platform's reply to a thing-model post, fields in the
// order the platform sends them:
// {"code":200,"data":{},"id":"123","message":"success","method":"thing.event.property.post","version":"1.0"}.
type alinkReply struct {
	Code    int             `json:"code"`
	Data    json.RawMessage `json:"data"`
	ID      string          `json:"id"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Version string          `json:"version"`
}

// onThingPost answers a thing-model post on its _reply topic, at the
// post's QoS.
func (p *platform) onThingPost(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	p.thingPosts.Add(1)
	levels := strings.Split(pk.TopicName, "/") // "", sys, pk, dn, thing, event, id, post
	if len(levels) != 8 {
		return
	}
	body, code := thingReply(levels[6], pk.Payload)
	// Counted before the publish, which delivers synchronously: a test
	// that has seen the reply also sees the count.
	if code != AlinkCodeOK {
		p.thingReplyErrors.Add(1)
	}
	p.thingReplies.Add(1)
	if err := p.srv.Publish(pk.TopicName+"_reply", body, false, pk.FixedHeader.Qos); err != nil {
		p.thingReplies.Add(-1)
	}
}

// thingReply builds the reply to a post on thing/event/${identifier}/post:
// 200 when the payload is an Alink request whose id is a decimal string
// of at most 4294967295 (the platform's documented id range), whose method
// is thing.event.${identifier}.post and whose params is an object; 460
// (request parameter error) otherwise.
func thingReply(identifier string, payload []byte) ([]byte, int) {
	want := "thing.event." + identifier + ".post"
	var req alinkRequest
	r := alinkReply{Code: AlinkCodeOK, Data: json.RawMessage("{}"), Message: "success", Method: want, Version: "1.0"}
	err := json.Unmarshal(payload, &req)
	var id string
	if err == nil {
		err = json.Unmarshal(req.ID, &id)
	}
	r.ID = id
	switch {
	case err != nil, !validAlinkID(id), req.Method != want,
		len(bytes.TrimSpace(req.Params)) == 0 || bytes.TrimSpace(req.Params)[0] != '{':
		r.Code, r.Message = AlinkCodeBadParam, "request parameter error"
	}
	body, _ := json.Marshal(r) // plain types: cannot fail
	return body, r.Code
}

// validAlinkID reports whether id is a decimal in 0 … 4294967295.
func validAlinkID(id string) bool {
	if id == "" || len(id) > 10 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	n, err := strconv.ParseUint(id, 10, 64)
	return err == nil && n <= 1<<32-1
}

// Stats returns the emulator's counters.
func (p *platform) stats() PlatformStats {
	return PlatformStats{
		ThingPosts: p.thingPosts.Load(), ThingReplies: p.thingReplies.Load(), ThingReplyErrors: p.thingReplyErrors.Load(),
		RRPCRequests: p.rrpcRequests.Load(), RRPCAnswered: p.rrpcAnswered.Load(), RRPCLate: p.rrpcLate.Load(), RRPCOffline: p.rrpcOffline.Load(),
		QoS2Refused: p.qos2Refused.Load(), RetainIgnored: p.retainIgnored.Load(), WillsDropped: p.willsDropped.Load(),
		Kicked: p.kickedConns.Load(),
	}
}

// PlatformStats returns the platform emulator's counters (zero unless
// Options.Platform is PlatformAlibaba).
func (b *Broker) PlatformStats() PlatformStats {
	if b.platform == nil {
		return PlatformStats{}
	}
	return b.platform.stats()
}
