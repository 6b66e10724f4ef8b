package metrics

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// MaxStripes is the largest stripe count a Recorder accepts.
const MaxStripes = 1024

// maxDefaultStripes caps DefaultStripes: every stripe can hold six dense
// histograms of ~184 KB, so memory grows linearly with the stripe count.
const maxDefaultStripes = 64

// DefaultStripes returns the stripe count used when Options.Stripes is 0:
// the smallest power of two that is at least 2×GOMAXPROCS and at least 8,
// capped at 64.
func DefaultStripes() int {
	n := 2 * runtime.GOMAXPROCS(0)
	if n < 8 {
		n = 8
	}
	return min(ceilPow2(n), maxDefaultStripes)
}

func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// Options configures a Recorder. The zero value gives the defaults.
type Options struct {
	// Stripes is the number of lock stripes, rounded up to a power of two.
	// 0 means DefaultStripes(); more than MaxStripes is an error.
	Stripes int
	// Now is the clock snapshots are stamped with; nil means time.Now.
	Now func() time.Time
}

// lockStripe is one lock-protected set of dense recording histograms. A slot's
// histogram is allocated on its first use, so kinds and QoS levels a
// scenario never uses cost nothing.
type lockStripe struct {
	mu sync.Mutex
	h  [numSlots]*hdrhistogram.Histogram
	_  [64]byte // keep neighbouring stripes' locks off one cache line
}

// paddedInt64 is an atomic counter alone on its cache line, so hot counters
// (published, received) updated from different cores do not contend.
type paddedInt64 struct {
	atomic.Int64
	_ [56]byte
}

// Recorder collects the latencies and counters of every device on a node.
// It is safe for concurrent use; Record and the counter methods do not
// allocate (after a slot's first use) and hold a stripe lock only for the
// duration of one histogram increment.
//
// Devices pass a stripe key (their global index is a good one) so that
// concurrent recorders spread over the stripes. Only the hot kinds
// (PublishAck, E2E: one value per message) are striped; Connect and
// Subscribe (one value per device and connect) share one lock, which keeps
// memory down. Snapshot swaps each stripe's histograms out under its lock
// and merges them outside it.
type Recorder struct {
	mask    uint
	stripes []lockStripe // PublishAck and E2E
	cold    lockStripe   // Connect and Subscribe
	now     func() time.Time

	set counterSet // the node-wide counters
	// reasons5 counts MQTT reason codes by "packet:name" (rare: refusals,
	// nacks, disconnects), under reasonMu.
	reasonMu sync.Mutex
	reasons5 map[string]int64
	// spans holds, per stripe, the first and last intended publish time
	// (ns since the run's epoch, plus one: 0 means none).
	spans []publishSpan

	snapMu        sync.Mutex // serialises Snapshot; guards the fields below
	began         time.Time
	intervalStart time.Time
	last          Counts                  // counters at the last reset
	spare         *hdrhistogram.Histogram // an empty dense histogram to swap in
	scratch       Histogram               // sparse copy of one drained stripe histogram
	interval      Latencies               // drained since the last reset
	total         Latencies               // drained before the last reset
}

// NewRecorder returns a Recorder. It fails only for an invalid stripe count.
func NewRecorder(opts Options) (*Recorder, error) {
	n := opts.Stripes
	switch {
	case n == 0:
		n = DefaultStripes()
	case n < 0 || n > MaxStripes:
		return nil, fmt.Errorf("metrics: new recorder: %d stripes, want 1..%d", n, MaxStripes)
	}
	n = ceilPow2(n)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t := now()
	return &Recorder{
		mask:          uint(n - 1),
		stripes:       make([]lockStripe, n),
		spans:         make([]publishSpan, n),
		now:           now,
		began:         t,
		intervalStart: t,
	}, nil
}

// Stripes returns the number of lock stripes.
func (r *Recorder) Stripes() int { return len(r.stripes) }

// Record adds one latency of the given kind and QoS (ignored for Connect)
// under the given stripe key. Durations are truncated to microseconds;
// above one hour they are clamped and counted as LatencySaturated, below
// zero they are recorded as 0 and counted as LatencyNegative. An invalid
// kind or QoS is counted as LatencyDropped. Record does not allocate once
// the slot has been used in that stripe (or Prepare was called).
func (r *Recorder) Record(kind Kind, qos int, stripe int, d time.Duration) {
	slot, ok := slotOf(kind, qos)
	if !ok {
		r.set.counters[LatencyDropped].Add(1)
		return
	}
	us := d.Microseconds()
	if us < 0 {
		r.set.counters[LatencyNegative].Add(1)
		us = 0
	} else if us > HighestUs {
		r.set.counters[LatencySaturated].Add(1)
		us = HighestUs
	}
	s := &r.cold
	if kind.striped() {
		s = &r.stripes[uint(stripe)&r.mask]
	}
	s.mu.Lock()
	h := s.h[slot]
	if h == nil {
		h = newDense()
		s.h[slot] = h
	}
	err := h.RecordValue(us)
	s.mu.Unlock()
	if err != nil { // unreachable: us is within the geometry
		r.set.counters[LatencyDropped].Add(1)
	}
}

