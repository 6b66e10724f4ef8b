package cluster

import (
	"fmt"
	"github.com/fleetbench/fleetbench/actors"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// ClusterNode is one node of a distributed run, as the run's coordinator
// sees it: prepared (its share loaded) and waiting for Go.
type ClusterNode struct {
	// Name identifies the node in results ("local" or the worker address);
	// Address is its Proto.Actor address.
	Name, Address string
	PID           *actor.PID
	// Share is the node's range of each group's devices.
	Share []actors.Span
	// Offset is the node's clock minus the coordinator's; Uncertainty
	// bounds its error (half the best ping round trip).
	Offset, Uncertainty time.Duration
}

// ClusterConfig configures a distributed run's coordinator.
type ClusterConfig struct {
	Scenario *scenarios.Scenario
	Nodes    []ClusterNode
	// Done receives the merged result once, when every node finished or
	// was lost.
	Done func(*metrics.Result)
	// Progress, when set, is called once per second with the merged state.
	Progress func(actors.Progress)
	// Partial and PartialEvery are as in Config.
	Partial      func(*metrics.Result)
	PartialEvery time.Duration
	// Broker, when set, lets broker_outage faults stop and restart the
	// embedded broker.
	Broker actors.BrokerControl
	// Logger receives the coordinator's logs (default: discard).
	Logger *slog.Logger
	// StartDelay is how long after the coordinator starts the nodes start
	// together (default 500 ms): time for Go to reach every node.
	StartDelay time.Duration
	// Snapshot is the time-series interval (default 1 s); Heartbeat how
	// long a node may stay silent before it is declared lost (default 5 s).
	Snapshot, Heartbeat time.Duration
	// Epoch is the run's shared epoch, which the nodes' intended publish
	// times count from (zero: the coordinator's start).
	Epoch time.Time
	// StopTimeout bounds the nodes' drain and stop beyond the scenario's
	// duration and drain (default 60 s); nodes not finished by then are
	// declared lost.
	StopTimeout time.Duration
	// Clock is the coordinator's clock (default the system clock); its
	// timers still run on real time.
	Clock hal.Clock
}

// nodeState is where a node of the run is.
type nodeState uint8

const (
	nodeReporting nodeState = iota // running and reporting
	nodeFinished                   // sent its final report
	nodeGone                       // died or went silent
)

// Messages of the cluster coordinator's own timers.
type (
	clusterTick    struct{}
	clusterPartial struct{}
	clusterFault   struct {
		k     int
		start bool
	}
	clusterDeadline struct{}
)

// clusterNode is the coordinator's state of one node.
type clusterNode struct {
	ClusterNode
	devices int
	last    metrics.Counts // cumulative counters, last report
	groups  []*remotepb.GroupCounts
	// endpoints holds the node's per-endpoint lines, as last reported.
	endpoints []*remotepb.EndpointCounts
	// receivedFrom counts the node's unique deliveries by publisher node
	// and QoS ([node*NumQoS+qos]), as last reported.
	receivedFrom []int64
	// unreported is, for a lost node, how many deliveries of its messages
	// the others received beyond what it reported as expected.
	unreported int64
	errors     map[string]string
	reasons    map[string]int64 // MQTT reason codes, cumulative
	// The node's own series: what arrived since its last point.
	series            []metrics.NodePoint
	pendPub, pendRecv int64
	pendE2E           *metrics.Histogram
	pendSince         time.Time
	phase             actors.Phase
	spawned           int64
	seen              time.Time // last report, coordinator clock
	seq               uint64
	state             nodeState
	lostAt            time.Duration
	lostWhy           string
}

// cluster merges the nodes' reports into one time series and one result.
type cluster struct {
	cfg         ClusterConfig
	sc          *scenarios.Scenario
	nodes       []*clusterNode
	start       time.Time // shared start, coordinator clock
	started     time.Time
	lastTick    time.Time
	pending     metrics.Snapshot  // intervals received since the last tick
	load        metrics.Snapshot  // only the load phase: the nodes' first and last intended publish
	drainAt     time.Time         // when the first node began draining (zero before)
	total       metrics.Latencies // every interval received so far
	series      []metrics.SeriesPoint
	windows     []metrics.FaultWindow
	mon         *metrics.ProcessMonitor
	interrupted bool
	finished    bool
	self        *actor.PID
	root        *actor.RootContext
	ticks       int                   // series ticks so far
	partials    int                   // partial results so far
	partialAt   time.Duration         // when the next is due, since the start
	timers      *actors.Timers        // the pending timer of each kind of message
	faultWins   []metrics.FaultWindow // the transport faults' windows, by fault, described once
	clock       hal.Clock
}

// NewClusterProps returns the props of a distributed run's coordinator. It
// starts every node at one shared instant, merges their per-second
// snapshots, watches them (remote watch and a report heartbeat), declares
// a node that dies or goes silent lost without stopping the run, applies
// broker_outage faults, and closes loss accounting over the merged
// counters once every node has finished.
func NewClusterProps(cfg ClusterConfig) *actor.Props {
	if cfg.StartDelay <= 0 {
		cfg.StartDelay = 500 * time.Millisecond
	}
	if cfg.Snapshot <= 0 {
		cfg.Snapshot = time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = hal.NewSystemClock()
	}
	return actor.PropsFromProducer(func() actor.Actor { return &cluster{cfg: cfg, sc: cfg.Scenario, clock: cfg.Clock} })
}

// Receive implements actor.Actor.
func (c *cluster) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		c.begin(ctx)
	case *remotepb.NodeReport:
		c.report(ctx, msg)
	case clusterTick:
		c.tick(ctx)
		c.ticks++
		c.at(time.Duration(c.ticks+1)*c.cfg.Snapshot, clusterTick{})
		c.firstPartial()
	case clusterPartial:
		c.partial()
		c.armPartial()
	case clusterFault:
		c.fault(msg.k, msg.start)
	case clusterDeadline:
		for _, n := range c.nodes {
			if n.state == nodeReporting {
				c.lose(ctx, n, "did not finish in time")
			}
		}
	case actors.Interrupt:
		c.interrupted = true
		for _, n := range c.nodes {
			if n.state == nodeReporting {
				ctx.Send(n.PID, &remotepb.Interrupt{})
			}
		}
	case *actor.Terminated:
		for _, n := range c.nodes {
			if n.PID.Equal(msg.Who) && n.state == nodeReporting {
				c.lose(ctx, n, "its worker went away (connection lost)")
			}
		}
	case *actor.Stopping:
		c.stopTimers()
	}
}

