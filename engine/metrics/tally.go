package metrics

import (
	"sync/atomic"
	"time"
)

// counterSet is one set of every counter (node-wide, per-QoS, connect
// failures, QoS mismatches): the Recorder holds the node's, GroupCounters
// one per group. Hot counters sit alone on their cache lines.
type counterSet struct {
	counters [NumCounters]paddedInt64
	qos      [NumQoSCounters][NumQoS]paddedInt64
	reasons  [NumFailReasons]paddedInt64
	mismatch [NumQoS][NumQoS]atomic.Int64 // rare: no padding
}

func (s *counterSet) add(c Counter, n int64) {
	if c < NumCounters {
		s.counters[c].Add(n)
	}
}

func (s *counterSet) addQoS(c QoSCounter, qos int, n int64) {
	if c < NumQoSCounters && uint(qos) < NumQoS {
		s.qos[c][qos].Add(n)
	}
}

func (s *counterSet) connectFailed(reason FailReason) {
	if reason >= NumFailReasons {
		reason = ReasonOther
	}
	s.reasons[reason].Add(1)
}

func (s *counterSet) qosMismatch(expected, delivered int) {
	if uint(expected) < NumQoS && uint(delivered) < NumQoS {
		s.mismatch[expected][delivered].Add(1)
	}
}

// load reads every counter. The read is not one atomic cut across
// counters: an event racing the read may show in one counter and not yet in
// another, and shows up in the next read.
func (s *counterSet) load() Counts {
	var c Counts
	for i := range s.counters {
		c.Counter[i] = s.counters[i].Load()
	}
	for i := range s.qos {
		for q := range s.qos[i] {
			c.QoS[i][q] = s.qos[i][q].Load()
		}
	}
	for i := range s.reasons {
		c.ConnectFailed[i] = s.reasons[i].Load()
	}
	for e := range s.mismatch {
		for g := range s.mismatch[e] {
			c.QoSMismatch[e][g] = s.mismatch[e][g].Load()
		}
	}
	return c
}

// Tally is a device's view of its node's Recorder: every counter call
// counts fleet-wide and, when the device has a group, in the group's
// counters too, so the group lines cannot fall short of the totals. The
// latency and publish-span calls go to the Recorder alone. A Tally is a
// small value: copy it freely.
type Tally struct {
	r *Recorder
	g *GroupCounters
	e *EndpointCounters // the endpoint the device is on (nil: none kept)
}

// Tally returns the view of r that also counts into g (nil: fleet-wide
// only).
func (r *Recorder) Tally(g *GroupCounters) Tally { return Tally{r: r, g: g} }

// WithEndpoint returns the view that also counts into e, the broker
// endpoint the device is connected to (nil: none), and records its
// connect and publish-ack latencies there (see EndpointCounters).
func (t Tally) WithEndpoint(e *EndpointCounters) Tally { t.e = e; return t }

// Recorder returns the node's Recorder.
func (t Tally) Recorder() *Recorder { return t.r }

// Add adds n to a node-wide counter, fleet-wide and in the group.
func (t Tally) Add(c Counter, n int64) {
	t.r.set.add(c, n)
	if t.g != nil {
		t.g.set.add(c, n)
	}
	if t.e != nil {
		t.e.set.add(c, n)
	}
}

// Inc adds one to a node-wide counter, fleet-wide and in the group.
func (t Tally) Inc(c Counter) { t.Add(c, 1) }

// AddQoS adds n to a per-QoS counter, fleet-wide and in the group.
func (t Tally) AddQoS(c QoSCounter, qos int, n int64) {
	t.r.set.addQoS(c, qos, n)
	if t.g != nil {
		t.g.set.addQoS(c, qos, n)
	}
	if t.e != nil {
		t.e.set.addQoS(c, qos, n)
	}
}

// IncQoS adds one to a per-QoS counter, fleet-wide and in the group.
func (t Tally) IncQoS(c QoSCounter, qos int) { t.AddQoS(c, qos, 1) }

// ConnectFailed counts one failed connect, fleet-wide and in the group.
func (t Tally) ConnectFailed(reason FailReason) {
	t.r.set.connectFailed(reason)
	if t.g != nil {
		t.g.set.connectFailed(reason)
	}
	if t.e != nil {
		t.e.set.connectFailed(reason)
	}
}

// QoSMismatch counts one delivery at another QoS than planned, fleet-wide
// and in the group.
func (t Tally) QoSMismatch(expected, delivered int) {
	t.r.set.qosMismatch(expected, delivered)
	if t.g != nil {
		t.g.set.qosMismatch(expected, delivered)
	}
	if t.e != nil {
		t.e.set.qosMismatch(expected, delivered)
	}
}

// Record records a latency in the Recorder (see Recorder.Record), and
// connect and publish-ack latencies at the device's endpoint too.
func (t Tally) Record(kind Kind, qos int, stripe int, d time.Duration) {
	t.r.Record(kind, qos, stripe, d)
	if t.e != nil {
		t.e.record(kind, d)
	}
}

// NotePublish notes an intended publish time (see Recorder.NotePublish).
func (t Tally) NotePublish(stripe int, intended time.Duration) { t.r.NotePublish(stripe, intended) }

// CountReason counts an MQTT reason code (see Recorder.CountReason).
func (t Tally) CountReason(packet, name string) { t.r.CountReason(packet, name) }