// Prepare allocates the histograms of one kind and QoS in every stripe up
// front, so that no Record allocates during the run. It returns an error for
// an invalid kind or QoS.
func (r *Recorder) Prepare(kind Kind, qos int) error {
	slot, ok := slotOf(kind, qos)
	if !ok {
		return fmt.Errorf("metrics: prepare %s QoS %d: invalid kind or QoS", kind, qos)
	}
	stripes := []*lockStripe{&r.cold}
	if kind.striped() {
		stripes = stripes[:0]
		for i := range r.stripes {
			stripes = append(stripes, &r.stripes[i])
		}
	}
	for _, s := range stripes {
		s.mu.Lock()
		if s.h[slot] == nil {
			s.h[slot] = newDense()
		}
		s.mu.Unlock()
	}
	r.snapMu.Lock()
	if r.spare == nil {
		r.spare = newDense()
	}
	r.snapMu.Unlock()
	return nil
}

// Add adds n to a node-wide counter (n may be negative for the Connected
// gauge). Unknown counters are ignored.
func (r *Recorder) Add(c Counter, n int64) { r.set.add(c, n) }

// Inc adds one to a node-wide counter.
func (r *Recorder) Inc(c Counter) { r.set.add(c, 1) }

// AddQoS adds n to a per-QoS counter. Unknown counters or QoS levels are
// ignored.
func (r *Recorder) AddQoS(c QoSCounter, qos int, n int64) { r.set.addQoS(c, qos, n) }

// IncQoS adds one to a per-QoS counter.
func (r *Recorder) IncQoS(c QoSCounter, qos int) { r.set.addQoS(c, qos, 1) }

// ConnectFailed counts one failed connect. An unknown reason counts as
// ReasonOther.
func (r *Recorder) ConnectFailed(reason FailReason) { r.set.connectFailed(reason) }

// QoSMismatch counts one stamped delivery expected at QoS expected that
// arrived at QoS delivered. Out-of-range levels are ignored.
func (r *Recorder) QoSMismatch(expected, delivered int) { r.set.qosMismatch(expected, delivered) }

// maxReasonKeys bounds the distinct reason keys kept (a broker inventing
// codes cannot grow the map without bound); beyond it they count as
// "other:other".
const maxReasonKeys = 256

// CountReason counts one MQTT reason code the broker sent, as
// "<packet>:<name>" (e.g. "puback:quota_exceeded", "connack:not_authorized",
// "disconnect:server_busy").
func (r *Recorder) CountReason(packet, name string) {
	key := packet + ":" + name
	r.reasonMu.Lock()
	if r.reasons5 == nil {
		r.reasons5 = make(map[string]int64)
	}
	if _, ok := r.reasons5[key]; !ok && len(r.reasons5) >= maxReasonKeys {
		key = "other:other"
	}
	r.reasons5[key]++
	r.reasonMu.Unlock()
}

// Reasons returns a copy of the reason code counts (nil if none).
func (r *Recorder) Reasons() map[string]int64 {
	r.reasonMu.Lock()
	defer r.reasonMu.Unlock()
	if len(r.reasons5) == 0 {
		return nil
	}
	out := make(map[string]int64, len(r.reasons5))
	for k, v := range r.reasons5 {
		out[k] = v
	}
	return out
}

// publishSpan is one stripe's first and last intended publish time.
type publishSpan struct {
	first, last atomic.Int64
	_           [48]byte
}

// NotePublish records the intended time of a publish (since the run's
// epoch), so the load phase can be bounded by the first and last intended
// publish (see Snapshot.FirstPublish). stripe spreads concurrent devices as
// in Record.
func (r *Recorder) NotePublish(stripe int, intended time.Duration) {
	if intended < 0 {
		intended = 0
	}
	v := int64(intended) + 1
	s := &r.spans[uint(stripe)&r.mask]
	if f := s.first.Load(); f == 0 || v < f {
		s.first.CompareAndSwap(f, v) // a lost race keeps a value just as early
	}
	for {
		l := s.last.Load()
		if v <= l || s.last.CompareAndSwap(l, v) {
			return
		}
	}
}

