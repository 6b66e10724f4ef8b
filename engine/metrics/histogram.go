package metrics

import (
	"errors"
	"fmt"
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The geometry of every histogram in fleetbench: microseconds from 1 µs to
// one hour with 3 significant digits (a relative error of at most 0.1%).
const (
	// LowestUs is the lowest discernible latency, in microseconds.
	LowestUs int64 = 1
	// HighestUs is the highest trackable latency (one hour), in
	// microseconds. Larger values are clamped to it.
	HighestUs int64 = 3_600_000_000
	// SignificantDigits is the HDR precision.
	SignificantDigits = 3
)

// newDense returns a dense HDR histogram of the standard geometry, for the
// recording hot path (~184 KB each).
func newDense() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestUs, HighestUs, SignificantDigits)
}

func newPacked() *hdrhistogram.PackedHistogram {
	return hdrhistogram.NewPacked(LowestUs, HighestUs, SignificantDigits)
}

// Histogram is a latency distribution in microseconds, of the standard
// geometry (see HighestUs). It is sparse: its memory grows with the number
// of distinct buckets populated (a few KB for a typical latency curve), so
// snapshots and results can hold many. The zero value is an empty histogram
// ready for use, and a nil *Histogram reads as empty.
//
// A Histogram is not safe for concurrent mutation; concurrent reads are safe.
// It marshals to text (and so to a JSON string) as the base64 HDR V2
// compressed encoding, the format of hdrhistogram.Histogram.Encode with
// hdrhistogram.V2CompressedEncodingCookieBase, readable by every HdrHistogram
// implementation.
type Histogram struct {
	p *hdrhistogram.PackedHistogram
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{p: newPacked()} }

func (h *Histogram) init() {
	if h.p == nil {
		h.p = newPacked()
	}
}

// Record adds one value in microseconds. It is meant for tools and tests;
// devices record through a Recorder. Values outside 0..HighestUs are
// rejected with an error.
func (h *Histogram) Record(us int64) error {
	if h == nil {
		return errors.New("metrics: record into a nil histogram")
	}
	if us < 0 || us > HighestUs {
		return fmt.Errorf("metrics: record %d µs: outside 0..%d", us, HighestUs)
	}
	h.init()
	if err := h.p.RecordValue(us); err != nil {
		return fmt.Errorf("metrics: record %d µs: %w", us, err)
	}
	return nil
}

// Count returns the number of recorded values.
func (h *Histogram) Count() int64 {
	if h == nil || h.p == nil {
		return 0
	}
	return h.p.TotalCount()
}

// Merge adds every value of o to h. Both have the standard geometry, so the
// merge is exact; it fails only if the total count would overflow.
func (h *Histogram) Merge(o *Histogram) error {
	if h == nil {
		return errors.New("metrics: merge into a nil histogram")
	}
	if o.Count() == 0 {
		return nil
	}
	h.init()
	if dropped := h.p.Merge(o.p); dropped != 0 {
		return fmt.Errorf("metrics: merge histograms: %d values dropped (count overflow)", dropped)
	}
	return nil
}

// mergeDense adds a dense recording histogram to h.
func (h *Histogram) mergeDense(d *hdrhistogram.Histogram) error {
	h.init()
	if dropped := h.p.MergeFrom(d); dropped != 0 {
		return fmt.Errorf("metrics: merge stripe histogram: %d values dropped", dropped)
	}
	return nil
}

// Reset empties h, keeping its storage.
func (h *Histogram) Reset() {
	if h != nil && h.p != nil {
		h.p.Reset()
	}
}

// Clone returns an independent copy of h (an empty histogram for nil).
func (h *Histogram) Clone() *Histogram {
	if h == nil || h.p == nil {
		return NewHistogram()
	}
	return &Histogram{p: h.p.Clone()}
}

type bucket struct{ value, count int64 }

func (h *Histogram) buckets() []bucket {
	if h.Count() == 0 {
		return nil
	}
	var out []bucket
	h.p.ForEachBucket(func(v, c int64) bool {
		out = append(out, bucket{v, c})
		return true
	})
	return out
}

