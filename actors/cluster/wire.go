package cluster

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// toWireSnapshot encodes an interval snapshot for the wire: cumulative and
// interval counters, and the interval's histograms in the HDR V2
// compressed encoding. Total latencies are not shipped: the coordinator
// rebuilds them by merging the intervals.
func toWireSnapshot(s *metrics.Snapshot) (*remotepb.Snapshot, error) {
	out := &remotepb.Snapshot{
		BeganUnixNano: s.Began.UnixNano(), StartUnixNano: s.Start.UnixNano(), TakenUnixNano: s.Taken.UnixNano(),
		Counts: toWireCounts(&s.Counts), Delta: toWireCounts(&s.Delta),
		FirstPublishNano: s.FirstPublish.Nanoseconds(), LastPublishNano: s.LastPublish.Nanoseconds(), Publishing: s.Publishing,
	}
	var err error
	s.Interval.Each(func(k metrics.Kind, q int, h *metrics.Histogram) {
		if err != nil {
			return
		}
		var b []byte
		if b, err = h.MarshalText(); err == nil {
			out.Interval = append(out.Interval, &remotepb.Histogram{Kind: uint32(k), Qos: uint32(q), Hdr: b})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return out, nil
}

// fromWireSnapshot decodes a snapshot shipped by a node. Times come back
// on the node's clock.
func fromWireSnapshot(w *remotepb.Snapshot) (metrics.Snapshot, error) {
	if w == nil {
		return metrics.Snapshot{}, fmt.Errorf("decode snapshot: missing")
	}
	s := metrics.Snapshot{
		Began: time.Unix(0, w.BeganUnixNano), Start: time.Unix(0, w.StartUnixNano), Taken: time.Unix(0, w.TakenUnixNano),
		FirstPublish: time.Duration(w.FirstPublishNano), LastPublish: time.Duration(w.LastPublishNano), Publishing: w.Publishing,
	}
	var err error
	if s.Counts, err = fromWireCounts(w.Counts); err != nil {
		return s, err
	}
	if s.Delta, err = fromWireCounts(w.Delta); err != nil {
		return s, err
	}
	for _, wh := range w.Interval {
		h := new(metrics.Histogram)
		if err := h.UnmarshalText(wh.Hdr); err != nil {
			return s, fmt.Errorf("decode snapshot: %w", err)
		}
		if err := s.Interval.Set(metrics.Kind(wh.Kind), int(wh.Qos), h); err != nil {
			return s, fmt.Errorf("decode snapshot: %w", err)
		}
	}
	return s, nil
}

func toWireCounts(c *metrics.Counts) *remotepb.Counts {
	// Counter carries the node-wide counters followed by the QoS mismatch
	// matrix ([expected][delivered], row by row).
	counter := make([]int64, 0, len(c.Counter)+metrics.NumQoS*metrics.NumQoS)
	counter = append(counter, c.Counter[:]...)
	for e := range c.QoSMismatch {
		counter = append(counter, c.QoSMismatch[e][:]...)
	}
	w := &remotepb.Counts{
		Counter:       counter,
		ConnectFailed: append([]int64(nil), c.ConnectFailed[:]...),
		Qos:           make([]int64, 0, metrics.NumQoSCounters*metrics.NumQoS),
	}
	for i := range c.QoS {
		w.Qos = append(w.Qos, c.QoS[i][:]...)
	}
	return w
}

func fromWireCounts(w *remotepb.Counts) (metrics.Counts, error) {
	var c metrics.Counts
	if w == nil {
		return c, nil
	}
	if len(w.Counter) != len(c.Counter)+metrics.NumQoS*metrics.NumQoS || len(w.ConnectFailed) != len(c.ConnectFailed) || len(w.Qos) != int(metrics.NumQoSCounters)*metrics.NumQoS {
		return c, fmt.Errorf("decode counters: %d/%d/%d values, want %d/%d/%d (a node of another fleetbench version?)",
			len(w.Counter), len(w.Qos), len(w.ConnectFailed), len(c.Counter), int(metrics.NumQoSCounters)*metrics.NumQoS, len(c.ConnectFailed))
	}
	copy(c.Counter[:], w.Counter)
	for e := range c.QoSMismatch {
		copy(c.QoSMismatch[e][:], w.Counter[len(c.Counter)+e*metrics.NumQoS:])
	}
	copy(c.ConnectFailed[:], w.ConnectFailed)
	for i := range c.QoS {
		copy(c.QoS[i][:], w.Qos[i*metrics.NumQoS:])
	}
	return c, nil
}

// groupWireField returns the GroupCounts field of a group column (the
// proto field of the column's JSON name), or nil when the proto lacks it
// (TestWireGroupsCarryEveryColumn catches that).
func groupWireField(c metrics.Column) protoreflect.FieldDescriptor {
	return (*remotepb.GroupCounts)(nil).ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(c.Name))
}

// toWireGroups encodes the group lines of a node, column by column (see
// metrics.GroupColumns).
func toWireGroups(gs []metrics.GroupCounters) []*remotepb.GroupCounts {
	cols := metrics.GroupColumns()
	out := make([]*remotepb.GroupCounts, len(gs))
	for i := range gs {
		r := gs[i].Result("")
		w := &remotepb.GroupCounts{}
		m := w.ProtoReflect()
		for _, c := range cols {
			if f := groupWireField(c); f != nil {
				m.Set(f, protoreflect.ValueOfInt64(c.OfGroup(&r)))
			}
		}
		out[i] = w
	}
	return out
}

// fromWireGroup decodes one group line shipped by a node.
func fromWireGroup(name string, g *remotepb.GroupCounts) metrics.GroupResult {
	r := metrics.GroupResult{Name: name}
	m := g.ProtoReflect()
	for _, c := range metrics.GroupColumns() {
		if f := groupWireField(c); f != nil {
			c.SetGroup(&r, m.Get(f).Int())
		}
	}
	return r
}
