package scenarios

import "strings"

// decodeReply decodes a subscription's "reply:" section.
func (d *decoder) decodeReply(g *Group, gn *groupNodes, sub *SubscribeSpec, n *node, path string) *ReplySpec {
	if !d.object(n, path, replySchema) {
		return nil
	}
	r := &ReplySpec{Pos: d.pos(n)}
	tpath := join(path, "topic")
	ok := false
	tn := n.get("topic")
	if tn == nil {
		d.missing(n, path, "topic", "e.g. topic: /${productKey}/${topic[2]}/user/response",
			"required: where the replies go")
	} else if t, good := d.template(tn, tpath, phForReply, "reply topics"); good {
		r.t, r.Topic = t, t.raw
		errs := len(d.errs) + d.extra
		d.checkRefs(g, gn, tn, tpath, &r.t)
		_, ok = d.checkTopic(g, &r.t, tn, tpath, false)
		if ok && sub.filterOK {
			d.checkReplyLevels(sub, r, tn, tpath)
		}
		if ok && sub.filterOK && g.Count > 0 && gn.idOK && len(d.errs)+d.extra == errs &&
			g.replyCanMatch(&sub.t, &r.t) {
			d.errh(tn, tpath, "reply on a topic the filter does not match, e.g. …/response for …/request",
				"replies to this topic would be received again on %q and answered again, without end", sub.Topic)
		}
		ok = ok && len(d.errs)+d.extra == errs
	}
	r.QoS = d.qos(n.get("qos"), join(path, "qos"))
	if ok && g.Count > 0 && !g.perDevice(&r.t) {
		r.shared = &Reply{QoS: r.QoS, spec: r, g: g}
	}
	return r
}

// checkReplyLevels checks that each ${topic[N]} of the reply names a level
// that every topic matching the filter has.
func (d *decoder) checkReplyLevels(sub *SubscribeSpec, r *ReplySpec, n *node, path string) {
	if sub.multi {
		return // "…/#" matches topics of any depth: checked when replying
	}
	for _, s := range r.t.segs {
		if s.ph == phTopicLevel && s.arg >= sub.levels {
			d.errSeg(n, path, &r.t, s, "levels are counted from 0, split on '/': level 0 of /pk/dev is empty, level 2 is dev",
				"${topic[%d]} is out of range: the filter %q matches topics of %d levels (0 … %d)",
				s.arg, sub.Topic, sub.levels, sub.levels-1)
		}
	}
}

// replyCanMatch reports whether a reply topic of device 0 may match the
// filter of device 0, which would make the responder answer its own
// replies. A level built from ${topic[N]} may be anything that starts and
// ends with its literal text.
func (g *Group) replyCanMatch(filter, reply *tmpl) bool {
	f := string(g.appendTmpl(nil, filter, 0, nil))
	if _, inner, ok := SplitShared(f); ok {
		f = inner
	}
	type level struct {
		pre, suf string
		dyn      bool
	}
	levels := []level{{}}
	for _, s := range reply.segs {
		cur := &levels[len(levels)-1]
		if s.ph == phTopicLevel {
			cur.dyn, cur.suf = true, ""
			continue
		}
		for k, part := range strings.Split(string(g.appendSeg(nil, s, 0, nil, targetDevice{})), "/") {
			if k > 0 {
				levels = append(levels, level{})
				cur = &levels[len(levels)-1]
			}
			if cur.dyn {
				cur.suf += part
			} else {
				cur.pre += part
			}
		}
	}
	fl := strings.Split(f, "/")
	for k, l := range fl {
		switch {
		case l == "#":
			return true
		case k >= len(levels):
			return false
		case l == "+":
			continue
		}
		r := levels[k]
		if !r.dyn && r.pre != l ||
			r.dyn && !(strings.HasPrefix(l, r.pre) && strings.HasSuffix(l[len(r.pre):], r.suf)) {
			return false
		}
	}
	return len(fl) == len(levels)
}
