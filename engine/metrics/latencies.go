package metrics

import (
	"encoding/json"
	"fmt"
)

// Latencies is a set of latency histograms: one for Connect and one per QoS
// for Subscribe, PublishAck and E2E. The zero value is an empty set.
type Latencies struct {
	slots [numSlots]*Histogram
}

// Get returns the histogram of one kind and QoS (qos is ignored for
// Connect). It returns nil when nothing was recorded or the kind or QoS is
// invalid; a nil *Histogram reads as empty. The histogram belongs to the set:
// do not modify it.
func (l *Latencies) Get(kind Kind, qos int) *Histogram {
	s, ok := slotOf(kind, qos)
	if !ok {
		return nil
	}
	return l.slots[s]
}

// Kind returns a new histogram of one kind merged over all QoS levels.
func (l *Latencies) Kind(kind Kind) *Histogram {
	out := NewHistogram()
	for s, h := range l.slots {
		if k, _ := slotKind(s); k == kind && h.Count() > 0 {
			// Merging histograms of the same geometry cannot drop values
			// short of overflowing int64 counts.
			_ = out.Merge(h)
		}
	}
	return out
}

// Count returns the number of values of one kind over all QoS levels.
func (l *Latencies) Count(kind Kind) int64 {
	var n int64
	for s, h := range l.slots {
		if k, _ := slotKind(s); k == kind {
			n += h.Count()
		}
	}
	return n
}

// Each calls fn for every histogram of the set that holds values, with its
// kind and QoS (0 for Connect). The histograms belong to the set.
func (l *Latencies) Each(fn func(kind Kind, qos int, h *Histogram)) {
	for s, h := range l.slots {
		if h.Count() > 0 {
			k, q := slotKind(s)
			fn(k, q, h)
		}
	}
}

// Set replaces the histogram of one kind and QoS (how a set is rebuilt
// from its parts, e.g. after crossing the network).
func (l *Latencies) Set(kind Kind, qos int, h *Histogram) error {
	s, ok := slotOf(kind, qos)
	if !ok {
		return fmt.Errorf("metrics: no histogram for %s QoS %d", kind, qos)
	}
	l.slots[s] = h
	return nil
}

// Merge adds every histogram of o to l.
func (l *Latencies) Merge(o *Latencies) error {
	for s, h := range o.slots {
		if h.Count() == 0 {
			continue
		}
		if l.slots[s] == nil {
			l.slots[s] = NewHistogram()
		}
		if err := l.slots[s].Merge(h); err != nil {
			return fmt.Errorf("%s: %w", slotName(s), err)
		}
	}
	return nil
}

// Clone returns an independent copy of l.
func (l *Latencies) Clone() Latencies {
	var c Latencies
	for s, h := range l.slots {
		if h != nil {
			c.slots[s] = h.Clone()
		}
	}
	return c
}

// Equal reports whether both sets hold the same values.
func (l *Latencies) Equal(o *Latencies) bool {
	for s := range l.slots {
		if !l.slots[s].Equal(o.slots[s]) {
			return false
		}
	}
	return true
}

// MemoryBytes estimates the memory the set holds.
func (l *Latencies) MemoryBytes() int {
	n := 0
	for _, h := range l.slots {
		n += h.MemoryBytes()
	}
	return n
}

// MarshalJSON encodes the non-empty histograms as an object keyed by
// "connect", "subscribe/0" … "e2e/2", each an HDR V2 base64 string.
func (l Latencies) MarshalJSON() ([]byte, error) {
	m := make(map[string]*Histogram, numSlots)
	for s, h := range l.slots {
		if h.Count() > 0 {
			m[slotName(s)] = h
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (l *Latencies) UnmarshalJSON(data []byte) error {
	var m map[string]*Histogram
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("metrics: decode latencies: %w", err)
	}
	var out Latencies
	for name, h := range m {
		s, ok := slotByName(name)
		if !ok {
			return fmt.Errorf("metrics: decode latencies: unknown histogram %q", name)
		}
		out.slots[s] = h
	}
	*l = out
	return nil
}
