package scenarios

import (
	"iter"
	"sort"
	"time"
)

// DevicePlan is everything one simulated device needs, with all
// placeholders resolved. Plans are computed on demand (see
// Scenario.Devices): the strings of one plan share a single allocation.
type DevicePlan struct {
	// Group is the device's group; shared, do not modify.
	Group *Group
	// Index is the device's 0-based index in its group; GlobalIndex its
	// index in the scenario (Group.First + Index).
	Index       int
	GlobalIndex int
	ProductKey  string
	DeviceName  string
	// DeviceSecret is set for auth: alibaba.
	DeviceSecret string
	// ClientID, Username and Password are what the device sends in
	// CONNECT. For auth: alibaba they are empty unless the scenario sets
	// them explicitly: the signer (engine/devsign) fills the empty ones
	// from ProductKey, DeviceName, DeviceSecret and Region. For auth: none
	// Username and Password are empty; for auth: password Username
	// defaults to the device name.
	ClientID       string
	Username       string
	Password       string
	Auth           Auth
	Region         string // auth: alibaba only
	KeepAlive      time.Duration
	CleanSession   bool
	ConnectTimeout time.Duration
	Yield          time.Duration
	// Client, MQTTVersion, SDK, RequestTimeout and MaxPacketSize are the
	// group's (see Group); zero RequestTimeout and MaxPacketSize mean the
	// SDK profile's defaults.
	Client         string
	MQTTVersion    int
	SDK            string
	RequestTimeout time.Duration
	MaxPacketSize  int
	// MQTT5 is the group's MQTT 5.0 settings, nil unless MQTTVersion is
	// MQTTv5; shared by the group's plans, do not modify.
	MQTT5         *MQTT5
	Subscriptions []Subscription
	Publishes     []Publication
}

// Subscription is one topic filter a device subscribes to.
type Subscription struct {
	// Filter is sent in SUBSCRIBE as it is; it may be a shared
	// subscription "$share/<group>/<filter>" (see SplitShared).
	Filter string
	QoS    QoS
	// Reply is set when the device answers every message it receives on
	// this subscription (the SDK's RRPC shape); nil otherwise. It may be
	// shared between the plans of a group: do not modify.
	Reply *Reply
}

// Publication is one stream of messages a device publishes. Its index in
// DevicePlan.Publishes is the stream id (${stream} in payload templates).
type Publication struct {
	// Topic is where the messages go. For a targeted publication (Targets
	// set) it is the topic for target 0; use TopicFor.
	Topic string
	QoS   QoS
	// Interval between messages.
	Interval time.Duration
	// Count of messages; 0 means until the end of the run.
	Count  int
	Retain bool
	// Start delays the first message.
	Start   time.Duration
	Payload Payload
	// Targets is the group whose devices the messages go to, round robin
	// (see Target and TopicFor); nil when the entry has no "targets:".
	// Shared; do not modify.
	Targets *Group
	// Thing is set for thing-model posts (see AppendThingPost); shared,
	// do not modify.
	Thing *ThingSpec

	tt *tmpl // the topic template of a targeted publication
}

// TopicFor returns the topic of a message to device targetIndex of the
// Targets group (taken modulo Targets.Count), or Topic when the
// publication has no targets. It allocates only the result.
func (p *Publication) TopicFor(targetIndex int) string {
	if p.Targets == nil || p.tt == nil || p.Targets.Count <= 0 {
		return p.Topic
	}
	n := p.Targets.Count
	ti := targetIndex % n
	if ti < 0 {
		ti += n
	}
	var stack [192]byte
	// Payload holds the publisher's group and index.
	return string(p.Payload.g.appendCtx(stack[:0], p.tt, p.Payload.i, nil, targetDevice{p.Targets, ti}))
}

// Target returns the index in Targets of the device that message n of
// this publication (0-based, counted per publishing device) goes to, or
// -1 when the publication has no targets. The devices of the publishing
// group start at offsets spread evenly over the targets and then go round
// robin, so every target gets every Targets.Count-th message of each
// publisher.
func (p *Publication) Target(n uint64) int {
	g := p.Payload.g
	if p.Targets == nil || p.Targets.Count <= 0 || g == nil || g.Count <= 0 {
		return -1
	}
	c := uint64(p.Targets.Count)
	off := mulDiv(uint64(p.Payload.i), c, uint64(g.Count)) // < c
	return int((off + n%c) % c)
}

// Reply is how a responder answers the messages of one subscription: for
// every message received on it, the device publishes a message to
// Topic(received) at QoS. The payload of the reply is the received
// payload, unchanged, so a stamped request comes back with its stamp and
// the requester measures the round trip.
type Reply struct {
	QoS  QoS
	spec *ReplySpec
	g    *Group
	i    int
}

