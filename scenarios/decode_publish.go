package scenarios

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodePublish decodes one entry of a group's "publish:" list.
func (d *decoder) decodePublish(g *Group, gn *groupNodes, n *node, path string) (PublishSpec, bool) {
	if !d.object(n, path, publishSchema) {
		return PublishSpec{}, false
	}
	f := func(k string) string { return join(path, k) }
	pub := PublishSpec{Pos: d.pos(n), Payload: PayloadSpec{Size: DefaultPayloadSize}}
	tn := n.get("topic")
	targets := n.get("targets")
	allowed := phForTopic
	if targets != nil {
		allowed |= phForTargets
	}
	if d.decodeThing(g, gn, n, path, &pub) {
		if targets != nil {
			d.errh(targets, f("targets"), "thing posts go to the device's own thing topic", "targets cannot be set on a thing-model post")
			targets = nil
		}
	} else if tn == nil {
		d.missing(n, path, "topic", "e.g. topic: /${productKey}/${deviceName}/user/update", "required")
	} else if t, ok := d.template(tn, f("topic"), allowed, "topics"); ok {
		pub.t, pub.Topic = t, t.raw
		d.checkRefs(g, gn, tn, f("topic"), &pub.t)
		if targets == nil {
			d.checkTopic(g, &pub.t, tn, f("topic"), false)
		} else {
			pub.topicOK = true // checked when the target group is known
		}
	}
	if targets != nil {
		if name, ok := d.str(targets, f("targets")); ok {
			d.pending = append(d.pending, pendingTarget{g: g, k: len(g.Publish), name: name,
				n: targets, topic: tn, path: path})
		}
	}
	pub.QoS = d.qos(n.get("qos"), f("qos"))

	in, rn := n.get("interval"), n.get("rate")
	switch {
	case in != nil && rn != nil:
		d.errh(rn, f("rate"), "keep one: interval is the time between two messages, rate the messages per time unit",
			"interval and rate both given")
	case in == nil && rn == nil:
		d.errh(n, path, "e.g. interval: 1s or rate: 2/s (per device)",
			"needs interval or rate")
	case in != nil:
		if v, ok := d.duration(in, f("interval")); ok {
			if v < MinPublishInterval {
				d.errh(in, f("interval"), "the smallest interval is 1ms",
					"%s is too short", v)
			} else {
				pub.Interval = v
			}
		}
	default:
		if r, ok := d.rate(rn, f("rate")); ok {
			if r.Interval() < MinPublishInterval {
				d.errh(rn, f("rate"), "at most 1000/s per device; add devices for more load",
					"%s is too fast for one device", r)
			} else {
				pub.Rate, pub.Interval = r, r.Interval()
			}
		}
	}

	if pn := n.get("payload"); pn != nil && pub.Thing == nil && d.object(pn, f("payload"), payloadSchema) {
		sn, tpn := pn.get("size"), pn.get("template")
		switch {
		case sn != nil && tpn != nil:
			d.errh(tpn, f("payload.template"), "a payload is either a size or a template",
				"size and template both given")
		case sn != nil:
			if v, ok := d.integer(sn, f("payload.size")); ok {
				switch {
				case v < MinPayloadSize:
					d.errh(sn, f("payload.size"), "the measurement stamp needs "+strconv.Itoa(MinPayloadSize)+" bytes",
						"%d bytes is too small (want at least %d)", v, MinPayloadSize)
				case v > MaxPayloadSize:
					d.errf(sn, f("payload.size"), "%d bytes is too large (want at most %d, 256 KiB)", v, MaxPayloadSize)
				default:
					pub.Payload.Size = int(v)
				}
			}
		case tpn != nil:
			if t, ok := d.template(tpn, f("payload.template"), phForBody, "payload templates"); ok {
				bt := &bodyTmpl{tmpl: t}
				pub.Payload = PayloadSpec{Template: t.raw, t: bt}
				d.checkRefs(g, gn, tpn, f("payload.template"), &bt.tmpl)
				if d.checkPayloadTemplate(g, gn, &bt.tmpl, tpn, f("payload.template")) {
					bt.keys, bt.keysOK = g.findStampKeys(&bt.tmpl)
				}
			}
		default:
			d.errh(pn, f("payload"), "e.g. payload: {size: 64}", "needs size or template")
		}
	}
	if v, ok := d.boolean(n.get("retain"), f("retain")); ok {
		pub.Retain = v
	}
	if cn := n.get("count"); cn != nil {
		if v, ok := d.integer(cn, f("count")); ok {
			switch {
			case v < 0:
				d.errh(cn, f("count"), "0 means until the end", "%d is out of range", v)
			case v > MaxPublishCount:
				d.errh(cn, f("count"), "0 means until the end", "%d exceeds the limit of %d messages per device", v, MaxPublishCount)
			default:
				pub.Count = int(v)
			}
		}
	}
	if v, ok := d.duration(n.get("start"), f("start")); ok {
		pub.Start = v
	}
	return pub, true
}

