package metrics

import (
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func histOf(t testing.TB, values ...int64) *Histogram {
	t.Helper()
	h := NewHistogram()
	for _, v := range values {
		if err := h.Record(v); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestHistogramStats(t *testing.T) {
	seq := make([]int64, 1000)
	for i := range seq {
		seq[i] = int64(i + 1) // 1..1000 µs: exact at 3 digits
	}
	tests := []struct {
		name   string
		values []int64
		want   LatencyStats
	}{
		{"empty", nil, LatencyStats{}},
		{"single", []int64{42}, LatencyStats{Count: 1, Min: 42, Mean: 42, P50: 42, P90: 42, P99: 42, P999: 42, P9999: 42, Max: 42}},
		{"1..1000", seq, LatencyStats{Count: 1000, Min: 1, Mean: 500.5, P50: 500, P90: 900, P99: 990, P999: 999, P9999: 1000, Max: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := histOf(t, tt.values...).Stats(); got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
		})
	}
	var nilHist *Histogram
	if nilHist.Stats() != (LatencyStats{}) || nilHist.Count() != 0 || nilHist.Percentile(99) != 0 {
		t.Error("nil histogram does not read as empty")
	}
}

// TestHistogramPrecision checks the 3-digit promise across the range.
func TestHistogramPrecision(t *testing.T) {
	for _, v := range []int64{1, 999, 1_000, 12_345, 1_000_000, 123_456_789, HighestUs} {
		h := histOf(t, v)
		got := h.Percentile(50)
		if diff := float64(got-v) / float64(v); diff < 0 || diff > 0.001 {
			t.Errorf("value %d reads back as %d (relative error %.5f)", v, got, diff)
		}
	}
}

func TestHistogramRecordRange(t *testing.T) {
	var h Histogram // the zero value works
	for _, tt := range []struct {
		v  int64
		ok bool
	}{{0, true}, {HighestUs, true}, {HighestUs + 1, false}, {-1, false}} {
		if err := h.Record(tt.v); (err == nil) != tt.ok {
			t.Errorf("Record(%d) error = %v, want ok=%v", tt.v, err, tt.ok)
		}
	}
	var nilHist *Histogram
	if err := nilHist.Record(1); err == nil {
		t.Error("Record into nil histogram: no error")
	}
	if err := nilHist.Merge(histOf(t, 1)); err == nil {
		t.Error("Merge into nil histogram: no error")
	}
}

func TestHistogramEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := NewHistogram()
	for i := 0; i < 100000; i++ {
		if err := big.Record(latency(rng).Microseconds()); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		h    *Histogram
	}{
		{"empty", NewHistogram()},
		{"zero value", &Histogram{}},
		{"single", histOf(t, 1234)},
		{"extremes", histOf(t, 0, 1, HighestUs, HighestUs)},
		{"log-normal 100k", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := tt.h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			dec, err := DecodeHistogram(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !dec.Equal(tt.h) || dec.Stats() != tt.h.Stats() {
				t.Errorf("round trip changed the histogram: %+v → %+v", tt.h.Stats(), dec.Stats())
			}
			again, err := dec.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if again != enc {
				t.Error("re-encoding differs")
			}
			// The encoding is the standard one: the reference dense decoder
			// reads it.
			ref, err := hdrhistogram.Decode([]byte(enc))
			if err != nil {
				t.Fatalf("hdrhistogram.Decode: %v", err)
			}
			if ref.TotalCount() != tt.h.Count() || ref.ValueAtPercentile(99) != tt.h.Percentile(99) {
				t.Errorf("reference decoder disagrees: count %d p99 %d", ref.TotalCount(), ref.ValueAtPercentile(99))
			}
			t.Logf("%s: %d bytes encoded", tt.name, len(enc))
		})
	}
}

func TestDecodeHistogramErrors(t *testing.T) {
	other := hdrhistogram.New(1, 60_000_000, 2)
	other.RecordValue(5)
	otherEnc, err := other.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := histOf(t, 5).Encode()
	raw, _ := base64.StdEncoding.DecodeString(good)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "decode histogram"},
		{"not base64", "!!!", "decode histogram"},
		{"short", base64.StdEncoding.EncodeToString([]byte{1, 2}), "decode histogram"},
		{"truncated", base64.StdEncoding.EncodeToString(raw[:len(raw)-4]), "decode histogram"},
		{"other geometry", string(otherEnc), "geometry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeHistogram(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHistogramMergeAndEqual(t *testing.T) {
	a, b := histOf(t, 1, 2, 3), histOf(t, 3, 4, 5000)
	m := a.Clone()
	if err := m.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !m.Equal(histOf(t, 1, 2, 3, 3, 4, 5000)) {
		t.Errorf("merge = %+v", m.Stats())
	}
	if a.Count() != 3 || b.Count() != 3 {
		t.Error("merge changed its inputs")
	}
	if err := m.Merge(nil); err != nil || m.Count() != 6 {
		t.Errorf("merge of nil: %v, count %d", err, m.Count())
	}
	if a.Equal(b) || !NewHistogram().Equal(nil) || !(&Histogram{}).Equal(NewHistogram()) {
		t.Error("Equal wrong")
	}
	var buckets int
	m.ForEachBucket(func(v, c int64) bool { buckets++; return true })
	if buckets != 5 {
		t.Errorf("ForEachBucket visited %d buckets, want 5", buckets)
	}
	m.Reset()
	if m.Count() != 0 {
		t.Error("Reset left values")
	}
}

func TestLatenciesJSONRoundTrip(t *testing.T) {
	var l Latencies
	l.slots[0] = histOf(t, 10, 20)
	l.slots[5] = histOf(t, 999)
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var back Latencies
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Equal(&l) {
		t.Errorf("round trip differs: %s", data)
	}
	for _, bad := range []string{`{"e2e/9":"x"}`, `{"connect":"!!"}`, `[1]`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s): no error", bad)
		}
	}
}

func TestCountsJSONRoundTrip(t *testing.T) {
	var c Counts
	for i := range c.Counter {
		c.Counter[i] = int64(i + 1)
	}
	for i := range c.QoS {
		for q := range c.QoS[i] {
			c.QoS[i][q] = int64(100*i + q)
		}
	}
	for i := range c.ConnectFailed {
		c.ConnectFailed[i] = int64(1000 + i)
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Counts
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back != c {
		t.Errorf("round trip differs:\n%+v\n%+v", c, back)
	}
	for _, bad := range []string{
		`{"counters":{"nope":1}}`,
		`{"qos":{"nope":[1,2,3]}}`,
		`{"connect_failed":{"nope":1}}`,
		`{"counters":[]}`,
	} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s): no error", bad)
		}
	}
}
