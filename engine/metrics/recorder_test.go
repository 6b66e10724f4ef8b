package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
)

func TestDefaultStripes(t *testing.T) {
	n := DefaultStripes()
	if n&(n-1) != 0 || n < 8 || n > maxDefaultStripes {
		t.Fatalf("DefaultStripes() = %d, want a power of two in 8..%d", n, maxDefaultStripes)
	}
}

func TestNewRecorderStripes(t *testing.T) {
	tests := []struct {
		in      int
		want    int
		wantErr bool
	}{
		{in: 0, want: DefaultStripes()},
		{in: 1, want: 1},
		{in: 3, want: 4},
		{in: 16, want: 16},
		{in: 17, want: 32},
		{in: MaxStripes, want: MaxStripes},
		{in: MaxStripes + 1, wantErr: true},
		{in: -1, wantErr: true},
	}
	for _, tt := range tests {
		r, err := NewRecorder(Options{Stripes: tt.in})
		if tt.wantErr {
			if err == nil {
				t.Errorf("NewRecorder(%d): no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewRecorder(%d): %v", tt.in, err)
			continue
		}
		if got := r.Stripes(); got != tt.want {
			t.Errorf("NewRecorder(%d).Stripes() = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestRecordClamping(t *testing.T) {
	tests := []struct {
		name          string
		d             time.Duration
		wantUs        int64 // lowest value of the bucket it lands in
		wantSaturated int64
		wantNegative  int64
	}{
		{"zero", 0, 0, 0, 0},
		{"sub-microsecond truncates to 0", 999 * time.Nanosecond, 0, 0, 0},
		{"one microsecond", time.Microsecond, 1, 0, 0},
		{"1234 µs", 1234 * time.Microsecond, 1234, 0, 0},
		{"exactly one hour", time.Hour, HighestUs, 0, 0},
		{"one hour and a microsecond", time.Hour + time.Microsecond, HighestUs, 1, 0},
		{"a day", 24 * time.Hour, HighestUs, 1, 0},
		{"max duration", time.Duration(1<<63 - 1), HighestUs, 1, 0},
		{"negative", -5 * time.Millisecond, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRecorder(t, 4, nil)
			r.Record(E2E, 1, 0, tt.d)
			s := r.Snapshot(false)
			h := s.Total.Get(E2E, 1)
			if h.Count() != 1 {
				t.Fatalf("count = %d, want 1", h.Count())
			}
			want := NewHistogram()
			if err := want.Record(tt.wantUs); err != nil {
				t.Fatal(err)
			}
			if !h.Equal(want) {
				t.Errorf("recorded %v as %+v, want bucket of %d µs", tt.d, h.Stats(), tt.wantUs)
			}
			if got := s.Counts.Get(LatencySaturated); got != tt.wantSaturated {
				t.Errorf("saturated = %d, want %d", got, tt.wantSaturated)
			}
			if got := s.Counts.Get(LatencyNegative); got != tt.wantNegative {
				t.Errorf("negative = %d, want %d", got, tt.wantNegative)
			}
		})
	}
}

func TestRecordInvalidKindOrQoS(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		qos  int
		ok   bool
	}{
		{"connect ignores qos", Connect, 7, true},
		{"connect negative qos", Connect, -1, true},
		{"e2e qos 2", E2E, 2, true},
		{"e2e qos 3", E2E, 3, false},
		{"subscribe qos -1", Subscribe, -1, false},
		{"unknown kind", NumKinds, 0, false},
		{"huge kind", Kind(200), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRecorder(t, 2, nil)
			r.Record(tt.kind, tt.qos, -12345, time.Millisecond) // negative stripe keys are fine
			s := r.Snapshot(true)
			var n int64
			for k := Connect; k < NumKinds; k++ {
				n += s.Total.Count(k)
			}
			dropped := s.Counts.Get(LatencyDropped)
			if tt.ok && (n != 1 || dropped != 0) {
				t.Errorf("recorded %d, dropped %d; want 1, 0", n, dropped)
			}
			if !tt.ok && (n != 0 || dropped != 1) {
				t.Errorf("recorded %d, dropped %d; want 0, 1", n, dropped)
			}
		})
	}
}

func TestCountersIgnoreInvalid(t *testing.T) {
	r := newTestRecorder(t, 1, nil)
	r.Add(NumCounters, 1)
	r.AddQoS(NumQoSCounters, 0, 1)
	r.AddQoS(Published, 3, 1)
	r.AddQoS(Published, -1, 1)
	r.ConnectFailed(FailReason(99))
	c := r.Snapshot(false).Counts
	if c.ConnectFailed[ReasonOther] != 1 {
		t.Errorf("unknown reason counted as %v, want other=1", c.ConnectFailed)
	}
	c.ConnectFailed[ReasonOther] = 0
	if c != (Counts{}) {
		t.Errorf("invalid counters changed counts: %+v", c)
	}
	if r.Get(NumCounters) != 0 || r.GetQoS(Published, 5) != 0 {
		t.Error("Get of invalid counter not 0")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := newTestRecorder(t, 16, nil)
	for k := Connect; k < NumKinds; k++ {
		for q := 0; q < NumQoS; q++ {
			if err := r.Prepare(k, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	i := 0
	tests := []struct {
		name string
		fn   func()
	}{
		{"Record", func() { i++; r.Record(E2E, i%NumQoS, i, time.Duration(i)*time.Microsecond) }},
		{"Record saturated", func() { r.Record(PublishAck, 1, i, 2*time.Hour) }},
		{"Record invalid", func() { r.Record(Kind(99), 1, i, time.Millisecond) }},
		{"Inc", func() { r.Inc(ConnectOK) }},
		{"Add", func() { r.Add(Connected, -1) }},
		{"IncQoS", func() { r.IncQoS(Received, 2) }},
		{"ConnectFailed", func() { r.ConnectFailed(ReasonTimeout) }},
	}
	for _, tt := range tests {
		if a := testing.AllocsPerRun(1000, tt.fn); a != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, a)
		}
	}
	// Without Prepare only a slot's first use in a stripe allocates.
	r2 := newTestRecorder(t, 4, nil)
	if a := testing.AllocsPerRun(1000, func() { r2.Record(Connect, 0, 3, time.Millisecond) }); a != 0 {
		t.Errorf("Record after warm-up: %v allocs, want 0", a)
	}
	if err := r.Prepare(E2E, 3); err == nil {
		t.Error("Prepare(E2E, 3): no error")
	}
}

func TestSnapshotIntervalsAndTotals(t *testing.T) {
	clock := hal.NewFakeClock(testStart)
	r := newTestRecorder(t, 8, clock)
	began := clock.Now()

	record := func(n int, us int64) {
		for i := 0; i < n; i++ {
			r.Record(PublishAck, 1, i, time.Duration(us)*time.Microsecond)
			r.IncQoS(Published, 1)
		}
	}
	steps := []struct {
		n             int
		reset         bool
		wantInterval  int64
		wantTotal     int64
		wantDeltaPubs int64
		wantStart     time.Duration // after began
	}{
		{n: 10, reset: true, wantInterval: 10, wantTotal: 10, wantDeltaPubs: 10, wantStart: 0},
		{n: 5, reset: false, wantInterval: 5, wantTotal: 15, wantDeltaPubs: 5, wantStart: time.Second},
		{n: 2, reset: true, wantInterval: 7, wantTotal: 17, wantDeltaPubs: 7, wantStart: time.Second},
		{n: 0, reset: true, wantInterval: 0, wantTotal: 17, wantDeltaPubs: 0, wantStart: 3 * time.Second},
	}
	for i, st := range steps {
		record(st.n, int64(100*(i+1)))
		clock.Advance(time.Second)
		s := r.Snapshot(st.reset)
		if got := s.Interval.Count(PublishAck); got != st.wantInterval {
			t.Errorf("step %d: interval count %d, want %d", i, got, st.wantInterval)
		}
		if got := s.Total.Count(PublishAck); got != st.wantTotal {
			t.Errorf("step %d: total count %d, want %d", i, got, st.wantTotal)
		}
		if got := s.Delta.GetQoS(Published, 1); got != st.wantDeltaPubs {
			t.Errorf("step %d: delta published %d, want %d", i, got, st.wantDeltaPubs)
		}
		if got := s.Counts.Sum(Published); got != st.wantTotal {
			t.Errorf("step %d: published %d, want %d", i, got, st.wantTotal)
		}
		if !s.Began.Equal(began) || !s.Start.Equal(began.Add(st.wantStart)) || !s.Taken.Equal(clock.Now()) {
			t.Errorf("step %d: began %v start %v taken %v", i, s.Began, s.Start, s.Taken)
		}
	}
}

// TestSnapshotIsIndependent checks that a snapshot does not change when the
// recorder goes on.
func TestSnapshotIsIndependent(t *testing.T) {
	r := newTestRecorder(t, 2, nil)
	r.Record(E2E, 0, 0, time.Millisecond)
	s := r.Snapshot(true)
	before := s.Total.Get(E2E, 0).Stats()
	for i := 0; i < 100; i++ {
		r.Record(E2E, 0, i, time.Second)
	}
	r.Snapshot(true)
	if after := s.Total.Get(E2E, 0).Stats(); after != before {
		t.Errorf("snapshot changed: %+v → %+v", before, after)
	}
}

// TestConcurrentRecordAndSnapshot records from many goroutines while
// snapshots are taken: no value is lost or counted twice.
func TestConcurrentRecordAndSnapshot(t *testing.T) {
	const (
		workers = 8
		perG    = 20000
	)
	r := newTestRecorder(t, 4, nil)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				r.Record(E2E, i%NumQoS, g*perG+i, time.Duration(i%5000+1)*time.Microsecond)
				r.IncQoS(Received, i%NumQoS)
				if i%10 == 0 {
					r.Record(Connect, 0, g, time.Millisecond)
				}
			}
		}(g)
	}
	done := make(chan struct{})
	var intervalSum, deltaSum int64
	snaps := make(chan struct{})
	go func() {
		defer close(snaps)
		for {
			s := r.Snapshot(true)
			intervalSum += s.Interval.Count(E2E)
			deltaSum += s.Delta.Sum(Received)
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(done)
	<-snaps
	final := r.Snapshot(true)
	intervalSum += final.Interval.Count(E2E)
	deltaSum += final.Delta.Sum(Received)
	const want = workers * perG
	if got := final.Total.Count(E2E); got != want {
		t.Errorf("total count %d, want %d", got, want)
	}
	if got := final.Total.Count(Connect); got != want/10 {
		t.Errorf("connect count %d, want %d", got, want/10)
	}
	if intervalSum != want || deltaSum != want {
		t.Errorf("sum of intervals %d, of deltas %d, want %d", intervalSum, deltaSum, want)
	}
}

func TestRecorderMemory(t *testing.T) {
	dense := newDense().ByteSize()
	tests := []struct {
		name    string
		stripes int
		slots   [][2]int // kind, qos prepared
	}{
		{"empty 16 stripes", 16, nil},
		{"typical 16 stripes (connect, subscribe, publish_ack, e2e at one QoS)", 16, [][2]int{{0, 0}, {1, 1}, {2, 1}, {3, 1}}},
		{"every slot 16 stripes", 16, allSlots()},
		{"every slot 8 stripes", 8, allSlots()},
	}
	for _, tt := range tests {
		r := newTestRecorder(t, tt.stripes, nil)
		for _, s := range tt.slots {
			if err := r.Prepare(Kind(s[0]), s[1]); err != nil {
				t.Fatal(err)
			}
		}
		got := r.MemoryBytes()
		histograms := 0
		for _, s := range tt.slots {
			if Kind(s[0]).striped() {
				histograms += tt.stripes // striped
			} else {
				histograms++ // one shared set
			}
		}
		if histograms > 0 {
			histograms++ // the spare
		}
		min := histograms * dense
		if got < min || got > min+64<<10 {
			t.Errorf("%s: MemoryBytes = %d, want about %d", tt.name, got, min)
		}
		t.Logf("%s: %d bytes (%.1f MiB); one dense histogram is %d bytes", tt.name, got, float64(got)/(1<<20), dense)
	}
}

func allSlots() [][2]int {
	var out [][2]int
	for s := 0; s < numSlots; s++ {
		k, q := slotKind(s)
		out = append(out, [2]int{int(k), q})
	}
	return out
}

func TestSlots(t *testing.T) {
	seen := map[string]bool{}
	for s := 0; s < numSlots; s++ {
		k, q := slotKind(s)
		if got, ok := slotOf(k, q); !ok || got != s {
			t.Errorf("slotOf(slotKind(%d)) = %d, %v", s, got, ok)
		}
		name := slotName(s)
		if seen[name] {
			t.Errorf("duplicate slot name %q", name)
		}
		seen[name] = true
		if got, ok := slotByName(name); !ok || got != s {
			t.Errorf("slotByName(%q) = %d, %v", name, got, ok)
		}
	}
	if _, ok := slotByName("e2e/3"); ok {
		t.Error(`slotByName("e2e/3") found`)
	}
	if Connect.PerQoS() || !E2E.PerQoS() || NumKinds.PerQoS() {
		t.Error("PerQoS wrong")
	}
}

func TestNames(t *testing.T) {
	check := func(kind string, n int, name func(int) string) {
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			s := name(i)
			if s == "" || seen[s] {
				t.Errorf("%s %d: empty or duplicate name %q", kind, i, s)
			}
			seen[s] = true
		}
		if s := name(n); s == "" {
			t.Errorf("%s: no name for out-of-range value", kind)
		}
	}
	check("Kind", int(NumKinds), func(i int) string { return Kind(i).String() })
	check("Counter", int(NumCounters), func(i int) string { return Counter(i).String() })
	check("QoSCounter", int(NumQoSCounters), func(i int) string { return QoSCounter(i).String() })
	check("FailReason", int(NumFailReasons), func(i int) string { return FailReason(i).String() })
}