// Template returns the reply topic template as written.
func (r *Reply) Template() string { return r.spec.Topic }

// Topic returns the reply topic for a message received on the topic
// received: the template rendered for this device, ${topic[N]} being level
// N of received (0-based, split on '/'). ok is false when received has no
// level N; the reply is then not sent (the engine counts it). It allocates
// only the result.
func (r *Reply) Topic(received string) (topic string, ok bool) {
	var stack [192]byte
	x := renderCtx{received: received}
	b := r.g.appendCtx(stack[:0], &r.spec.t, r.i, &x, targetDevice{})
	if x.missing {
		return "", false
	}
	return string(b), true
}

// Payload is what a publication sends: Size bytes of stamped binary data,
// or a JSON template rendered by AppendTemplate.
type Payload struct {
	// Size is the size of a binary payload; 0 for a template.
	Size int
	t    *bodyTmpl
	g    *Group
	i    int
}

// IsTemplate reports whether the payload is a JSON template.
func (p Payload) IsTemplate() bool { return p.t != nil }

// Template returns the template as written, or "".
func (p Payload) Template() string {
	if p.t == nil {
		return ""
	}
	return p.t.raw
}

// StampKeys names the top-level members of a JSON payload that carry the
// stamp: Seq, TS and Publisher are always set when ok, Stream is "" when
// the template has no "…": ${stream} member.
type StampKeys struct {
	Seq, TS, Publisher, Stream string
}

// StampKeys returns the names of the top-level members of the template
// whose value is exactly ${seq}, ${ts}, ${publisher} and ${stream} (quoted
// or not, with or without padding), so that a receiver can find the stamp
// in a received JSON payload. ok is false for binary payloads and for
// templates that lack a top-level seq, ts or publisher member. Member names
// with placeholders are not considered.
func (p Payload) StampKeys() (k StampKeys, ok bool) {
	if p.t == nil {
		return StampKeys{}, false
	}
	return p.t.keys, p.t.keysOK
}

// AppendTemplate renders the template for this device with the runtime
// fields f and appends it to dst. It returns dst unchanged for binary payloads.
func (p Payload) AppendTemplate(dst []byte, f RuntimeFields) []byte {
	if p.t == nil {
		return dst
	}
	return p.g.appendTmpl(dst, &p.t.tmpl, p.i, &f)
}

// MaxSize is an upper bound of the payload's size in bytes.
func (p Payload) MaxSize() int {
	if p.t == nil {
		return p.Size
	}
	return p.g.maxLen(&p.t.tmpl)
}

// Stamped reports whether a receiver can attribute the message: binary
// payloads always carry the stamp; templates need top-level members whose
// values are ${seq}, ${ts} and ${publisher}, as found by StampKeys.
func (p Payload) Stamped() bool {
	if p.t == nil {
		return true
	}
	return p.t.keysOK
}

// Devices returns the plans of all devices in global index order. The
// plans are built as the sequence is consumed; each costs about three
// allocations (one string holding all its names and topics, the
// subscription slice and the publication slice). Targeted publications
// cost nothing more; replies whose topic depends on the device (uses
// ${index}, ${deviceName}, …) cost one more allocation per plan, shared by
// all of the device's replies, and other replies nothing.
func (s *Scenario) Devices() iter.Seq2[int, DevicePlan] {
	return s.Range(0, s.total)
}

// Range returns the plans of the devices with global indices in [lo, hi),
// clamped to the fleet; a node of a distributed run plans only its share.
func (s *Scenario) Range(lo, hi int) iter.Seq2[int, DevicePlan] {
	lo, hi = max(lo, 0), min(hi, s.total)
	return func(yield func(int, DevicePlan) bool) {
		var b planBuf
		for _, g := range s.Groups {
			from, to := max(lo-g.First, 0), min(hi-g.First, g.Count)
			for i := from; i < to; i++ {
				if !yield(g.First+i, g.plan(i, &b)) {
					return
				}
			}
		}
	}
}

// Plan returns the plan of the device with the given global index; ok is
// false when the index is out of range.
func (s *Scenario) Plan(globalIndex int) (p DevicePlan, ok bool) {
	g, i, ok := s.Locate(globalIndex)
	if !ok {
		return DevicePlan{}, false
	}
	var b planBuf
	return g.plan(i, &b), true
}

// Locate returns the group of a global index and the index in that group.
func (s *Scenario) Locate(globalIndex int) (g *Group, index int, ok bool) {
	if globalIndex < 0 || globalIndex >= s.total {
		return nil, 0, false
	}
	k := sort.Search(len(s.Groups), func(k int) bool {
		return s.Groups[k].First+s.Groups[k].Count > globalIndex
	})
	g = s.Groups[k]
	return g, globalIndex - g.First, true
}

