package scenarios

import (
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// The kinds of thing-model post, the values of a publish entry's "thing:".
const (
	// ThingPropertyPost posts properties on
	// /sys/${productKey}/${deviceName}/thing/event/property/post, method
	// thing.event.property.post.
	ThingPropertyPost = "property_post"
	// ThingEventPost posts event "event:" on
	// /sys/${productKey}/${deviceName}/thing/event/${event}/post, method
	// thing.event.${event}.post.
	ThingEventPost = "event_post"
)

// AlinkVersion is the "version" of the Alink JSON requests devices send
// (the platform's Alink protocol, as the SDK's dev_model sends it).
const AlinkVersion = "1.0"

// ThingSpec is a publish entry's thing-model post: the entry sends Alink
// JSON requests {"id":"…","version":"1.0","params":{…},"method":"…"} to
// the thing topic instead of stamped payloads, and its devices subscribe
// to the …/post_reply topic to match the platform's replies by id (the
// latency kind thing_reply).
type ThingSpec struct {
	// Kind is ThingPropertyPost or ThingEventPost.
	Kind string
	// Event is the event identifier of an event post ("" for properties).
	Event string
	// Method is the Alink method, e.g. "thing.event.property.post".
	Method string
	// Params is the "params:" template as written: a JSON object that may
	// use the payload placeholders and ${random:LO..HI}.
	Params string
	parts  []paramPart
}

// paramPart is a run of template text or one random range.
type paramPart struct {
	t   tmpl
	rnd *randRange
}

// randRange is ${random:LO..HI}: a value drawn uniformly from [LO, HI],
// an integer when both bounds are integers, otherwise a decimal with as
// many digits after the point as the more precise bound.
type randRange struct {
	lo, hi   float64
	integer  bool
	decimals int
}

const randomOpen = "${random:"

// thingIdentifier reports whether s is a valid thing-model identifier:
// letters, digits and '_' , starting with a letter or '_' (the platform's
// TSL identifier rule), at most 50 characters.
func thingIdentifier(s string) bool {
	if s == "" || len(s) > 50 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// decodeThing decodes the thing-model keys of a publish entry ("thing:",
// "event:", "params:") and sets its topic. It returns false when the entry
// is not a thing post.
func (d *decoder) decodeThing(g *Group, gn *groupNodes, n *node, path string, pub *PublishSpec) bool {
	tn := n.get("thing")
	if tn == nil {
		for _, k := range []string{"event", "params"} {
			if v := n.get(k); v != nil {
				d.errh(v, join(path, k), "add thing: property_post or thing: event_post", "%s is for thing-model posts only", k)
			}
		}
		return false
	}
	kind, ok := d.str(tn, join(path, "thing"))
	if !ok {
		return true
	}
	spec := &ThingSpec{Kind: kind}
	en := n.get("event")
	switch kind {
	case ThingPropertyPost:
		spec.Method = "thing.event.property.post"
		if en != nil {
			d.errh(en, join(path, "event"), "event: is for thing: event_post", "a property post has no event")
		}
	case ThingEventPost:
		if en == nil {
			d.missing(n, path, "event", "e.g. event: alarm (the event's identifier in the thing model)", "required for thing: event_post")
			return true
		}
		ev, ok := d.str(en, join(path, "event"))
		if !ok {
			return true
		}
		if !thingIdentifier(ev) || ev == "property" {
			d.errh(en, join(path, "event"), "letters, digits and _, not starting with a digit, at most 50 (the thing model's identifier rule)",
				"%q is not an event identifier", ev)
			return true
		}
		spec.Event, spec.Method = ev, "thing.event."+ev+".post"
	default:
		d.errh(tn, join(path, "thing"), "property_post or event_post", "unknown thing-model post %q", kind)
		return true
	}
	for _, k := range []string{"topic", "payload"} {
		if v := n.get(k); v != nil {
			d.errh(v, join(path, k), "a thing post's topic and payload follow from thing: and params:", "%s cannot be set on a thing-model post", k)
		}
	}
	if !gn.hasPK {
		d.errh(tn, join(path, "thing"), "thing topics are /sys/${productKey}/${deviceName}/…", "thing-model posts need product_key or a credentials file")
		return true
	}
	id := "property"
	if spec.Event != "" {
		id = spec.Event
	}
	topic := "/sys/${productKey}/${deviceName}/thing/event/" + id + "/post"
	t, errs := compileTemplate(topic, phForTopic, "topics", d.env)
	if len(errs) > 0 {
		return true // unreachable: a fixed template
	}
	pub.t, pub.Topic = t, topic
	d.checkTopic(g, &pub.t, tn, join(path, "thing"), false)

	params := "{}"
	if pn := n.get("params"); pn != nil {
		if v, ok := d.str(pn, join(path, "params")); ok {
			params = v
		}
	}
	spec.Params = params
	if d.compileParams(g, gn, spec, n.get("params"), join(path, "params")) {
		pub.Thing = spec
	}
	return true
}

// compileParams splits the params template at its ${random:LO..HI}
// ranges, compiles the text between them as payload templates and checks
// that device 0's and the last device's params are a JSON object.
func (d *decoder) compileParams(g *Group, gn *groupNodes, spec *ThingSpec, n *node, path string) bool {
	if n == nil {
		n = &node{}
	}
	rest := spec.Params
	ok := true
	for rest != "" {
		i := strings.Index(rest, randomOpen)
		text := rest
		if i >= 0 {
			text = rest[:i]
		}
		if text != "" {
			t, errs := compileTemplate(text, phForBody, "params", d.env)
			for _, e := range errs {
				d.errh(n, path, e.hint, "%s", e.msg)
				ok = false
			}
			spec.parts = append(spec.parts, paramPart{t: t})
		}
		if i < 0 {
			break
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			d.errh(n, path, "e.g. ${random:20..30} or ${random:20.0..30.0}", "unterminated ${random:")
			return false
		}
		r, msg := parseRandRange(rest[i+len(randomOpen) : i+end])
		if msg != "" {
			d.errh(n, path, "e.g. ${random:20..30} or ${random:-1.5..1.5}", "%s: %s", rest[i:i+end+1], msg)
			ok = false
		} else {
			spec.parts = append(spec.parts, paramPart{rnd: r})
		}
		rest = rest[i+end+1:]
	}
	if !ok || g.Count == 0 || !gn.idOK {
		return ok
	}
	for _, i := range []int{0, g.Count - 1} {
		body := spec.appendParams(nil, g, i, &RuntimeFields{})
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			d.errh(n, path, `a JSON object, e.g. '{"temperature": ${random:20.0..30.0}}'; quote string values`,
				"params are not a JSON object after expanding placeholders for device %d: %v", i, err)
			return false
		}
	}
	return true
}

// parseRandRange parses "LO..HI".
func parseRandRange(s string) (*randRange, string) {
	los, his, ok := strings.Cut(s, "..")
	if !ok {
		return nil, "want LO..HI"
	}
	lo, err1 := strconv.ParseFloat(strings.TrimSpace(los), 64)
	hi, err2 := strconv.ParseFloat(strings.TrimSpace(his), 64)
	switch {
	case err1 != nil || err2 != nil || math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0):
		return nil, "bounds must be numbers"
	case lo > hi:
		return nil, "the low bound is above the high bound"
	case math.Abs(lo) > 1e15 || math.Abs(hi) > 1e15:
		return nil, "bounds must be within ±1e15"
	}
	r := &randRange{lo: lo, hi: hi, integer: !strings.ContainsAny(los+his, ".eE")}
	for _, b := range []string{los, his} {
		if _, frac, ok := strings.Cut(strings.TrimSpace(b), "."); ok {
			r.decimals = max(r.decimals, len(frac))
		}
	}
	r.decimals = min(r.decimals, 6)
	return r, ""
}

