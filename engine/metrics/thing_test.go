package metrics

import (
	"encoding/json"
	"testing"
	"time"
)

func TestNewKindsNamesAndSlots(t *testing.T) {
	for _, tc := range []struct {
		k    Kind
		name string
	}{{ThingReply, "thing_reply"}, {RRPC, "rrpc"}} {
		if got := tc.k.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.k, got, tc.name)
		}
		if !tc.k.PerQoS() || !tc.k.striped() {
			t.Errorf("%s: want per-QoS and striped", tc.k)
		}
		for q := 0; q < NumQoS; q++ {
			s, ok := slotOf(tc.k, q)
			if !ok {
				t.Fatalf("slotOf(%s, %d) not ok", tc.k, q)
			}
			if k, qq := slotKind(s); k != tc.k || qq != q {
				t.Errorf("slotKind(slotOf(%s,%d)) = %s,%d", tc.k, q, k, qq)
			}
		}
	}
}

// TestThingReplyAndRRPCInResult records both kinds and the reply codes and
// checks that the result carries them and survives a JSON round trip.
func TestThingReplyAndRRPCInResult(t *testing.T) {
	rec, err := NewRecorder(Options{Stripes: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		rec.Record(ThingReply, 1, i, time.Duration(i+1)*time.Millisecond)
		rec.Inc(ThingPosts)
	}
	for i := 0; i < 3; i++ {
		rec.Record(RRPC, 0, i, 5*time.Millisecond)
		rec.Inc(RRPCCalls)
	}
	rec.Inc(RRPCCalls)
	rec.Inc(RRPCTimeouts)
	rec.CountReason(ReplyCodePacket, ReplyCodeName(200))
	rec.CountReason(ReplyCodePacket, ReplyCodeName(200))
	rec.CountReason(ReplyCodePacket, ReplyCodeName(460))
	snap := rec.Snapshot(false)
	res := NewResult(&snap, nil)
	res.ReasonCodes = rec.Reasons()
	if got := res.Latency.ThingReply.Count; got != 7 {
		t.Errorf("thing_reply count %d, want 7", got)
	}
	if got := res.LatencyByQoS["1"].ThingReply.Count; got != 7 {
		t.Errorf("thing_reply QoS 1 count %d, want 7", got)
	}
	if got := res.Latency.RRPC.Count; got != 3 {
		t.Errorf("rrpc count %d, want 3", got)
	}
	if res.Totals.ThingPosts != 7 || res.Totals.RRPCCalls != 4 || res.Totals.RRPCTimeouts != 1 {
		t.Errorf("totals %+v", res.Totals)
	}
	codes := res.ReplyCodes()
	if codes["200"] != 2 || codes["460"] != 1 || len(codes) != 2 {
		t.Errorf("reply codes %v", codes)
	}
	if res.ReplyErrors() != 1 {
		t.Errorf("reply errors %d, want 1", res.ReplyErrors())
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalResult(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Latency.ThingReply.Count != 7 || back.Latency.RRPC.Count != 3 || back.Totals.RRPCTimeouts != 1 {
		t.Errorf("after round trip: %+v %+v", back.Latency.ThingReply.Count, back.Totals)
	}
	merged, err := MergeResults(res, back)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Latency.ThingReply.Count != 14 || merged.ReplyCodes()["200"] != 4 {
		t.Errorf("merged: thing_reply %d, codes %v", merged.Latency.ThingReply.Count, merged.ReplyCodes())
	}
}
