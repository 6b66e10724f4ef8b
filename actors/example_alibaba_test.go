package actors

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/scenarios"
)

// TestAlibabaFleetExample runs scenarios/examples/alibaba-fleet.yaml
// against the embedded platform emulator, shortened with --set overrides,
// and checks that every thing-model post was matched to its reply and
// every RRPC call answered in time.
func TestAlibabaFleetExample(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a fleet run")
	}
	const path = "../scenarios/examples/alibaba-fleet.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := scenarios.ParseDocument(path, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{
		"duration=5s", "drain=2s",
		"stages[0].duration=1s", "stages[0].target=65", "stages[1].duration=4s", "stages[1].target=65",
		"devices[0].count=50", "devices[1].count=10",
	} {
		if err := doc.ApplySetArg(set); err != nil {
			t.Fatalf("--set %s: %v", set, err)
		}
	}
	sc, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	tot, thing, rrpc := res.Totals, res.Latency.ThingReply, res.Latency.RRPC
	t.Logf("devices %d thing_posts %d thing_reply %d (p99 %dus) missing %d codes %v; rrpc calls %d answered %d (p99 %dus) timeouts %d failed %d",
		tot.Devices, tot.ThingPosts, thing.Count, thing.P99, tot.ThingReplyMissing, res.ReplyCodes(),
		tot.RRPCCalls, rrpc.Count, rrpc.P99, tot.RRPCTimeouts, tot.RRPCFailed)
	if tot.Devices != 65 || tot.ConnectFailed != 0 {
		t.Fatalf("devices %d connect_failed %d", tot.Devices, tot.ConnectFailed)
	}
	// meters post once at start, gateways at 1/s: at least one post per
	// device of both groups.
	if tot.ThingPosts < 60 || thing.Count != tot.ThingPosts || tot.ThingReplyMissing != 0 {
		t.Fatalf("thing_posts %d, thing_reply %d, missing %d", tot.ThingPosts, thing.Count, tot.ThingReplyMissing)
	}
	if codes := res.ReplyCodes(); codes["200"] != tot.ThingPosts || len(codes) != 1 {
		t.Fatalf("reply codes %v", codes)
	}
	// 5 gateways, one call every 2 s each.
	if tot.RRPCCalls < 5 || rrpc.Count != tot.RRPCCalls || tot.RRPCTimeouts != 0 || tot.RRPCFailed != 0 {
		t.Fatalf("rrpc calls %d answered %d timeouts %d failed %d", tot.RRPCCalls, rrpc.Count, tot.RRPCTimeouts, tot.RRPCFailed)
	}
	if tot.Foreign != 0 || tot.Lost != 0 {
		t.Fatalf("foreign %d lost %d", tot.Foreign, tot.Lost)
	}
}