// appendParams renders the params of device i of g for one message.
// Random values are a deterministic function of the device, the
// message's sequence number and the range's position, so runs repeat.
func (s *ThingSpec) appendParams(dst []byte, g *Group, i int, rt *RuntimeFields) []byte {
	var seq uint64
	if rt != nil {
		seq = rt.Seq
	}
	for k, p := range s.parts {
		if p.rnd == nil {
			dst = g.appendTmpl(dst, &p.t, i, rt)
			continue
		}
		h := mix64(uint64(g.First+i)<<20 ^ seq<<8 ^ uint64(k))
		r := p.rnd
		if r.integer {
			span := uint64(int64(r.hi) - int64(r.lo) + 1)
			hi, _ := bits.Mul64(h, span)
			dst = strconv.AppendInt(dst, int64(r.lo)+int64(hi), 10)
			continue
		}
		v := r.lo + float64(h>>11)/(1<<53)*(r.hi-r.lo)
		dst = strconv.AppendFloat(dst, v, 'f', max(r.decimals, 1), 64)
	}
	return dst
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// IsThing reports whether the publication sends thing-model posts.
func (p *Publication) IsThing() bool { return p.Thing != nil }

// ReplyTopic returns the topic of the platform's replies to a thing
// post: the post topic followed by "_reply" ("" for other publications).
func (p *Publication) ReplyTopic() string {
	if p.Thing == nil {
		return ""
	}
	return p.Topic + "_reply"
}

// AppendThingPost appends one Alink request of the publication's device:
// {"id":"<id>","version":"1.0","params":{…},"method":"<method>"}. The id
// is a decimal string, as the platform requires (0 … 4294967295).
func (p *Publication) AppendThingPost(dst []byte, id uint32, rt RuntimeFields) []byte {
	dst = append(dst, `{"id":"`...)
	dst = strconv.AppendUint(dst, uint64(id), 10)
	dst = append(dst, `","version":"`+AlinkVersion+`","params":`...)
	dst = p.Thing.appendParams(dst, p.Payload.g, p.Payload.i, &rt)
	dst = append(dst, `,"method":"`...)
	dst = append(dst, p.Thing.Method...)
	return append(dst, `"}`...)
}
