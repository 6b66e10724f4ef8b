package actors

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name           string
		seqs           []uint32
		dups, reorders int
	}{
		{"in order", []uint32{0, 1, 2, 3}, 0, 0},
		{"gap is not reorder", []uint32{0, 1, 5, 6}, 0, 0},
		{"late arrival", []uint32{0, 2, 1, 3}, 0, 1},
		{"duplicate", []uint32{0, 1, 1, 2}, 1, 0},
		{"duplicate of late", []uint32{0, 2, 1, 1}, 1, 1},
		{"duplicate of first", []uint32{5, 5}, 1, 0},
		{"late after a long gap", []uint32{0, 100, 1}, 0, 1},
		{"edge of the old window", []uint32{0, 63, 0}, 1, 0},
		{"duplicate 100 numbers back", append(seqRange(0, 200), 100), 1, 0},
		{"duplicate 10,000 numbers back", append(seqRange(0, 10001), 3), 1, 0},
		{"late, then its duplicate, far back", append(append(seqRange(0, 50), seqRange(51, 500)...), 50, 50), 1, 1},
		{"first arrival after a late start", []uint32{10, 11, 3}, 0, 1},
		{"duplicate of a late start", []uint32{10, 11, 3, 3}, 1, 1},
		{"big jump", []uint32{0, 1 << 31, 1<<31 - 1}, 0, 1},
	}
	for _, tt := range tests {
		var tr seqTracker
		dups, reorders := 0, 0
		for _, s := range tt.seqs {
			d, r := tr.observe(s)
			if d {
				dups++
			}
			if r {
				reorders++
			}
		}
		if dups != tt.dups || reorders != tt.reorders {
			t.Errorf("%s: dups %d reorders %d, want %d %d", tt.name, dups, reorders, tt.dups, tt.reorders)
		}
	}
}

func seqRange(lo, hi uint32) []uint32 {
	var out []uint32
	for s := lo; s < hi; s++ {
		out = append(out, s)
	}
	return out
}

// TestSeqTrackerMatchesReference replays random streams (loss, late
// arrivals, duplicates at any distance) against a set of every number
// seen: while fewer than maxGaps runs are missing, the tracker is exact.
func TestSeqTrackerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var tr seqTracker
		seen := map[uint32]bool{}
		var max uint32
		n := 50 + rng.IntN(3000)
		for i := 0; i < n; i++ {
			var seq uint32
			switch r := rng.IntN(10); {
			case r < 6 || max == 0:
				seq = max + 1 + uint32(rng.IntN(3)) // in order or a short gap
			case r < 8:
				seq = uint32(rng.IntN(int(max) + 1)) // anything back: late or duplicate
			default:
				seq = max - uint32(rng.IntN(int(min(max, 5))+1)) // recent
			}
			wantDup := seen[seq]
			wantLate := !wantDup && len(seen) > 0 && seq < max
			dup, late := tr.observe(seq)
			if len(tr.gaps) >= maxGaps {
				break // beyond the bound the tracker may forget; tested apart
			}
			if dup != wantDup || late != wantLate {
				t.Fatalf("round %d step %d seq %d (max %d): dup %v late %v, want %v %v", round, i, seq, max, dup, late, wantDup, wantLate)
			}
			seen[seq] = true
			if seq > max || len(seen) == 1 {
				max = seq
			}
		}
	}
}

// TestSeqTrackerBounded loses every other message for a long stream: the
// tracker keeps at most maxGaps ranges, and an arrival in a forgotten
// range is a late arrival, never a duplicate.
func TestSeqTrackerBounded(t *testing.T) {
	var tr seqTracker
	for s := uint32(0); s < 100000; s += 2 {
		if d, _ := tr.observe(s); d {
			t.Fatalf("seq %d: duplicate", s)
		}
	}
	if len(tr.gaps) > maxGaps || cap(tr.gaps) > 2*maxGaps+1 {
		t.Fatalf("%d gaps (cap %d), want at most %d", len(tr.gaps), cap(tr.gaps), maxGaps)
	}
	if d, late := tr.observe(1); d || !late {
		t.Fatalf("forgotten seq 1: dup %v late %v, want a late first arrival", d, late)
	}
	if d, late := tr.observe(99997); d || !late {
		t.Fatalf("remembered seq 99997: dup %v late %v, want a late first arrival", d, late)
	}
	if d, _ := tr.observe(99997); !d {
		t.Fatal("second 99997 not a duplicate")
	}
}

func TestReceiverStreams(t *testing.T) {
	var r receiverStreams
	a, b := streamKey{1, 0}, streamKey{2, 0}
	r.observe(a, 0)
	r.observe(b, 0)
	if d, _ := r.observe(a, 0); !d {
		t.Fatal("stream a lost its state")
	}
	if d, _ := r.observe(b, 1); d {
		t.Fatal("stream b confused with a")
	}
	r.observe(b, 3)
	if _, late := r.observe(b, 2); !late {
		t.Fatal("late arrival on stream b not seen")
	}
	if len(r.more) != 1 {
		t.Fatalf("%d spilled streams, want 1", len(r.more))
	}
}

// BenchmarkReceiverStreams measures what tracking costs a fan-in consumer
// of 10,000 publishers: bytes per stream and time per arrival.
func BenchmarkReceiverStreams(b *testing.B) {
	const publishers = 10000
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	r := &receiverStreams{}
	for p := uint32(0); p < publishers; p++ {
		r.observe(streamKey{publisher: p}, 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	perStream := float64(ms1.HeapAlloc-ms0.HeapAlloc) / publishers
	b.ReportAllocs()
	b.ResetTimer()
	seq := uint32(1)
	for i := 0; b.Loop(); i++ {
		p := uint32(i % publishers)
		if p == 0 {
			seq++
		}
		r.observe(streamKey{publisher: p}, seq)
	}
	runtime.KeepAlive(r)
	b.ReportMetric(perStream, "bytes/stream")
}
