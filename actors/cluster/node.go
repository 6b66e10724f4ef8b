package cluster

import (
	"fmt"
	"github.com/fleetbench/fleetbench/actors"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// NodeKind is the Proto.Actor remote kind under which workers register the
// node actor; a distributed run's coordinator spawns one per worker.
const NodeKind = "fleetbench-node"

// NodeSetup is what a node needs to run its share of a distributed run:
// the scenario, as the coordinator loaded it, and the environment of its
// device actors.
type NodeSetup struct {
	Scenario *scenarios.Scenario
	Env      *actors.Env
	// Close releases what the setup acquired; it may be nil.
	Close func()
}

// NodeConfig configures node actors.
type NodeConfig struct {
	// Setup builds a node's scenario and device environment from the
	// coordinator's Prepare (the engine provides it).
	Setup func(p *remotepb.Prepare) (*NodeSetup, error)
	// Version is reported to the coordinator, which refuses mixed versions.
	Version string
	// MaxDevices is how many devices this node can hold (its open-files
	// limit), reported as capacity.
	MaxDevices int64
	// Busy, shared by a worker's node actors, lets a worker take one run
	// at a time.
	Busy *atomic.Bool
	// Logger receives the node's logs.
	Logger *slog.Logger
	// Clock is the node's clock (default: the system clock): the one its
	// devices stamp with, answered to clock pings and used to wait for the
	// shared start.
	Clock hal.Clock
}

// NewNodeProps returns the props of a node actor: it answers clock pings,
// prepares its share of a run, starts it at the shared start time, ships
// an interval snapshot every second to the run's coordinator and a final
// one at the end, and interrupts its devices when the coordinator goes away.
func NewNodeProps(cfg NodeConfig) *actor.Props {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = hal.NewSystemClock()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &node{cfg: cfg} })
}

// Messages of the node actor's own timers and children.
type (
	nodeStart  struct{}
	nodeDone   struct{}
	nodeOrphan struct{}
)

// orphanAfter is how long a node waits for its run to start (Go) before it
// gives its worker back: its coordinator died between spawning and
// starting it.
const orphanAfter = 2 * time.Minute

type node struct {
	cfg      NodeConfig
	name     string
	setup    *NodeSetup
	share    []actors.Span
	offset   int64      // this node's clock minus the coordinator's, ns
	root     *actor.PID // the run's coordinator
	coord    *actor.PID // the local coordinator of the node's devices
	seq      atomic.Uint64
	holds    bool // holds cfg.Busy
	orphaned bool // the run's coordinator went away
	ended    bool // the local run is over (or never started)
	timer    *time.Timer
}

