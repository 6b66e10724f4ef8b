package metrics

import (
	"testing"
	"time"
)

func FuzzDecodeHistogram(f *testing.F) {
	for _, vals := range [][]int64{nil, {1}, {0, 5, 1000, HighestUs}} {
		h := NewHistogram()
		for _, v := range vals {
			_ = h.Record(v)
		}
		enc, err := h.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add("HISTFAAAAB")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHistogram(s)
		if err != nil {
			return
		}
		_ = h.Stats()
		enc, err := h.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeHistogram(enc)
		if err != nil || !back.Equal(h) {
			t.Fatalf("re-decoding a decoded histogram failed: %v", err)
		}
	})
}

func FuzzUnmarshalResult(f *testing.F) {
	r := newTestRecorder(f, 2, nil)
	r.Record(E2E, 1, 0, time.Millisecond)
	r.IncQoS(Published, 1)
	s := r.Snapshot(true)
	data, err := NewResult(&s, []SeriesPoint{s.Point(s.Began)}).Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"schema":"fleetbench.result/v1"}`))
	f.Add([]byte(`{"schema":"fleetbench.result/v1","latency":{"e2e":{"count":1,"hdr":"x"}}}`))
	for _, h := range hostileResults {
		f.Add([]byte(h.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalResult(data)
		if err != nil {
			return
		}
		if _, err := r.Marshal(); err != nil {
			t.Fatal(err)
		}
		if err := validateCounters(r); err != nil {
			t.Fatalf("a decoded result fails validation: %v", err)
		}
		_, _ = MergeResults(r, r)
	})
}
