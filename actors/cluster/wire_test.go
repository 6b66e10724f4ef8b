package cluster

import (
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// nodeSnapshot is a realistic interval of one node: n deliveries and n
// acks spread like a loaded broker's latencies, every counter set.
func nodeSnapshot(t testing.TB, n int) metrics.Snapshot {
	t.Helper()
	rec, err := metrics.NewRecorder(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		d := time.Duration(300_000+rng.ExpFloat64()*700_000) * time.Nanosecond
		rec.Record(metrics.E2E, 1, i, d)
		rec.Record(metrics.PublishAck, 1, i, d/2)
		rec.IncQoS(metrics.Published, 1)
		rec.IncQoS(metrics.Received, 1)
	}
	rec.Record(metrics.Connect, 0, 0, 2*time.Millisecond)
	rec.Add(metrics.Connected, 500)
	rec.ConnectFailed(metrics.ReasonTimeout)
	rec.IncQoS(metrics.Duplicates, 2)
	return rec.Snapshot(true)
}

// TestWireSnapshotRoundTrip: a snapshot survives the wire exactly:
// counters, interval counters, histograms and times.
func TestWireSnapshotRoundTrip(t *testing.T) {
	snap := nodeSnapshot(t, 5000)
	w, err := toWireSnapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(&remotepb.NodeReport{NodeName: "n", Seq: 1, Snapshot: w})
	if err != nil {
		t.Fatal(err)
	}
	var r remotepb.NodeReport
	if err := proto.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	got, err := fromWireSnapshot(r.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts != snap.Counts || got.Delta != snap.Delta {
		t.Fatalf("counters changed on the wire:\n%+v\n%+v", got.Counts, snap.Counts)
	}
	if !got.Interval.Equal(&snap.Interval) {
		t.Fatal("histograms changed on the wire")
	}
	if !got.Taken.Equal(snap.Taken) || !got.Start.Equal(snap.Start) || !got.Began.Equal(snap.Began) {
		t.Fatalf("times changed: %v %v %v", got.Began, got.Start, got.Taken)
	}
	if got.Interval.Count(metrics.E2E) != 5000 {
		t.Fatalf("e2e count %d", got.Interval.Count(metrics.E2E))
	}
	t.Logf("a node report of 5,000 deliveries is %d bytes", len(b))
}

// TestWireRejectsForeignShapes: counters of another shape (another
// version) and histograms of another geometry or kind are errors.
func TestWireRejectsForeignShapes(t *testing.T) {
	snap := nodeSnapshot(t, 10)
	good, err := toWireSnapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(w *remotepb.Snapshot){
		"short counters": func(w *remotepb.Snapshot) { w.Counts.Counter = w.Counts.Counter[:3] },
		"long qos":       func(w *remotepb.Snapshot) { w.Delta.Qos = append(w.Delta.Qos, 1) },
		"bad histogram":  func(w *remotepb.Snapshot) { w.Interval[0].Hdr = []byte("not hdr") },
		"bad kind":       func(w *remotepb.Snapshot) { w.Interval[0].Kind = 99 },
		"bad qos":        func(w *remotepb.Snapshot) { w.Interval[len(w.Interval)-1].Qos = 7 },
	} {
		w := proto.Clone(good).(*remotepb.Snapshot)
		mutate(w)
		if _, err := fromWireSnapshot(w); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := fromWireSnapshot(nil); err == nil {
		t.Error("nil snapshot accepted")
	}
}

// FuzzNodeReport: whatever arrives from the network, decoding a node
// report neither panics nor accepts a histogram of the wrong geometry.
func FuzzNodeReport(f *testing.F) {
	snap := nodeSnapshot(f, 100)
	w, err := toWireSnapshot(&snap)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := proto.Marshal(&remotepb.NodeReport{NodeName: "n", Seq: 1, Snapshot: w})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r remotepb.NodeReport
		if proto.Unmarshal(data, &r) != nil {
			return
		}
		s, err := fromWireSnapshot(r.Snapshot)
		if err != nil {
			return
		}
		var total metrics.Latencies
		if err := total.Merge(&s.Interval); err != nil {
			t.Fatalf("a decoded snapshot does not merge: %v", err)
		}
	})
}

// BenchmarkNodeReportEncode is a node's cost of its per-second report
// carrying 5,000 deliveries and 5,000 acks: HDR V2 compressed encoding
// (zlib at best compression, as the format prescribes) and protobuf.
func BenchmarkNodeReportEncode(b *testing.B) {
	snap := nodeSnapshot(b, 5000)
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		w, err := toWireSnapshot(&snap)
		if err != nil {
			b.Fatal(err)
		}
		buf, err := proto.Marshal(&remotepb.NodeReport{NodeName: "n", Snapshot: w})
		if err != nil {
			b.Fatal(err)
		}
		size = len(buf)
	}
	b.ReportMetric(float64(size), "bytes/report")
}

