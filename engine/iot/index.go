package iot

import "strings"

// TopicIndex counts, for a topic, how many subscriptions of a whole fleet
// match it, by the QoS of the delivery (the lower of the publish QoS and
// the subscription QoS). It is how expected deliveries are computed from a
// plan: built once from every device's filters, then queried once per
// published topic, in time proportional to the topic's levels rather than
// to the number of subscriptions. Not safe for concurrent Add; Count is
// safe once building is done.
type TopicIndex struct {
	root indexNode
	size int
}

type indexNode struct {
	children map[string]*indexNode
	// subs counts subscriptions whose filter ends here, by QoS; hash counts
	// filters ending in "#" below this node.
	subs, hash [3]int
}

func (n *indexNode) child(level string) *indexNode {
	if n.children == nil {
		n.children = make(map[string]*indexNode)
	}
	c := n.children[level]
	if c == nil {
		c = &indexNode{}
		n.children[level] = c
	}
	return c
}

// Add registers one subscription to filter at qos (0–2; QoS 3, local-only,
// is not a broker subscription and is ignored).
func (x *TopicIndex) Add(filter string, qos QoS) {
	if qos > QoS2 {
		return
	}
	n := &x.root
	for {
		level, rest, more := strings.Cut(filter, "/")
		if level == "#" && !more {
			n.hash[qos]++
			x.size++
			return
		}
		n = n.child(level)
		if !more {
			n.subs[qos]++
			x.size++
			return
		}
		filter = rest
	}
}

// Len returns the number of subscriptions added.
func (x *TopicIndex) Len() int { return x.size }

// Count returns how many subscriptions match topic, by delivery QoS for a
// message published at pubQoS.
func (x *TopicIndex) Count(topic string, pubQoS QoS) [3]int {
	var by [3]int
	x.count(&x.root, topic, topic != "" && topic[0] == '$', true, &by)
	var out [3]int
	for q := 0; q < 3; q++ {
		out[min(q, int(pubQoS))] += by[q]
	}
	return out
}

// count adds the subscriptions under n that match the remaining levels of
// topic, by subscription QoS.
func (x *TopicIndex) count(n *indexNode, topic string, dollar, first bool, by *[3]int) {
	// "#" here matches the rest of the topic, including nothing more
	// ("a/#" matches "a"), except at the first level of a $ topic.
	if !(first && dollar) {
		addTo(by, n.hash)
	}
	level, rest, more := strings.Cut(topic, "/")
	if c := n.children[level]; c != nil {
		x.visit(c, rest, more, dollar, by)
	}
	if !(first && dollar) {
		if c := n.children["+"]; c != nil {
			x.visit(c, rest, more, dollar, by)
		}
	}
}

func (x *TopicIndex) visit(c *indexNode, rest string, more, dollar bool, by *[3]int) {
	if !more {
		addTo(by, c.subs)
		addTo(by, c.hash) // "x/#" also matches "x"
		return
	}
	x.count(c, rest, dollar, false, by)
}

func addTo(dst *[3]int, v [3]int) {
	for i := range v {
		dst[i] += v[i]
	}
}
