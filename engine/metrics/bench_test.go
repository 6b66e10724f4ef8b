package metrics

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func prepareAll(b *testing.B, r *Recorder) {
	b.Helper()
	for s := 0; s < numSlots; s++ {
		k, q := slotKind(s)
		if err := r.Prepare(k, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecord is one goroutine recording e2e latencies.
func BenchmarkRecord(b *testing.B) {
	r := newTestRecorder(b, 16, nil)
	prepareAll(b, r)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(E2E, 1, i, time.Duration(i&0xffff)*time.Microsecond)
	}
}

// BenchmarkRecordParallel records from GOMAXPROCS goroutines, each with its
// own stripe key, as devices do.
func BenchmarkRecordParallel(b *testing.B) {
	for _, stripes := range []int{1, 16} {
		b.Run(fmt.Sprintf("stripes=%d", stripes), func(b *testing.B) {
			r := newTestRecorder(b, stripes, nil)
			prepareAll(b, r)
			var keys atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := int(keys.Add(1))
				i := 0
				for pb.Next() {
					i++
					r.Record(E2E, 1, key, time.Duration(i&0xffff)*time.Microsecond)
				}
			})
		})
	}
}

// BenchmarkCountersParallel is the per-message counter updates of a receive.
func BenchmarkCountersParallel(b *testing.B) {
	r := newTestRecorder(b, 16, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.IncQoS(Received, 1)
			r.Add(BytesIn, 128)
		}
	})
}

// fill records n log-normal latencies per stripe into the hot slots of one
// QoS plus connect and subscribe.
func fill(r *Recorder, rng *rand.Rand, n int) {
	for s := 0; s < r.Stripes(); s++ {
		for i := 0; i < n; i++ {
			d := latency(rng)
			r.Record(E2E, 1, s, d)
			r.Record(PublishAck, 1, s, d/2)
			if i%16 == 0 {
				r.Record(Connect, 0, s, 5*d)
				r.Record(Subscribe, 1, s, d)
			}
		}
	}
}

// BenchmarkSnapshot is one interval snapshot of a 16-stripe recorder whose
// stripes each recorded 2000 e2e and publish-ack latencies (32k values per
// kind per interval), after 30 intervals of history.
func BenchmarkSnapshot(b *testing.B) {
	r := newTestRecorder(b, 16, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 30; i++ {
		fill(r, rng, 2000)
		r.Snapshot(true)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fill(r, rng, 2000)
		b.StartTimer()
		r.Snapshot(true)
	}
}

// BenchmarkSnapshotIdle is a snapshot with nothing recorded in the interval.
func BenchmarkSnapshotIdle(b *testing.B) {
	r := newTestRecorder(b, 16, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	fill(r, rng, 2000)
	r.Snapshot(true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Snapshot(true)
	}
}

func benchHistogram(b *testing.B, n int) *Histogram {
	rng := rand.New(rand.NewPCG(5, 6))
	h := NewHistogram()
	for i := 0; i < n; i++ {
		if err := h.Record(latency(rng).Microseconds()); err != nil {
			b.Fatal(err)
		}
	}
	return h
}

// BenchmarkHistogramEncode encodes a histogram of 1M log-normal latencies
// (HDR V2 compressed, base64).
func BenchmarkHistogramEncode(b *testing.B) {
	h := benchHistogram(b, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	var enc string
	for i := 0; i < b.N; i++ {
		var err error
		if enc, err = h.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	// After the loop: ResetTimer discards metrics reported before it.
	b.ReportMetric(float64(len(enc)), "encoded-bytes")
	b.ReportMetric(float64(h.MemoryBytes()), "sparse-bytes")
}

// BenchmarkHistogramDecode decodes the encoding of BenchmarkHistogramEncode.
func BenchmarkHistogramDecode(b *testing.B) {
	enc, err := benchHistogram(b, 1_000_000).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeHistogram(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStats computes the summary statistics of a 1M-value histogram.
func BenchmarkStats(b *testing.B) {
	h := benchHistogram(b, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.Stats()
	}
}

// BenchmarkResultMarshal encodes a result with 60 series points.
func BenchmarkResultMarshal(b *testing.B) {
	r := newTestRecorder(b, 16, nil)
	rng := rand.New(rand.NewPCG(7, 8))
	var series []SeriesPoint
	var s Snapshot
	for i := 0; i < 60; i++ {
		fill(r, rng, 200)
		s = r.Snapshot(true)
		series = append(series, s.Point(s.Began))
	}
	res := NewResult(&s, series)
	data, err := json.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := json.Marshal(res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "json-bytes")
}
