package cluster

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// fakeNode is a node actor that records what the cluster coordinator
// sends it.
type fakeNode struct {
	mu   sync.Mutex
	got  []string
	stop bool
}

func (f *fakeNode) Receive(ctx actor.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ctx.Message().(type) {
	case *remotepb.Go:
		f.got = append(f.got, "go")
	case *remotepb.Interrupt:
		f.got = append(f.got, "interrupt")
	case *actor.Stopping:
		f.stop = true
	}
}

func (f *fakeNode) saw(what string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, g := range f.got {
		if g == what {
			return true
		}
	}
	return false
}

// clusterRig is a cluster coordinator over two fake nodes on a fake
// clock; the test sends reports and ticks itself (the coordinator's own
// timers are set far out).
type clusterRig struct {
	t      *testing.T
	sys    *actor.ActorSystem
	pid    *actor.PID
	clock  *hal.FakeClock
	nodes  []*fakeNode
	done   chan *metrics.Result
	ticks  []actors.Progress
	tickMu sync.Mutex
}

func newClusterRig(t *testing.T) *clusterRig {
	t.Helper()
	sc, err := scenarios.Parse("c.yaml", []byte(`name: c
duration: 10s
drain: 1s
devices:
  - name: d
    count: 4
    subscribe:
      - topic: t/${index}
    publish:
      - topic: t/${index}
        interval: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	r := &clusterRig{t: t, sys: actors.NewActorSystem(), clock: hal.NewFakeClock(time.Unix(1_700_000_000, 0)), done: make(chan *metrics.Result, 1)}
	t.Cleanup(r.sys.Shutdown)
	var nodes []ClusterNode
	for i, name := range []string{"a", "b"} {
		f := &fakeNode{}
		r.nodes = append(r.nodes, f)
		pid := r.sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return f }))
		nodes = append(nodes, ClusterNode{Name: name, PID: pid, Share: []actors.Span{{Lo: 2 * i, Hi: 2*i + 2}}})
	}
	r.pid = r.sys.Root.Spawn(NewClusterProps(ClusterConfig{
		Scenario: sc, Nodes: nodes, Clock: r.clock,
		Done:       func(res *metrics.Result) { r.done <- res },
		Progress:   func(p actors.Progress) { r.tickMu.Lock(); r.ticks = append(r.ticks, p); r.tickMu.Unlock() },
		StartDelay: time.Millisecond, Snapshot: time.Hour, Heartbeat: 5 * time.Second, StopTimeout: time.Hour,
	}))
	for _, f := range r.nodes {
		waitFor(t, 10*time.Second, func() bool { return f.saw("go") }, "Go at every node")
	}
	return r
}

// report sends node's cumulative counters as its seq-th report.
func (r *clusterRig) report(node string, seq uint64, published, received int64, final bool) {
	r.t.Helper()
	var snap metrics.Snapshot
	snap.Began, snap.Start, snap.Taken = r.clock.Now(), r.clock.Now(), r.clock.Now()
	snap.Counts.QoS[metrics.Published][0] = published
	snap.Counts.QoS[metrics.Expected][0] = published
	snap.Counts.QoS[metrics.Received][0] = received
	snap.Counts.Counter[metrics.ConnectOK] = 2
	snap.Counts.Counter[metrics.DevicesStarted] = 2
	w, err := toWireSnapshot(&snap)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sys.Root.Send(r.pid, &remotepb.NodeReport{NodeName: node, Seq: seq, Final: final, Snapshot: w, Phase: string(actors.PhaseRamp),
		ReceivedFrom: make([]int64, 2*metrics.NumQoS)})
}

func (r *clusterRig) tick() {
	r.tickMu.Lock()
	n := len(r.ticks)
	r.tickMu.Unlock()
	r.sys.Root.Send(r.pid, clusterTick{})
	waitFor(r.t, 10*time.Second, func() bool { r.tickMu.Lock(); defer r.tickMu.Unlock(); return len(r.ticks) > n }, "a tick")
}

// TestClusterHeartbeatLosesSilentNode: on the coordinator's own clock, a
// node silent for longer than the heartbeat is declared lost at the next
// tick (its devices gone, the run going on), and the result keeps what it
// reported; the other node's final report ends the run.
func TestClusterHeartbeatLosesSilentNode(t *testing.T) {
	r := newClusterRig(t)
	r.report("a", 1, 10, 10, false)
	r.report("b", 1, 7, 7, false)
	r.tick() // the reports are in (the actor handles messages in order) before the clock moves
	r.clock.Advance(3 * time.Second)
	r.report("a", 2, 20, 20, false)
	r.tick()
	if p := r.ticks[len(r.ticks)-1]; p.NodesLost != 0 || p.Nodes != 2 || p.Totals.Published != 27 {
		t.Fatalf("after 3 s: nodes %d lost %d published %d, want 2, 0, 27", p.Nodes, p.NodesLost, p.Totals.Published)
	}
	r.clock.Advance(3 * time.Second) // b last reported 6 s ago, beyond the 5 s heartbeat
	r.report("a", 3, 30, 30, false)
	r.tick()
	if p := r.ticks[len(r.ticks)-1]; p.NodesLost != 1 {
		t.Fatalf("after 6 s of silence: %d nodes lost, want 1 (progress %+v)", p.NodesLost, p)
	}
	waitFor(t, 10*time.Second, func() bool { r.nodes[1].mu.Lock(); defer r.nodes[1].mu.Unlock(); return r.nodes[1].stop }, "the lost node stopped")
	r.report("b", 2, 99, 99, true) // too late: written off
	r.report("a", 4, 40, 40, true)
	var res *metrics.Result
	select {
	case res = <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no result after the last node's final report")
	}
	if len(res.Nodes) != 2 || !res.Nodes[1].Lost || res.Nodes[0].Lost {
		t.Fatalf("nodes %+v", res.Nodes)
	}
	b := res.Nodes[1]
	if !strings.Contains(b.LostReason, "no report for 6s") || b.LostAtS < 5.9 || b.LostAtS > 6.1 || b.Totals.Published != 7 {
		t.Fatalf("lost node: reason %q at %.2f s published %d; want silence of 6s at 6 s, 7 published", b.LostReason, b.LostAtS, b.Totals.Published)
	}
	if res.Totals.Published != 47 || res.Totals.Lost != 0 || res.Verdict.Status != "" {
		t.Fatalf("totals published %d lost %d", res.Totals.Published, res.Totals.Lost)
	}
	if !res.StartedAt.Equal(time.Unix(1_700_000_000, 0)) {
		t.Fatalf("started at %v: not the injected clock", res.StartedAt)
	}
	if res.Judge(nil); res.Verdict.Status != metrics.StatusFailed {
		t.Fatalf("a run that lost a node judged %s", res.Verdict.Status)
	}
}

// TestClusterInterruptReachesRunningNodes: an interrupt goes to every
// node still running, not to one already lost.
func TestClusterInterruptReachesRunningNodes(t *testing.T) {
	r := newClusterRig(t)
	r.report("a", 1, 5, 5, false)
	r.tick()
	r.clock.Advance(6 * time.Second)
	r.report("a", 2, 6, 6, false)
	r.tick() // b: silent for 6 s → lost
	r.sys.Root.Send(r.pid, actors.Interrupt{})
	waitFor(t, 10*time.Second, func() bool { return r.nodes[0].saw("interrupt") }, "the interrupt at node a")
	if r.nodes[1].saw("interrupt") {
		t.Fatal("the lost node got the interrupt")
	}
	r.report("a", 3, 6, 6, true)
	res := <-r.done
	if !res.Interrupted {
		t.Fatal("result not marked interrupted")
	}
}
