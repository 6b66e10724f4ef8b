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
	Subscriptions  []Subscription
	Publishes      []Publication
}

// Subscription is one topic filter a device subscribes to.
type Subscription struct {
	Filter string
	QoS    QoS
}

// Publication is one stream of messages a device publishes.
type Publication struct {
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
}

// Payload is what a publication sends: Size bytes of stamped binary data,
// or a JSON template rendered by AppendTemplate.
type Payload struct {
	// Size is the size of a binary payload; 0 for a template.
	Size int
	t    *tmpl
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

// AppendTemplate renders the template for this device with the runtime
// fields f and appends it to dst. It returns dst unchanged for binary payloads.
func (p Payload) AppendTemplate(dst []byte, f RuntimeFields) []byte {
	if p.t == nil {
		return dst
	}
	return p.g.appendTmpl(dst, p.t, p.i, &f)
}

// MaxSize is an upper bound of the payload's size in bytes.
func (p Payload) MaxSize() int {
	if p.t == nil {
		return p.Size
	}
	return p.g.maxLen(p.t)
}

// Stamped reports whether a receiver can attribute the message: binary
// payloads always carry the stamp; templates need ${seq}, ${ts} and ${publisher}.
func (p Payload) Stamped() bool {
	if p.t == nil {
		return true
	}
	return p.t.uses(phSeq) && p.t.uses(phTS) && p.t.uses(phPublisher)
}

// Devices returns the plans of all devices in global index order. The
// plans are built as the sequence is consumed; each costs about three
// allocations (one string holding all its names and topics, the
// subscription slice and the publication slice).
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
// the rendering ends.
func (b *planBuf) render(g *Group, t *tmpl, i int) {
	if _, lit := t.literal(); lit {
		return
	}
	b.buf = g.appendTmpl(b.buf, t, i, nil)
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
		b.render(g, &g.pk, i)
		b.render(g, &g.dn, i)
		b.render(g, &g.ds, i)
	}
	b.render(g, &g.cid, i)
	b.render(g, &g.user, i)
	b.render(g, &g.pass, i)
	for k := range g.Subscribe {
		b.render(g, &g.Subscribe[k].t, i)
	}
	for k := range g.Publish {
		b.render(g, &g.Publish[k].t, i)
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
		for k := range g.Subscribe {
			sp := &g.Subscribe[k]
			p.Subscriptions[k] = Subscription{Filter: x.next(&sp.t), QoS: sp.QoS}
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
			}
		}
	}
	return p
}
