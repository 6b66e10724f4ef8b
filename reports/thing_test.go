package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// thingResult is a run with thing-model replies (QoS 1) and RRPC calls,
// some timed out, and two reply codes.
func thingResult(t *testing.T) *metrics.Result {
	t.Helper()
	rec, err := metrics.NewRecorder(metrics.Options{Stripes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		rec.Record(metrics.ThingReply, 1, 0, time.Duration(i)*time.Millisecond)
		rec.Inc(metrics.ThingPosts)
		rec.CountReason(metrics.ReplyCodePacket, metrics.ReplyCodeName(200))
	}
	rec.CountReason(metrics.ReplyCodePacket, metrics.ReplyCodeName(460))
	for i := 0; i < 10; i++ {
		rec.Record(metrics.RRPC, 0, 0, 3*time.Millisecond)
		rec.Inc(metrics.RRPCCalls)
	}
	rec.Add(metrics.RRPCCalls, 2)
	rec.Add(metrics.RRPCTimeouts, 2)
	snap := rec.Snapshot(false)
	res := metrics.NewResult(&snap, nil)
	res.ReasonCodes = rec.Reasons()
	return res
}

func TestThingReplyThresholds(t *testing.T) {
	res := thingResult(t)
	for _, tc := range []struct {
		expr string
		pass bool
	}{
		{"thing_reply.p99 < 150ms", true},
		{"thing_reply.p99 < 50ms", false},
		{"thing_reply{qos=1}.count == 100", true},
		{"rrpc.p99 < 10ms", true},
		{"rrpc_timeouts == 0", false},
		{"rrpc_calls == 12", true},
		{"thing_posts == 100", true},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		r := Evaluate(res, []Threshold{th}).Results[0]
		if r.Passed != tc.pass || r.NoData != "" {
			t.Errorf("%s: passed %v (%s), want %v", tc.expr, r.Passed, r.Message, tc.pass)
		}
	}
	th, _ := ParseThreshold("thing_reply.p99 < 50ms")
	empty := metrics.NewResult(&metrics.Snapshot{}, nil)
	if r := Evaluate(empty, []Threshold{th}).Results[0]; r.Passed || !strings.Contains(r.NoData, "no thing-model reply was matched") {
		t.Errorf("no samples: %+v", r)
	}
}

func TestThingAndRRPCRendered(t *testing.T) {
	res := thingResult(t)
	th, _ := ParseThreshold("thing_reply.p99 < 50ms")
	v := Evaluate(res, []Threshold{th})
	var text, html, junit bytes.Buffer
	if err := WriteText(&text, res, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"thing_reply (QoS 1)", "rrpc (QoS 0)", "reply codes 200 100, 460 1", "100 posts, 100 replies matched", "12 calls, 10 answered in time, 2 rrpc_timeouts"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteHTML(&html, res, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"thing post → reply", "RRPC call → answer"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if err := WriteJUnit(&junit, res, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(junit.String(), "thing_reply.p99") || !strings.Contains(junit.String(), "<failure") {
		t.Errorf("JUnit lacks the failed thing_reply.p99 threshold:\n%s", junit.String())
	}
}