// Receive implements actor.Actor.
func (n *node) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		self, sys := ctx.Self(), ctx.ActorSystem()
		n.timer = time.AfterFunc(orphanAfter, func() { sys.Root.Send(self, nodeOrphan{}) })
	case nodeOrphan:
		if n.root == nil {
			n.cfg.Logger.Warn("no run started within "+orphanAfter.String()+": giving the worker back", "node", n.name)
			ctx.Stop(ctx.Self())
		}
	case *remotepb.Ping:
		host, _ := os.Hostname()
		ctx.Respond(&remotepb.Pong{
			Seq: msg.Seq, UnixNano: n.cfg.Clock.Now().UnixNano(), Version: n.cfg.Version, Hostname: host,
			Cpus: int32(runtime.NumCPU()), MaxDevices: n.cfg.MaxDevices,
		})
	case *remotepb.Prepare:
		ctx.Respond(&remotepb.Prepared{Error: errString(n.prepare(msg))})
	case *remotepb.Go:
		n.start(ctx, msg)
	case nodeStart:
		n.spawn(ctx)
	case *remotepb.Interrupt:
		n.interrupt(ctx)
	case nodeDone:
		n.ended = true
		rec := n.setup.Env.Recorder
		var published, received int64
		for q := 0; q < metrics.NumQoS; q++ {
			published += rec.GetQoS(metrics.Published, q)
			received += rec.GetQoS(metrics.Received, q)
		}
		n.cfg.Logger.Info("node finished", "node", n.name, "published", published, "received", received)
		if n.orphaned {
			ctx.Stop(ctx.Self())
		}
	case *actor.Terminated:
		if n.root != nil && msg.Who.Equal(n.root) {
			n.cfg.Logger.Warn("the run's coordinator went away: stopping this node's devices", "node", n.name)
			n.orphaned = true
			if n.ended || n.coord == nil {
				ctx.Stop(ctx.Self())
				return
			}
			// Drain and finish at once: nobody is left to report to.
			ctx.Send(n.coord, actors.Interrupt{})
			ctx.Send(n.coord, actors.Interrupt{})
		}
	case *actor.Stopped:
		if n.timer != nil {
			n.timer.Stop()
		}
		n.release()
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// prepare loads the node's share of the run.
func (n *node) prepare(p *remotepb.Prepare) error {
	if n.setup != nil {
		return fmt.Errorf("node %s is already prepared", n.name)
	}
	if n.cfg.Setup == nil {
		return fmt.Errorf("node %s cannot run devices (no setup)", p.NodeName)
	}
	if n.cfg.Busy != nil {
		if !n.cfg.Busy.CompareAndSwap(false, true) {
			return fmt.Errorf("worker is busy with another run")
		}
		n.holds = true
	}
	setup, err := n.cfg.Setup(p)
	if err != nil {
		n.release()
		return err
	}
	sc := setup.Scenario
	fail := func(err error) error {
		if setup.Close != nil {
			setup.Close()
		}
		n.release()
		return fmt.Errorf("node %s: %w", p.NodeName, err)
	}
	share, err := spans(sc, p.Ranges)
	if err != nil {
		return fail(err)
	}
	if int(p.NodeIndex) >= len(p.Partition) || p.NodeIndex < 0 {
		return fail(fmt.Errorf("node index %d outside the partition of %d nodes", p.NodeIndex, len(p.Partition)))
	}
	partition := make([][]actors.Span, len(p.Partition))
	for i, ns := range p.Partition {
		if partition[i], err = spans(sc, ns.Ranges); err != nil {
			return fail(err)
		}
	}
	setup.Env.Distributed = &actors.NodeMap{
		Self: int(p.NodeIndex), NodeOf: nodeOf(sc, partition),
		ReceivedFrom: make([]atomic.Int64, len(partition)*metrics.NumQoS),
	}
	n.name, n.setup, n.share, n.offset = p.NodeName, setup, share, p.ClockOffsetNano
	n.cfg.Logger.Info("node prepared", "node", n.name, "devices", spanTotal(share))
	return nil
}

// spans turns ranges into a span per group (empty for groups without a
// range), checking they fit the scenario.
func spans(sc *scenarios.Scenario, ranges []*remotepb.Range) ([]actors.Span, error) {
	share := make([]actors.Span, len(sc.Groups))
	for i, g := range sc.Groups {
		share[i] = actors.Span{Lo: g.Count, Hi: g.Count} // none unless given
	}
	for _, r := range ranges {
		gi := int(r.Group)
		if gi < 0 || gi >= len(sc.Groups) || r.Lo < 0 || r.Lo > r.Hi || int(r.Hi) > sc.Groups[gi].Count {
			return nil, fmt.Errorf("range %d[%d,%d) does not fit the scenario", r.Group, r.Lo, r.Hi)
		}
		share[gi] = actors.Span{Lo: int(r.Lo), Hi: int(r.Hi)}
	}
	return share, nil
}

// nodeOf returns the map from a device's global index to the index of the
// node that runs it, for a partition (one span per group per node).
func nodeOf(sc *scenarios.Scenario, partition [][]actors.Span) func(int) int {
	groups := sc.Groups
	return func(global int) int {
		gi := sort.Search(len(groups), func(i int) bool { return groups[i].First+groups[i].Count > global })
		if gi == len(groups) || global < groups[gi].First {
			return -1
		}
		idx := global - groups[gi].First
		for node, share := range partition {
			if s := share[gi]; idx >= s.Lo && idx < s.Hi {
				return node
			}
		}
		return -1
	}
}

// RangeNames names a node's share for people: "group[lo,hi)" for every
// group it has devices of.
func RangeNames(sc *scenarios.Scenario, share []actors.Span) []string {
	var out []string
	for gi, s := range share {
		if s.Len() > 0 {
			out = append(out, fmt.Sprintf("%s[%d,%d)", sc.Groups[gi].Name, s.Lo, s.Hi))
		}
	}
	return out
}