func (c *cluster) begin(ctx actor.Context) {
	c.mon = metrics.NewProcessMonitor()
	c.started = c.clock.Now()
	c.start = c.started.Add(c.cfg.StartDelay)
	c.lastTick = c.start
	c.pending = metrics.Snapshot{Began: c.start, Start: c.start}
	for i := range c.cfg.Nodes {
		n := &clusterNode{ClusterNode: c.cfg.Nodes[i], seen: c.start, phase: actors.PhaseRamp}
		n.devices = spanTotal(n.Share)
		c.nodes = append(c.nodes, n)
		ctx.Watch(n.PID)
		ctx.Request(n.PID, &remotepb.Go{StartUnixNano: c.start.UnixNano()})
	}
	c.self, c.root = ctx.Self(), ctx.ActorSystem().Root
	self, root := c.self, c.root
	c.timers = actors.NewTimers(func(msg any) { root.Send(self, msg) })
	c.at(c.cfg.Snapshot, clusterTick{})
	// Described once (counting a fault's devices walks the fleet); the
	// nodes apply transport faults, the coordinator broker outages.
	c.faultWins = make([]metrics.FaultWindow, len(c.sc.Faults))
	for k, f := range c.sc.Faults {
		if f.BrokerOutage {
			c.at(f.At, clusterFault{k, true})
			c.at(f.At+f.For, clusterFault{k, false})
		} else {
			c.faultWins[k] = actors.DescribeFault(c.sc, k)
		}
	}
	if c.cfg.Partial != nil {
		if c.cfg.PartialEvery <= 0 {
			c.cfg.PartialEvery = 10 * time.Second
		}
		// Without a connect the first partial result comes at the first
		// period; the first connect brings it forward (firstPartial).
		c.partialAt = c.cfg.PartialEvery
		c.at(c.partialAt, clusterPartial{})
	}
	c.at(c.sc.Duration+c.sc.Drain+c.cfg.StopTimeout, clusterDeadline{})
}