// checkPayloadTemplate checks that the template renders valid JSON; it
// returns true when it does (for the first and the last device).
func (d *decoder) checkPayloadTemplate(g *Group, gn *groupNodes, t *tmpl, n *node, path string) bool {
	if strings.TrimSpace(t.raw) == "" {
		d.errf(n, path, "empty template")
		return false
	}
	if g.Count == 0 {
		return false
	}
	if l := g.maxLen(t); l > MaxPayloadSize {
		d.errf(n, path, "the payload is up to %d bytes after expansion (want at most %d, 256 KiB)", l, MaxPayloadSize)
		return false
	}
	if t.uses(phProductKey) && !gn.hasPK || t.uses(phClientID) && g.ClientID == "" || !gn.idOK {
		return false // reported elsewhere
	}
	for _, i := range []int{0, g.Count - 1} {
		body := g.appendTmpl(nil, t, i, &RuntimeFields{})
		var out bytes.Buffer
		if err := json.Compact(&out, body); err != nil {
			d.errh(n, path, "placeholders are substituted as they are; quote string values: \"${deviceName}\"",
				"not valid JSON after expanding placeholders for device %d: %v", i, err)
			return false
		}
	}
	return true
}

// checkTopic applies the MQTT topic rules and, for auth: alibaba, the
// SDK's (§1.4: leading '/', ASCII 32..126, at most 128 characters). A
// filter may be a shared subscription; the rules apply to the filter after
// "$share/<group>/". It returns the shape of the (inner) topic, with
// placeholders shown as "x", and whether its structure is valid.
func (d *decoder) checkTopic(g *Group, t *tmpl, n *node, path string, filter bool) (string, bool) {
	return d.checkTopicTo(g, nil, t, n, path, filter)
}

// checkTopicTo is checkTopic for a topic whose target placeholders refer
// to the group tg.
func (d *decoder) checkTopicTo(g, tg *Group, t *tmpl, n *node, path string, filter bool) (string, bool) {
	shape := t.shape()
	lit := t.literalText()
	if shape == "" {
		d.errf(n, path, "empty topic")
		return "", false
	}
	if !utf8.ValidString(lit) || strings.ContainsRune(lit, 0) {
		d.errf(n, path, "topics must be UTF-8 without NUL characters")
		return "", false
	}
	if filter {
		inner, shared, msg, hint := checkShare(shape)
		if msg != "" {
			d.errh(n, path, hint, "%s", msg)
			return "", false
		}
		if shared {
			shape = inner
		}
	} else if strings.HasPrefix(shape, sharePrefix) {
		d.errh(n, path, "publish to the filter's topic; only subscribers name a share group",
			"a publish topic cannot start with $share/ (it names a shared subscription)")
		return "", false
	}
	if !filter && strings.ContainsAny(shape, "+#") {
		d.errh(n, path, "wildcards belong in subscribe filters; publish to a concrete topic",
			"a publish topic cannot contain '+' or '#'")
		return "", false
	}
	if filter {
		levels := strings.Split(shape, "/")
		for i, l := range levels {
			if strings.ContainsAny(l, "+#") && len(l) != 1 {
				d.errh(n, path, "e.g. /a/+/c or /a/#", "'+' and '#' must take a whole topic level (%q)", l)
				return "", false
			}
			if l == "#" && i != len(levels)-1 {
				d.errh(n, path, "e.g. /a/b/#", "'#' must be the last level of a filter")
				return "", false
			}
		}
	}
	if t.uses(phClientID) && strings.ContainsAny(g.cid.literalText(), "/+#") {
		d.errh(n, path, "remove '/', '+' and '#' from client_id",
			"${clientId} would put topic separators or wildcards in the topic")
	}
	if g.Count == 0 {
		return shape, true
	}
	// The length of topics built from received topics is checked when
	// they are built (the device API refuses long topics).
	checkLen := !t.unbounded()
	maxLen := g.maxLenTo(t, tg)
	if g.Auth == AuthAlibaba {
		if !strings.HasPrefix(shape, "/") {
			d.errh(n, path, "e.g. /${productKey}/${deviceName}/user/get",
				"topics of auth: alibaba devices start with '/' (SDK rule)")
			return shape, true
		}
		for _, c := range lit {
			if c < 32 || c > 126 {
				d.errh(n, path, "the SDK allows ASCII characters 32…126", "character %q is not allowed in a topic", c)
				return shape, true
			}
		}
		if checkLen && maxLen > MaxTopicLength {
			to := targetDevice{g: tg}
			if tg != nil {
				to.i = tg.longestDevice()
			}
			ex := g.appendCtx(nil, t, g.longestDevice(), nil, to)
			d.errh(n, path, "shorten the topic or the device names",
				"the topic is up to %d characters after expansion (%q); the SDK allows %d",
				maxLen, ex, MaxTopicLength)
		}
		return shape, true
	}
	if checkLen && maxLen > 65535 {
		d.errf(n, path, "the topic is up to %d bytes after expansion; MQTT allows 65535", maxLen)
	}
	return shape, true
}

// longestDevice returns the index of a device whose names are longest.
func (g *Group) longestDevice() int {
	if g.creds != nil {
		return g.creds.longest
	}
	return g.Count - 1
}
