package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// platformScenario is n devices against the embedded platform emulator,
// each sending m thing-model property posts at QoS qos, and, when calls >
// 0, answering calls RRPC requests after answerDelay with the given call
// timeout.
func platformScenario(t *testing.T, n, m, qos, calls int, answerDelay, timeout time.Duration) *scenarios.Scenario {
	t.Helper()
	rrpc := ""
	if calls > 0 {
		rrpc = fmt.Sprintf("    rrpc: {interval: 100ms, timeout: %s, answer_delay: %s, count: %d}\n", timeout, answerDelay, calls)
	}
	text := fmt.Sprintf(`name: platform
duration: 20s
drain: 1s
broker: {platform: alibaba}
devices:
  - name: meters
    count: %d
    product_key: a1PK
    device_secret: secret-${index}
    connect: {rate: 1000/s}
    publish:
      - thing: property_post
        qos: %d
        interval: 20ms
        count: %d
        params: '{"temperature": ${random:20.0..30.0}, "seq": ${seq}}'
%s`, n, qos, m, rrpc)
	sc, err := scenarios.Parse("platform.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runPlatform(t *testing.T, sc *scenarios.Scenario) *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestThingReplyExact: against the embedded emulator every thing-model
// post is answered and matched by its Alink id: thing_reply count = posts,
// exactly, all with code 200, none foreign.
func TestThingReplyExact(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a fleet run")
	}
	const n, m = 20, 25
	for _, qos := range []int{0, 1} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			res := runPlatform(t, platformScenario(t, n, m, qos, 0, 0, 0))
			tot := res.Totals
			want := int64(n * m)
			lat := res.Latency.ThingReply
			t.Logf("thing_posts %d thing_reply %d p50 %dus p99 %dus codes %v", tot.ThingPosts, lat.Count, lat.P50, lat.P99, res.ReplyCodes())
			if tot.ThingPosts != want || tot.Published != want || lat.Count != want {
				t.Fatalf("thing_posts %d published %d thing_reply %d, want %d each", tot.ThingPosts, tot.Published, lat.Count, want)
			}
			if got := res.LatencyByQoS[fmt.Sprint(qos)].ThingReply.Count; got != want {
				t.Fatalf("thing_reply at QoS %d: %d, want %d", qos, got, want)
			}
			if codes := res.ReplyCodes(); codes["200"] != want || len(codes) != 1 {
				t.Fatalf("reply codes %v, want only 200 × %d", codes, want)
			}
			if tot.ThingReplyMissing != 0 || tot.Foreign != 0 || tot.Expected != 0 || tot.Lost != 0 {
				t.Fatalf("missing %d foreign %d expected %d lost %d", tot.ThingReplyMissing, tot.Foreign, tot.Expected, tot.Lost)
			}
			if qos == 1 && tot.Acked != want {
				t.Fatalf("acked %d, want %d", tot.Acked, want)
			}
		})
	}
}

// TestRRPCLatencyAndTimeouts: the emulator calls every device; devices
// answering at once give one rrpc latency per call; devices answering
// after the call's timeout give one timeout per call and no latency.
func TestRRPCLatencyAndTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fleet runs with 1 s RRPC timeouts")
	}
	const n, calls = 10, 5
	t.Run("answered", func(t *testing.T) {
		res := runPlatform(t, platformScenario(t, n, 1, 0, calls, 0, time.Second))
		tot, lat := res.Totals, res.Latency.RRPC
		t.Logf("rrpc calls %d latency count %d p50 %dus p99 %dus timeouts %d failed %d", tot.RRPCCalls, lat.Count, lat.P50, lat.P99, tot.RRPCTimeouts, tot.RRPCFailed)
		if tot.RRPCCalls != n*calls || lat.Count != n*calls || tot.RRPCTimeouts != 0 || tot.RRPCFailed != 0 {
			t.Fatalf("calls %d latencies %d timeouts %d failed %d; want %d, %d, 0, 0", tot.RRPCCalls, lat.Count, tot.RRPCTimeouts, tot.RRPCFailed, n*calls, n*calls)
		}
		if lat.Max > time.Second.Microseconds() {
			t.Fatalf("a latency above the timeout was recorded: max %dus", lat.Max)
		}
	})
	t.Run("answered after the timeout", func(t *testing.T) {
		res := runPlatform(t, platformScenario(t, n, 1, 0, calls, 1500*time.Millisecond, time.Second))
		tot, lat := res.Totals, res.Latency.RRPC
		t.Logf("rrpc calls %d latency count %d timeouts %d failed %d", tot.RRPCCalls, lat.Count, tot.RRPCTimeouts, tot.RRPCFailed)
		if tot.RRPCCalls != n*calls || tot.RRPCTimeouts != n*calls || lat.Count != 0 || tot.RRPCFailed != 0 {
			t.Fatalf("calls %d timeouts %d latencies %d failed %d; want %d, %d, 0, 0", tot.RRPCCalls, tot.RRPCTimeouts, lat.Count, tot.RRPCFailed, n*calls, n*calls)
		}
	})
}