func spanTotal(share []actors.Span) int {
	t := 0
	for _, s := range share {
		t += s.Len()
	}
	return t
}

// release gives the worker back for another run.
func (n *node) release() {
	if n.setup != nil && n.setup.Close != nil {
		n.setup.Close()
		n.setup.Close = nil
	}
	if n.holds {
		n.cfg.Busy.Store(false)
		n.holds = false
	}
}

// start arms the node's start at the shared start time, converted to the
// node's clock.
func (n *node) start(ctx actor.Context, g *remotepb.Go) {
	if n.setup == nil || n.root != nil {
		return
	}
	n.root = ctx.Sender()
	if n.root != nil {
		ctx.Watch(n.root)
	}
	n.timer.Stop()
	at := time.Unix(0, g.StartUnixNano+n.offset)
	self, sys := ctx.Self(), ctx.ActorSystem()
	n.timer = time.AfterFunc(at.Sub(n.cfg.Clock.Now()), func() { sys.Root.Send(self, nodeStart{}) })
}

// spawn starts the node's coordinator for its share of the fleet.
func (n *node) spawn(ctx actor.Context) {
	if n.coord != nil || n.orphaned || n.ended {
		return
	}
	sys, root, self := ctx.ActorSystem(), n.root, ctx.Self()
	env := n.setup.Env
	// The deliveries by publisher node are read just before each
	// snapshot, so they match its counters as closely as a running node
	// allows (Sample and report both run in the coordinator).
	var from []int64
	sample := func() {
		from = make([]int64, len(env.Distributed.ReceivedFrom))
		for i := range env.Distributed.ReceivedFrom {
			from[i] = env.Distributed.ReceivedFrom[i].Load()
		}
	}
	report := func(snap *metrics.Snapshot, final bool, p *actors.Progress) {
		w, err := toWireSnapshot(snap)
		if err != nil {
			n.cfg.Logger.Error("node report not sent", "err", err)
			return
		}
		r := &remotepb.NodeReport{
			NodeName: n.name, Seq: n.seq.Add(1), Final: final, Snapshot: w,
			Groups: toWireGroups(env.Groups), FirstErrors: env.FirstErrors.Map(), ReceivedFrom: from,
			ReasonCodes: env.Recorder.Reasons(),
		}
		if r.Endpoints, err = toWireEndpoints(env.Endpoints.Results()); err != nil {
			n.cfg.Logger.Error("node report without its endpoint lines", "err", err)
		}
		if p != nil {
			r.Phase, r.Spawned = string(p.Phase), int64(p.Spawned)
		}
		if root != nil {
			sys.Root.Send(root, r)
		}
	}
	cfg := actors.Config{
		Scenario: n.setup.Scenario, Env: env, Share: n.share, Node: true, Sample: sample,
		Progress: func(p actors.Progress) { report(p.Snapshot, false, &p) },
		Final: func(s *metrics.Snapshot) {
			report(s, true, &actors.Progress{Phase: actors.PhaseDone})
		},
		Done: func(*metrics.Result) { sys.Root.Send(self, nodeDone{}) },
	}
	n.coord = ctx.Spawn(actors.NewCoordinatorProps(cfg))
	n.cfg.Logger.Info("node started", "node", n.name)
}

// interrupt passes the coordinator's Interrupt on to the local run.
func (n *node) interrupt(ctx actor.Context) {
	if n.coord != nil {
		ctx.Send(n.coord, actors.Interrupt{})
		return
	}
	// Not started yet: nothing was measured; say so and stay idle.
	if n.timer != nil {
		n.timer.Stop()
	}
	n.ended = true
	if n.root != nil && n.setup != nil {
		snap := n.setup.Env.Recorder.Snapshot(true)
		if w, err := toWireSnapshot(&snap); err == nil {
			ctx.Send(n.root, &remotepb.NodeReport{NodeName: n.name, Seq: n.seq.Add(1), Final: true, Snapshot: w, Phase: string(actors.PhaseDone), Interrupted: true})
		}
	}
}
