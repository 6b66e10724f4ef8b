package badbroker

import (
	"fmt"
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"
)

// subscribe records the filters of a SUBSCRIBE for c and returns the SUBACK
// return codes.
func (b *Broker) subscribe(c *conn, filters packets.Subscriptions) []byte {
	codes := make([]byte, len(filters))
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	for i, f := range filters {
		code := f.Qos
		if b.beh.GrantQoS != nil {
			code = *b.beh.GrantQoS
		}
		if !validFilter(f.Filter) {
			code = 0x80
		}
		codes[i] = code
		if code >= 0x80 {
			continue
		}
		if c.subs == nil {
			c.subs = make(map[string]byte)
			b.subscribers = append(b.subscribers, c)
		}
		c.subs[f.Filter] = min(code, 2)
	}
	return codes
}

// unsubscribe removes the filters of an UNSUBSCRIBE from c. The connection
// stays among the subscribers (with no filter it matches nothing).
func (b *Broker) unsubscribe(c *conn, filters packets.Subscriptions) {
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	for _, f := range filters {
		delete(c.subs, f.Filter)
	}
}

// target is a subscriber matched by a message, with its granted QoS.
type target struct {
	c       *conn
	granted byte
}

// route delivers a message to every matching subscriber, once per
// connection at the highest QoS granted among its matching filters, and
// applies DropEvery, RedeliverAfter and ForeignEvery.
func (b *Broker) route(topic string, payload []byte, qos byte) {
	beh := &b.beh
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	var matched []target
	delivered := false
	for _, s := range b.subscribers {
		granted, ok := s.match(topic)
		if !ok {
			continue
		}
		matched = append(matched, target{s, granted})
		q := min(qos, granted)
		if beh.DeliverQoS != nil {
			q = *beh.DeliverQoS
		}
		b.attempts++
		if beh.DropEvery > 0 && b.attempts%beh.DropEvery == 0 {
			b.dropped.Add(1)
			continue
		}
		if s.publish(topic, payload, q, &b.delivered) != nil {
			continue
		}
		delivered = true
		s.deliveries++
		if s.first == nil {
			s.first = &message{topic: topic, payload: payload, qos: q}
		}
		if beh.RedeliverAfter > 0 && !s.redelivered && s.deliveries == beh.RedeliverAfter {
			s.redelivered = true
			s.publish(s.first.topic, s.first.payload, s.first.qos, &b.redelivered)
		}
	}
	if !delivered || beh.ForeignEvery <= 0 {
		return
	}
	b.routed++
	if b.routed%beh.ForeignEvery != 0 {
		return
	}
	for _, t := range matched {
		b.foreignSeq++
		t.c.publish(topic, []byte(fmt.Sprintf("foreign-%d", b.foreignSeq)), t.granted, &b.foreign)
	}
}

// match reports whether any filter of c matches topic and the highest QoS
// granted among those that do. Callers hold b.routeMu.
func (c *conn) match(topic string) (byte, bool) {
	var best byte
	ok := false
	for f, q := range c.subs {
		if matchTopic(f, topic) {
			ok = true
			best = max(best, q)
		}
	}
	return best, ok
}

// matchTopic reports whether the MQTT topic filter f matches topic: + is
// one level, a final # any number of levels (the parent level included),
// and wildcards at the first level do not match topics starting with $.
func matchTopic(f, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(f, "+") || strings.HasPrefix(f, "#")) {
		return false // [MQTT-4.7.2-1]
	}
	fl := strings.Split(f, "/")
	tl := strings.Split(topic, "/")
	for i, level := range fl {
		if level == "#" {
			return true
		}
		if i >= len(tl) || (level != "+" && level != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// validFilter reports whether f is a well-formed topic filter: not empty,
// + and # alone in their level, # only last.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, level := range levels {
		if strings.ContainsAny(level, "+#") && len(level) > 1 {
			return false
		}
		if level == "#" && i != len(levels)-1 {
			return false
		}
	}
	return true
}
