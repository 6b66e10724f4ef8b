package metrics

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEndpointTally counts events through tallies on two endpoints and
// checks that the endpoint lines add up to the recorder's counters.
func TestEndpointTally(t *testing.T) {
	rec, err := NewRecorder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	eps := NewEndpointCounters(2)
	urls := []string{"mqtt://a:1", "mqtt://b:1"}
	for i := range 10 {
		e := &eps[i%2]
		e.Assign()
		tl := rec.Tally(nil).WithEndpoint(e)
		tl.Inc(ConnectOK)
		tl.Record(Connect, 0, i, time.Duration(i+1)*time.Millisecond)
		tl.IncQoS(Published, 1)
		if i%2 == 1 {
			tl.IncQoS(Acked, 1)
			tl.Record(PublishAck, 1, i, 50*time.Millisecond)
		}
		if i == 3 {
			tl.ConnectFailed(ReasonNetwork)
			e.Failover(0)
		}
	}
	rs := EndpointResults(eps, urls)
	if len(rs) != 2 {
		t.Fatalf("results = %+v", rs)
	}
	c := rec.set.load()
	var dev, ok, pub, acked, failed, connects int64
	for _, r := range rs {
		dev, ok, pub, acked, failed = dev+r.Devices, ok+r.ConnectOK, pub+r.Published, acked+r.Acked, failed+r.ConnectFailed
		connects += r.Connect.Count
	}
	if dev != 10 || ok != c.Get(ConnectOK) || pub != c.Sum(Published) || acked != c.Sum(Acked) || failed != c.ConnectFailedTotal() || connects != 10 {
		t.Errorf("sums dev %d ok %d pub %d acked %d failed %d connects %d; recorder ok %d pub %d acked %d failed %d",
			dev, ok, pub, acked, failed, connects, c.Get(ConnectOK), c.Sum(Published), c.Sum(Acked), c.ConnectFailedTotal())
	}
	b := rs[1]
	if b.Acked != 5 || b.PublishAck.Count != 5 || rs[0].PublishAck.Count != 0 || b.ConnectFailedByReason["network"] != 1 || b.Failovers["mqtt://a:1"] != 1 {
		t.Errorf("endpoint b = %+v", b)
	}
	if b.PublishAck.P50 < 49_000 || b.PublishAck.P50 > 51_000 {
		t.Errorf("endpoint b publish_ack p50 = %d µs, want about 50 ms", b.PublishAck.P50)
	}

	// Two nodes' lines merge by URL, exactly, through JSON.
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var again []EndpointResult
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	m, err := MergeEndpoints(rs, again)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[1].Devices != 10 || m[1].Acked != 10 || m[1].PublishAck.Count != 10 || m[0].Connect.Count != 10 ||
		m[1].Failovers["mqtt://a:1"] != 2 || rs[1].Failovers["mqtt://a:1"] != 1 {
		t.Errorf("merged = %+v (inputs must stay as they were: %+v)", m, rs[1])
	}
}