// publishSpan returns the earliest and latest intended publish over every
// stripe (ok false when nothing was published).
func (r *Recorder) publishSpan() (first, last time.Duration, ok bool) {
	var f, l int64
	for i := range r.spans {
		if v := r.spans[i].first.Load(); v != 0 && (f == 0 || v < f) {
			f = v
		}
		if v := r.spans[i].last.Load(); v > l {
			l = v
		}
	}
	if f == 0 {
		return 0, 0, false
	}
	return time.Duration(f - 1), time.Duration(l - 1), true
}

// Get returns the current value of a node-wide counter.
func (r *Recorder) Get(c Counter) int64 {
	if c >= NumCounters {
		return 0
	}
	return r.set.counters[c].Load()
}

// GetQoS returns the current value of a per-QoS counter.
func (r *Recorder) GetQoS(c QoSCounter, qos int) int64 {
	if c >= NumQoSCounters || uint(qos) >= NumQoS {
		return 0
	}
	return r.set.qos[c][qos].Load()
}

// Snapshot returns the counters and histograms of the node. Interval holds
// the latencies recorded since the last reset, Total those since the
// Recorder was created; Delta is the counter change since the last reset.
// With reset true, the next interval starts now.
//
// Recording goes on while a snapshot is taken: each stripe's histogram is
// swapped for an empty one under the stripe's lock (a pointer swap) and
// merged outside it. Concurrent Snapshot calls are serialised.
func (r *Recorder) Snapshot(reset bool) Snapshot {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()

	r.drain()
	now := r.now()
	counts := r.set.load()
	snap := Snapshot{
		Began:    r.began,
		Start:    r.intervalStart,
		Taken:    now,
		Counts:   counts,
		Delta:    counts.Sub(&r.last),
		Interval: r.interval.Clone(),
	}
	snap.FirstPublish, snap.LastPublish, snap.Publishing = r.publishSpan()
	total := r.total.Clone()
	// Same geometry on both sides: the merge cannot drop values short of
	// overflowing int64 counts.
	_ = total.Merge(&r.interval)
	snap.Total = total
	if reset {
		_ = r.total.Merge(&r.interval)
		for _, h := range r.interval.slots {
			h.Reset()
		}
		r.last = counts
		r.intervalStart = now
	}
	return snap
}

// drain moves every stripe's recorded values into r.interval. It must be
// called with snapMu held.
func (r *Recorder) drain() {
	r.drainStripe(&r.cold)
	for i := range r.stripes {
		r.drainStripe(&r.stripes[i])
	}
}

// drainStripe swaps each non-empty histogram of s for the empty spare under
// s's lock, then merges it into r.interval and keeps it, emptied, as the
// next spare. One spare serves every slot: all have the same geometry.
func (r *Recorder) drainStripe(s *lockStripe) {
	for slot := range s.h {
		s.mu.Lock()
		h := s.h[slot]
		if h == nil || h.TotalCount() == 0 {
			s.mu.Unlock()
			continue
		}
		if r.spare == nil {
			// Allocate outside the lock; values recorded meanwhile go
			// along with the swap below.
			s.mu.Unlock()
			r.spare = newDense()
			s.mu.Lock()
			h = s.h[slot]
		}
		s.h[slot] = r.spare
		s.mu.Unlock()

		if r.interval.slots[slot] == nil {
			r.interval.slots[slot] = NewHistogram()
		}
		// Dense → empty sparse appends buckets in order; sparse → sparse is
		// a linear merge. Both are much cheaper than inserting dense buckets
		// into a populated sparse histogram one by one.
		r.scratch.Reset()
		err := r.scratch.mergeDense(h)
		if err == nil {
			err = r.interval.slots[slot].Merge(&r.scratch)
		}
		if err != nil {
			// Only an int64 count overflow can drop values; count them
			// rather than lose them silently.
			r.set.counters[LatencyDropped].Add(h.TotalCount())
		}
		h.Reset()
		r.spare = h
	}
}

// MemoryBytes estimates the memory held by the Recorder: the dense stripe
// histograms in use, the spare ones, and the sparse interval and total sets.
func (r *Recorder) MemoryBytes() int {
	n := int(unsafe.Sizeof(*r)) + len(r.stripes)*int(unsafe.Sizeof(lockStripe{}))
	stripes := []*lockStripe{&r.cold}
	for i := range r.stripes {
		stripes = append(stripes, &r.stripes[i])
	}
	for _, s := range stripes {
		s.mu.Lock()
		for _, h := range s.h {
			if h != nil {
				n += h.ByteSize()
			}
		}
		s.mu.Unlock()
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if r.spare != nil {
		n += r.spare.ByteSize()
	}
	return n + r.interval.MemoryBytes() + r.total.MemoryBytes()
}