// at sends msg to the coordinator at d after the shared start. A message
// of a kind already pending replaces it (recurring ticks re-arm one timer
// each, so a day-long run holds a handful of timers, not one per second).
func (c *cluster) at(d time.Duration, msg any) {
	if c.finished {
		return
	}
	wait := c.start.Add(d).Sub(c.clock.Now())
	if f, ok := msg.(clusterFault); ok {
		c.timers.AfterKey(f, wait, msg) // one per fault edge
		return
	}
	c.timers.After(wait, msg)
}

func (c *cluster) stopTimers() {
	if c.timers != nil {
		c.timers.Stop()
	}
}

func (c *cluster) node(name string) *clusterNode {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// report takes in one node's interval.
func (c *cluster) report(ctx actor.Context, r *remotepb.NodeReport) {
	n := c.node(r.NodeName)
	if n == nil || n.state != nodeReporting || r.Seq <= n.seq {
		return // unknown, already written off, or stale
	}
	snap, err := fromWireSnapshot(r.Snapshot)
	if err != nil {
		c.cfg.Logger.Warn("node report unreadable", "node", n.Name, "err", err)
		return
	}
	n.seq, n.seen = r.Seq, c.clock.Now()
	n.last = snap.Counts
	if err := c.total.Merge(&snap.Interval); err != nil {
		c.cfg.Logger.Warn("node report not merged", "node", n.Name, "err", err)
	}
	n.pendPub += snap.Delta.Sum(metrics.Published)
	n.pendRecv += snap.Delta.Sum(metrics.Received)
	if e2e := snap.Interval.Kind(metrics.E2E); e2e.Count() > 0 {
		if n.pendE2E == nil {
			n.pendE2E = metrics.NewHistogram()
		}
		_ = n.pendE2E.Merge(e2e) // same geometry: checked when decoded
	}
	// The node's times are on its own clock.
	snap.Began, snap.Start, snap.Taken = snap.Began.Add(-n.Offset), snap.Start.Add(-n.Offset), snap.Taken.Add(-n.Offset)
	snap.Counts = metrics.Counts{} // the tick sums the nodes' latest counts
	if err := c.pending.Merge(&snap); err != nil {
		c.cfg.Logger.Warn("node report not merged", "node", n.Name, "err", err)
	}
	n.groups = r.Groups
	if len(r.Endpoints) > 0 {
		n.endpoints = r.Endpoints
	}
	if len(r.ReceivedFrom) == len(c.nodes)*metrics.NumQoS {
		n.receivedFrom = r.ReceivedFrom
	}
	if len(r.FirstErrors) > 0 {
		n.errors = r.FirstErrors
	}
	if len(r.ReasonCodes) > 0 {
		n.reasons = r.ReasonCodes
	}
	if r.Phase != "" {
		n.phase = actors.Phase(r.Phase)
		if n.phase != actors.PhaseRamp && c.drainAt.IsZero() {
			c.drainAt = c.clock.Now()
		}
	}
	// The load phase spans every node's: the earliest first publish to
	// the latest last one (intended times, on the shared epoch).
	if snap.Publishing {
		if !c.load.Publishing || snap.FirstPublish < c.load.FirstPublish {
			c.load.FirstPublish = snap.FirstPublish
		}
		c.load.LastPublish = max(c.load.LastPublish, snap.LastPublish)
		c.load.Publishing = true
	}
	n.spawned = r.Spawned
	if r.Final {
		n.state = nodeFinished
		c.maybeFinish(ctx)
	}
}

// lose writes a node off: what it reported stays in the result; its
// devices are gone from the time of loss.
func (c *cluster) lose(ctx actor.Context, n *clusterNode, why string) {
	n.state, n.lostAt, n.lostWhy = nodeGone, c.clock.Now().Sub(c.start), why
	n.last.Counter[metrics.Connected] = 0
	n.spawned = 0
	c.cfg.Logger.Warn("node lost: its devices are gone; the run goes on", "node", n.Name, "devices", n.devices,
		"at", n.lostAt.Round(time.Millisecond), "why", why)
	ctx.Stop(n.PID) // best effort: a partitioned node that comes back stops
	c.maybeFinish(ctx)
}

func (c *cluster) maybeFinish(ctx actor.Context) {
	for _, n := range c.nodes {
		if n.state == nodeReporting {
			return
		}
	}
	c.finish(ctx)
}

// counts sums the nodes' latest cumulative counters.
func (c *cluster) counts() metrics.Counts {
	var sum metrics.Counts
	for _, n := range c.nodes {
		sum.Add(&n.last)
	}
	return sum
}

// tick closes one interval of the merged time series and checks the
// nodes' heartbeats.
func (c *cluster) tick(ctx actor.Context) {
	if c.finished {
		return
	}
	now := c.clock.Now()
	for _, n := range c.nodes {
		if n.state == nodeReporting && now.Sub(n.seen) > c.cfg.Heartbeat {
			c.lose(ctx, n, fmt.Sprintf("no report for %s (partitioned or hung)", now.Sub(n.seen).Round(time.Second)))
			if c.finished {
				return
			}
		}
	}
	snap := c.closeInterval(now)
	if c.cfg.Progress != nil {
		c.cfg.Progress(c.progress(&snap))
	}
}

// closeInterval turns what arrived since the last tick into a series point.
func (c *cluster) closeInterval(now time.Time) metrics.Snapshot {
	snap := c.pending
	snap.Began, snap.Start, snap.Taken = c.start, c.lastTick, now
	snap.Counts = c.counts()
	snap.Total = c.total.Clone() // whole-run latencies for the live view (Prometheus)
	pt := snap.Point(c.start)
	pt.Tool = c.mon.Sample()
	pt.Compact()
	c.series = append(c.series, pt)
	c.lastTick = now
	c.pending = metrics.Snapshot{Began: c.start, Start: now}
	c.nodePoints(now, len(c.series)%c.nodeStep() == 0)
	return snap
}

// nodeStep is how many intervals one point of a node's own series covers:
// one for up to 16 nodes, more for larger runs, so the result grows by at
// most about 16 node points per interval.
func (c *cluster) nodeStep() int { return max(1, (len(c.nodes)+15)/16) }

// nodePoints closes a point of every node's own series (when due).
func (c *cluster) nodePoints(now time.Time, due bool) {
	if !due {
		return
	}
	for _, n := range c.nodes {
		since := n.pendSince
		if since.IsZero() {
			since = c.start
		}
		dt := now.Sub(since).Seconds()
		if dt <= 0 {
			continue
		}
		p := metrics.NodePoint{
			T:           int64(math.Round(now.Sub(c.start).Seconds())),
			Connected:   n.last.Get(metrics.Connected),
			PublishRate: float64(n.pendPub) / dt, ReceiveRate: float64(n.pendRecv) / dt,
		}
		if n.pendE2E != nil {
			p.E2EP99Us = n.pendE2E.Percentile(99)
		}
		n.series = append(n.series, p)
		n.pendPub, n.pendRecv, n.pendE2E, n.pendSince = 0, 0, nil, now
	}
}

func (c *cluster) progress(snap *metrics.Snapshot) actors.Progress {
	elapsed := c.clock.Now().Sub(c.start)
	p := actors.Progress{
		Phase: actors.PhaseDone, Elapsed: elapsed, Total: c.sc.Duration, Point: c.series[len(c.series)-1],
		Totals: metrics.TotalsFrom(&snap.Counts), Target: c.sc.TargetAt(min(max(elapsed, 0), c.sc.Duration)),
		Snapshot: snap, Fleet: c.sc.Total(),
	}
	order := map[actors.Phase]int{actors.PhaseRamp: 0, actors.PhaseDrain: 1, actors.PhaseStopping: 2, actors.PhaseDone: 3}
	p.Nodes = len(c.nodes)
	for _, n := range c.nodes {
		if n.state == nodeGone {
			p.NodesLost++
		}
		p.Spawned += int(n.spawned)
		if n.state != nodeGone && order[n.phase] < order[p.Phase] {
			p.Phase = n.phase
		}
	}
	p.Stage = actors.StageAt(c.sc, elapsed)
	return p
}

// fault stops or restarts the broker for a broker_outage fault.
func (c *cluster) fault(k int, start bool) {
	if w, ok := actors.Outage(c.cfg.Broker, actors.DescribeFault(c.sc, k), start, c.cfg.Logger); ok {
		c.windows = append(c.windows, w)
	}
}

// result builds the merged result; with close set, loss is closed over
// the merged counters.
func (c *cluster) result(close bool) *metrics.Result {
	now := c.clock.Now()
	final := metrics.Snapshot{Began: c.start, Start: c.start, Taken: now, Counts: c.counts(), Total: c.total.Clone()}
	if close {
		c.closeLoss(&final.Counts)
	}
	res := metrics.NewResult(&final, c.series)
	actors.Frame(res, c.sc, c.started, c.interrupted, c.windows)
	res.EndedAt = now
	if c.load.Publishing {
		// Intended times count from the shared epoch; the result's from
		// the run's start.
		offset := time.Duration(0)
		if !c.cfg.Epoch.IsZero() {
			offset = c.cfg.Epoch.Sub(c.start)
		}
		res.FirstPublishS = max(0, (offset + c.load.FirstPublish).Seconds())
		res.LastPublishS = max(0, (offset + c.load.LastPublish).Seconds())
	}
	if !c.drainAt.IsZero() {
		res.DrainS = now.Sub(c.drainAt).Seconds()
	}
	for k, f := range c.sc.Faults {
		if !f.BrokerOutage && f.At < res.EndedAt.Sub(c.start) {
			res.Faults = append(res.Faults, c.faultWins[k])
		}
	}
	end := res.EndedAt.Sub(c.start).Seconds()
	res.Groups = make([]metrics.GroupResult, len(c.sc.Groups))
	for i, g := range c.sc.Groups {
		res.Groups[i].Name = g.Name
	}
	var uncs []time.Duration
	for _, n := range c.nodes {
		for i, g := range n.groups {
			if i < len(res.Groups) {
				gr := fromWireGroup("", g)
				res.Groups[i].Add(&gr)
			}
		}
		for k, v := range n.reasons {
			if res.ReasonCodes == nil {
				res.ReasonCodes = make(map[string]int64, len(n.reasons))
			}
			res.ReasonCodes[k] += v
		}
		for k, v := range n.errors {
			if res.FirstConnectErrors == nil {
				res.FirstConnectErrors = make(map[string]string)
			}
			if _, ok := res.FirstConnectErrors[k]; !ok {
				res.FirstConnectErrors[k] = fmt.Sprintf("%s (node %s)", v, n.Name)
			}
		}
		nr := metrics.NodeResult{
			Name: n.Name, Address: n.Address, Devices: int64(n.devices),
			ClockOffsetUs: n.Offset.Microseconds(), ClockUncertaintyUs: n.Uncertainty.Microseconds(),
			Totals: metrics.TotalsFrom(&n.last),
			Series: append([]metrics.NodePoint(nil), n.series...),
		}
		nr.Ranges = RangeNames(c.sc, n.Share)
		if n.state == nodeGone {
			nr.Lost, nr.LostAtS, nr.LostReason = true, n.lostAt.Seconds(), n.lostWhy
			nr.UnreportedDeliveries = n.unreported
			res.Faults = append(res.Faults, metrics.FaultWindow{
				Kind: "node lost", FromS: n.lostAt.Seconds(), ToS: max(end, n.lostAt.Seconds()),
				Target: fmt.Sprintf("node %s", n.Name), Devices: n.devices,
			})
		}
		res.Nodes = append(res.Nodes, nr)
		uncs = append(uncs, n.Uncertainty)
	}
	if eps, err := mergeEndpoints(c.nodes); err != nil {
		c.cfg.Logger.Warn("endpoint lines not merged", "err", err)
	} else {
		res.Endpoints = eps
	}
	sort.SliceStable(res.Faults, func(i, j int) bool { return res.Faults[i].FromS < res.Faults[j].FromS })
	sort.Slice(uncs, func(i, j int) bool { return uncs[i] > uncs[j] })
	if len(uncs) >= 2 {
		res.ClockBoundUs = (uncs[0] + uncs[1]).Microseconds()
	}
	return res
}

// closeLoss closes loss accounting over the merged counters: lost =
// expected − unique received, over the whole fleet (publisher and receiver
// may be on different nodes). A lost node published for up to a second
// after its last report: the others received some of those messages,
// which it never reported as expected. Receivers count deliveries by the
// node of their publisher, so those deliveries are added to expected (by
// the plan they were) instead of cancelling as much real loss elsewhere.
func (c *cluster) closeLoss(cnt *metrics.Counts) {
	from := make([][metrics.NumQoS]int64, len(c.nodes))
	attributed := true
	for _, n := range c.nodes {
		if len(n.receivedFrom) != len(c.nodes)*metrics.NumQoS {
			attributed = false // a node that never reported
			continue
		}
		for src := range c.nodes {
			for q := 0; q < metrics.NumQoS; q++ {
				from[src][q] += n.receivedFrom[src*metrics.NumQoS+q]
			}
		}
	}
	for q := 0; q < metrics.NumQoS && attributed; q++ {
		for src, n := range c.nodes {
			if extra := from[src][q] - n.last.QoS[metrics.Expected][q]; n.state == nodeGone && extra > 0 {
				n.unreported += extra
				cnt.QoS[metrics.Expected][q] += extra
			}
		}
	}
	actors.CloseLoss(cnt)
}

// firstPartial hands out the first partial result at the first tick whose
// merged counts hold a connect (within a tick, 1 s, of the nodes' report
// of it), so a run killed soon after its fleet connected still leaves a
// result; the next ones follow every PartialEvery from there.
func (c *cluster) firstPartial() {
	if c.cfg.Partial == nil || c.partials > 0 || c.finished {
		return
	}
	if counts := c.counts(); counts.Get(metrics.ConnectOK) == 0 {
		return
	}
	c.partial()
	c.partialAt = c.clock.Now().Sub(c.start)
	c.armPartial()
}

// armPartial counts the partial result just handed out and arms the next
// PartialEvery after the previous due time (the pending one is replaced).
func (c *cluster) armPartial() {
	c.partials++
	c.partialAt += c.cfg.PartialEvery
	c.at(c.partialAt, clusterPartial{})
}

// partial hands out a result of everything merged so far.
func (c *cluster) partial() {
	if c.finished || c.cfg.Partial == nil {
		return
	}
	res := c.result(false)
	res.Partial = true
	c.cfg.Partial(res)
}

// finish closes the accounting, stops the node actors and hands the result
// over.
func (c *cluster) finish(ctx actor.Context) {
	if c.finished {
		return
	}
	c.finished = true
	c.stopTimers()
	if c.pending.Delta != (metrics.Counts{}) || c.pending.Interval.Count(metrics.E2E) > 0 {
		c.closeInterval(c.clock.Now())
	}
	res := c.result(true)
	for _, n := range c.nodes {
		if n.state != nodeGone {
			ctx.Unwatch(n.PID)
			ctx.Stop(n.PID)
		}
	}
	if c.cfg.Done != nil {
		c.cfg.Done(res)
	}
	ctx.Stop(ctx.Self())
}