// planBuf is scratch space reused across the plans of one iteration.
type planBuf struct {
	buf  []byte
	ends []int
}

// render appends t for device i unless it is a literal, recording where
// the rendering ends. to is the target device of a targeted topic.
func (b *planBuf) render(g *Group, t *tmpl, i int, to targetDevice) {
	if _, lit := t.literal(); lit {
		return
	}
	b.buf = g.appendCtx(b.buf, t, i, nil, to)
	b.ends = append(b.ends, len(b.buf))
}

// strs hands out the rendered strings in the order they were rendered.
type strs struct {
	s    string
	ends []int
	k    int
	off  int
}

func (x *strs) next(t *tmpl) string {
	if v, lit := t.literal(); lit {
		return v
	}
	end := x.ends[x.k]
	v := x.s[x.off:end]
	x.k++
	x.off = end
	return v
}

// plan builds the plan of device i of g.
func (g *Group) plan(i int, b *planBuf) DevicePlan {
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	if g.creds == nil {
		b.render(g, &g.pk, i, targetDevice{})
		b.render(g, &g.dn, i, targetDevice{})
		b.render(g, &g.ds, i, targetDevice{})
	}
	b.render(g, &g.cid, i, targetDevice{})
	b.render(g, &g.user, i, targetDevice{})
	b.render(g, &g.pass, i, targetDevice{})
	replies := 0 // replies that depend on the device
	for k := range g.Subscribe {
		b.render(g, &g.Subscribe[k].t, i, targetDevice{})
		if r := g.Subscribe[k].Reply; r != nil && r.shared == nil {
			replies++
		}
	}
	for k := range g.Publish {
		ps := &g.Publish[k]
		if ps.Targets != nil {
			b.render(g, &ps.t, i, targetDevice{g: ps.Targets}) // Topic is the topic for target 0
		} else {
			b.render(g, &ps.t, i, targetDevice{})
		}
	}
	x := strs{s: string(b.buf), ends: b.ends}

	p := DevicePlan{
		Group:          g,
		Index:          i,
		GlobalIndex:    g.First + i,
		Auth:           g.Auth,
		Region:         g.Region,
		KeepAlive:      g.KeepAlive,
		CleanSession:   g.CleanSession,
		ConnectTimeout: g.Connect.Timeout,
		Yield:          g.Yield,
		Client:         g.Client,
		MQTTVersion:    g.MQTTVersion,
		SDK:            g.SDK,
		RequestTimeout: g.RequestTimeout,
		MaxPacketSize:  g.MaxPacketSize,
		MQTT5:          g.MQTT5,
	}
	if g.creds != nil {
		r := g.creds.rows[i]
		p.ProductKey, p.DeviceName, p.DeviceSecret = r.pk, r.dn, r.ds
	} else {
		p.ProductKey = x.next(&g.pk)
		p.DeviceName = x.next(&g.dn)
		p.DeviceSecret = x.next(&g.ds)
	}
	if g.Auth != AuthAlibaba {
		p.DeviceSecret = ""
	}
	p.ClientID = x.next(&g.cid)
	p.Username = x.next(&g.user)
	p.Password = x.next(&g.pass)
	if len(g.Subscribe) > 0 {
		p.Subscriptions = make([]Subscription, len(g.Subscribe))
		var rs []Reply
		if replies > 0 {
			rs = make([]Reply, replies)
		}
		for k := range g.Subscribe {
			sp := &g.Subscribe[k]
			sub := Subscription{Filter: x.next(&sp.t), QoS: sp.QoS}
			switch r := sp.Reply; {
			case r == nil:
			case r.shared != nil:
				sub.Reply = r.shared
			default:
				rs[0] = Reply{QoS: r.QoS, spec: r, g: g, i: i}
				sub.Reply, rs = &rs[0], rs[1:]
			}
			p.Subscriptions[k] = sub
		}
	}
	if len(g.Publish) > 0 {
		p.Publishes = make([]Publication, len(g.Publish))
		for k := range g.Publish {
			ps := &g.Publish[k]
			p.Publishes[k] = Publication{
				Topic:    x.next(&ps.t),
				QoS:      ps.QoS,
				Interval: ps.Interval,
				Count:    ps.Count,
				Retain:   ps.Retain,
				Start:    ps.Start,
				Payload:  Payload{Size: ps.Payload.Size, t: ps.Payload.t, g: g, i: i},
				Thing:    ps.Thing,
			}
			if ps.Targets != nil {
				p.Publishes[k].Targets, p.Publishes[k].tt = ps.Targets, &ps.t
			}
		}
	}
	return p
}
