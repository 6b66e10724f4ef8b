package scenarios

import (
	"sort"
	"strings"
)

// pendingTarget is a publish entry's "targets:", resolved once every group
// is known (a group may target one defined further down).
type pendingTarget struct {
	g     *Group
	k     int // index in g.Publish
	name  string
	n     *node // the targets value
	topic *node // the topic value
	path  string
}

// groupNotFound reports a reference to a group that does not exist.
func (d *decoder) groupNotFound(n *node, path, name string, names map[string]*Group) {
	known := make([]string, 0, len(names))
	for k := range names {
		if k != "" {
			known = append(known, k)
		}
	}
	sort.Strings(known)
	hint := suggest(name, known)
	if hint == "" && len(known) > 0 {
		hint = "the groups are " + strings.Join(known, ", ")
	}
	d.errh(n, path, hint, "no device group %q", name)
}

// resolveTargets resolves the targets: of publish entries and checks their
// topics, now that the target groups are known.
func (d *decoder) resolveTargets(names map[string]*Group) {
	for _, pt := range d.pending {
		tpath, path := join(pt.path, "targets"), join(pt.path, "topic")
		tg := names[pt.name]
		if tg == nil {
			d.groupNotFound(pt.n, tpath, pt.name, names)
			continue
		}
		if pt.k >= len(pt.g.Publish) {
			continue
		}
		pub := &pt.g.Publish[pt.k]
		pub.Targets = tg
		if !pub.topicOK || pt.topic == nil {
			continue
		}
		usesTarget := false
		for _, s := range pub.t.segs {
			switch {
			case !s.ph.target():
				continue
			case s.ph.info().of == phProductKey && !tg.hasPK:
				d.errSeg(pt.topic, path, &pub.t, s, "use ${target.deviceName}, or give the group a product_key",
					"%s is used but group %q has no product key", s.ph, tg.Name)
			case s.ph.info().of == phClientID && tg.ClientID == "":
				d.errSeg(pt.topic, path, &pub.t, s, "use ${target.deviceName}, or set client_id in group "+tg.Name,
					"%s is not known before signing: group %q uses auth: alibaba", s.ph, tg.Name)
			}
			usesTarget = true
		}
		if !usesTarget {
			d.errh(pt.n, tpath, "e.g. topic: /${productKey}/${target.deviceName}/user/get",
				"the topic uses no ${target.…} placeholder, so every message would go to the same topic")
			continue
		}
		if tg.Count > 0 && tg.idOK {
			d.checkTopicTo(pt.g, tg, &pub.t, pt.topic, path, false)
		}
	}
}