// Equal reports whether h and o hold exactly the same counts in the same
// buckets. Nil and empty histograms are equal.
func (h *Histogram) Equal(o *Histogram) bool {
	if h.Count() != o.Count() {
		return false
	}
	a, b := h.buckets(), o.buckets()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ForEachBucket calls fn for each populated bucket in ascending order, with
// the bucket's lowest value in µs and its count, until fn returns false. It
// is meant for drawing distributions.
func (h *Histogram) ForEachBucket(fn func(valueUs, count int64) bool) {
	if h.Count() == 0 {
		return
	}
	h.p.ForEachBucket(fn)
}

// Percentile returns the value in µs at or below which the given percentage
// (0..100) of the values fall, as HDR reports it (the highest value
// equivalent to the bucket). It is 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) int64 {
	if h.Count() == 0 {
		return 0
	}
	return h.p.ValueAtPercentile(p)
}

// Percentiles returns Percentile for each of ps in one pass.
func (h *Histogram) Percentiles(ps ...float64) []int64 {
	if h.Count() == 0 {
		return make([]int64, len(ps))
	}
	return h.p.ValueAtPercentilesSlice(ps)
}

// LatencyStats summarises a latency distribution. All values are in
// microseconds; every field is 0 when Count is 0.
type LatencyStats struct {
	// Count is the number of values.
	Count int64 `json:"count"`
	// Min and Max are the extremes (to HDR precision).
	Min int64 `json:"min_us"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean_us"`
	// P50 … P9999 are the 50th, 90th, 99th, 99.9th and 99.99th percentiles.
	P50   int64 `json:"p50_us"`
	P90   int64 `json:"p90_us"`
	P99   int64 `json:"p99_us"`
	P999  int64 `json:"p999_us"`
	P9999 int64 `json:"p9999_us"`
	Max   int64 `json:"max_us"`
}

// Stats returns the summary of h.
func (h *Histogram) Stats() LatencyStats {
	n := h.Count()
	if n == 0 {
		return LatencyStats{}
	}
	ps := h.p.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9, 99.99})
	return LatencyStats{
		Count: n,
		Min:   h.p.Min(),
		Mean:  h.p.Mean(),
		P50:   ps[0],
		P90:   ps[1],
		P99:   ps[2],
		P999:  ps[3],
		P9999: ps[4],
		Max:   h.p.Max(),
	}
}

// MemoryBytes estimates the memory h holds.
func (h *Histogram) MemoryBytes() int {
	if h == nil || h.p == nil {
		return 0
	}
	return h.p.GetMemorySize()
}

// Encode returns the base64 HDR V2 compressed encoding of h.
func (h *Histogram) Encode() (string, error) {
	b, err := h.MarshalText()
	return string(b), err
}

// MarshalText implements encoding.TextMarshaler with the base64 HDR V2
// compressed encoding.
func (h *Histogram) MarshalText() ([]byte, error) {
	p := newPacked()
	if h != nil && h.p != nil {
		p = h.p
	}
	b, err := p.Encode()
	if err != nil {
		return nil, fmt.Errorf("metrics: encode histogram: %w", err)
	}
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler. The encoding must have
// the standard geometry (1 µs – 1 h, 3 digits); anything else is rejected
// rather than silently re-bucketed.
func (h *Histogram) UnmarshalText(text []byte) error {
	p, err := hdrhistogram.DecodePacked(text)
	if err != nil {
		return fmt.Errorf("metrics: decode histogram: %w", err)
	}
	if p.LowestTrackableValue() != LowestUs || p.HighestTrackableValue() != HighestUs || p.SignificantFigures() != SignificantDigits {
		return fmt.Errorf("metrics: decode histogram: geometry %d..%d with %d digits, want %d..%d with %d",
			p.LowestTrackableValue(), p.HighestTrackableValue(), p.SignificantFigures(), LowestUs, HighestUs, SignificantDigits)
	}
	if p.TotalCount() == math.MaxInt64 {
		return errors.New("metrics: decode histogram: total count saturated")
	}
	h.p = p
	return nil
}

// DecodeHistogram decodes the base64 HDR V2 compressed encoding produced by
// Encode.
func DecodeHistogram(s string) (*Histogram, error) {
	h := new(Histogram)
	if err := h.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return h, nil
}