// BenchmarkClusterReport is the coordinator's cost of one node's
// per-second report (5,000 deliveries, 5,000 acks): unmarshal, decode
// the histograms, merge into the node's total and the interval being
// built. A coordinator of N nodes spends N times this per second.
func BenchmarkClusterReport(b *testing.B) {
	snap := nodeSnapshot(b, 5000)
	w, err := toWireSnapshot(&snap)
	if err != nil {
		b.Fatal(err)
	}
	buf, err := proto.Marshal(&remotepb.NodeReport{NodeName: "n", Snapshot: w})
	if err != nil {
		b.Fatal(err)
	}
	var total metrics.Latencies
	var pending metrics.Snapshot
	b.ReportAllocs()
	for b.Loop() {
		var r remotepb.NodeReport
		if err := proto.Unmarshal(buf, &r); err != nil {
			b.Fatal(err)
		}
		got, err := fromWireSnapshot(r.Snapshot)
		if err != nil {
			b.Fatal(err)
		}
		if err := total.Merge(&got.Interval); err != nil {
			b.Fatal(err)
		}
		if err := pending.Merge(&got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/report")
}

// TestWireCarriesEveryCounter: every counter, per-QoS counter, failure
// reason and QoS mismatch pair survives the wire with its own value.
func TestWireCarriesEveryCounter(t *testing.T) {
	var c metrics.Counts
	v := int64(1)
	next := func() int64 { v++; return v }
	for k := range c.Counter {
		c.Counter[k] = next()
	}
	for k := range c.QoS {
		for q := range c.QoS[k] {
			c.QoS[k][q] = next()
		}
	}
	for r := range c.ConnectFailed {
		c.ConnectFailed[r] = next()
	}
	for e := range c.QoSMismatch {
		for g := range c.QoSMismatch[e] {
			c.QoSMismatch[e][g] = next()
		}
	}
	b, err := proto.Marshal(toWireCounts(&c))
	if err != nil {
		t.Fatal(err)
	}
	var w remotepb.Counts
	if err := proto.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	got, err := fromWireCounts(&w)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("counters changed on the wire:\n%+v\n%+v", got, c)
	}
}

// TestWireGroupsCarryEveryColumn: every group column has its GroupCounts
// field and survives the wire with its own value.
func TestWireGroupsCarryEveryColumn(t *testing.T) {
	rec, err := metrics.NewRecorder(metrics.Options{Stripes: 1})
	if err != nil {
		t.Fatal(err)
	}
	gs := make([]metrics.GroupCounters, 2)
	tl := rec.Tally(metrics.Group(gs, 1))
	for k := metrics.Counter(0); k < metrics.NumCounters; k++ {
		tl.Add(k, 10+int64(k))
	}
	for k := metrics.QoSCounter(0); k < metrics.NumQoSCounters; k++ {
		tl.AddQoS(k, 1, 100+int64(k))
	}
	tl.ConnectFailed(metrics.ReasonTLS)
	want := gs[1].Result("g")
	for _, c := range metrics.GroupColumns() {
		if groupWireField(c) == nil {
			t.Errorf("group column %s has no GroupCounts field (add it to fleetbench_remote.proto)", c.Name)
		}
		if c.OfGroup(&want) == 0 {
			t.Errorf("group column %s: the test counts 0", c.Name)
		}
	}
	w := toWireGroups(gs)
	b, err := proto.Marshal(&remotepb.NodeReport{NodeName: "n", Groups: w})
	if err != nil {
		t.Fatal(err)
	}
	var r remotepb.NodeReport
	if err := proto.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Groups) != 2 {
		t.Fatalf("%d groups", len(r.Groups))
	}
	if got := fromWireGroup("g", r.Groups[1]); got != want {
		t.Fatalf("group line changed on the wire:\n%+v\n%+v", got, want)
	}
	if got := fromWireGroup("e", r.Groups[0]); got != (metrics.GroupResult{Name: "e"}) {
		t.Fatalf("empty group: %+v", got)
	}
}
