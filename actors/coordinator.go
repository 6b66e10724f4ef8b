package actors

import (
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Phase is where a run is.
type Phase string

// Phases of a run, in order.
const (
	PhaseRamp     Phase = "running"  // spawning along the stages and publishing
	PhaseDrain    Phase = "draining" // publishing stopped, collecting in-flight messages
	PhaseStopping Phase = "stopping" // disconnecting devices
	PhaseDone     Phase = "done"
)

// Progress is what the coordinator reports once per second.
type Progress struct {
	Phase   Phase
	Elapsed time.Duration
	// Total is the planned duration of the load (drain excluded).
	Total time.Duration
	// Stage is the 1-based index of the current stage, 0 without stages.
	Stage int
	// Target is the number of devices the ramp wants now; Spawned how many
	// device actors exist.
	Target, Spawned int
	// Point is the last interval of the time series.
	Point metrics.SeriesPoint
	// Totals are the counters so far.
	Totals metrics.Totals
	// Snapshot is the interval snapshot just taken (read only).
	Snapshot *metrics.Snapshot
	// Nodes is the number of nodes of a distributed run (0 otherwise),
	// NodesLost how many of them were lost.
	Nodes, NodesLost int
	// Fleet is the number of devices of the whole run (the coordinator's
	// share on a node), the size Target ramps towards.
	Fleet int
}

// Config configures a coordinator.
type Config struct {
	Scenario *scenarios.Scenario
	Env      *Env
	// Done receives the result once, when the run is over.
	Done func(*metrics.Result)
	// Progress, when set, is called once per second from the coordinator.
	Progress func(Progress)
	// Tick is the spawn scheduling period (default 10 ms).
	Tick time.Duration
	// Snapshot is the time-series interval (default 1 s).
	Snapshot time.Duration
	// StopTimeout bounds how long disconnecting the fleet may take (default 30 s).
	StopTimeout time.Duration
	// RestartMin/RestartMax bound the supervisor's restart backoff of a
	// failing device (default 1 s doubling to 30 s, as the SDK's reconnect).
	RestartMin, RestartMax time.Duration
	// Broker, when set, lets broker_outage faults stop and restart the
	// target broker.
	Broker BrokerControl
	// Partial, when set, receives a result of everything measured so far
	// every PartialEvery (default 10 s), so an abrupt end (kill -9, a
	// crash) still leaves a result behind.
	Partial      func(*metrics.Result)
	PartialEvery time.Duration
	// Share, when set, restricts the coordinator to part of the fleet, as
	// a node of a distributed run: Share[g] is the node's range of group
	// g's device indices. The group's ramp target and connect rate are
	// scaled to the range's share of the group, so the nodes of a run
	// together follow the scenario's ramp.
	Share []Span
	// Node marks a node of a distributed run: loss is not closed here
	// (publisher and receiver may be on different nodes; the run's
	// coordinator closes it over the merged counters) and broker_outage
	// faults are left to the run's coordinator.
	Node bool
	// Final, when set, receives the last interval snapshot when the run
	// is over, before Done.
	Final func(*metrics.Snapshot)
	// NoFailFast keeps a run going when no device can connect (for tests
	// of brokers that come up late); by default such a run stops once the
	// longest connect timeout plus the first restart backoff have passed
	// and every failure was a refusal or a connection error.
	NoFailFast bool
	// Sample, when set, is called right before every snapshot (the final
	// one included), from the coordinator: for counters kept beside the
	// Recorder that should be read at the same moment.
	Sample func()
}

// Span is a range [Lo, Hi) of a group's device indices.
type Span struct{ Lo, Hi int }

// Len returns the number of devices in the span.
func (s Span) Len() int { return s.Hi - s.Lo }

// BrokerControl stops and restarts the broker under test (broker_outage).
type BrokerControl interface {
	StopBroker() error
	StartBroker() error
}

// Interrupt asks the coordinator to stop the run early: the first one
// stops ramping and publishing and drains; a second one finishes at once
// with what has been measured.
type Interrupt struct{}

// StallDevices hangs the actors of the selected devices (by global index)
// for the given time at their next publish slot, as a device whose main
// loop freezes would: that publish and the ones scheduled during the stall
// go out late (counted from their intended times, and as lagged), while
// arrivals are still stamped by the transport.
type StallDevices struct {
	Select func(globalIndex int) bool
	For    time.Duration
}

// Messages of the coordinator's own timers.
type (
	spawnTick    struct{}
	snapshotTick struct{}
	drainDone    struct{}
	stopTimeout  struct{}
	partialTick  struct{}
	faultStart   struct{ k int }
	faultEnd     struct{ k int }
	churnTick    struct{ k, cycle int }
	// deviceDone: the device of a global index has sent every message of
	// its plan (or has none to send) once connected and subscribed.
	deviceDone struct{ index int }
)

// coordinator spawns and stops device actors along the ramp and owns the
// metrics time series.
type coordinator struct {
	cfg         Config
	sc          *scenarios.Scenario
	start       time.Time
	last        time.Time // last spawn tick
	phase       Phase
	targets     []int
	tokens      []float64
	devices     [][]*actor.PID // per group, index = device index in group
	alive       int
	series      []metrics.SeriesPoint
	lastPt      metrics.SeriesPoint
	started     time.Time
	interrupted bool
	// timers are the coordinator's own: one per kind of message (spawn
	// tick, snapshot tick, partial tick, drain end, stop timeout) and one
	// per fault edge and churn entry, each re-armed one at a time, so a
	// run of any length holds a handful.
	timers   *Timers
	partials int // partial results handed out
	// partialAt is when the next partial result is due (Env.Clock time).
	partialAt time.Time
	mon       *metrics.ProcessMonitor
	lastSnap  *metrics.Snapshot
	faultIDs  []hal.FaultID
	windows   []metrics.FaultWindow
	self      *actor.PID
	root      *actor.RootContext
	// done holds the global indices of the devices that have sent all
	// their messages (see deviceDone), for ending the run early.
	done map[int]struct{}
	// drainAt is when the drain began (zero before), drainLen how long it
	// lasted (zero until it ended).
	drainAt  time.Time
	drainLen time.Duration
}

// NewCoordinatorProps returns the props of a coordinator for cfg. Its
// children (the devices) are supervised with an exponential restart
// backoff.
func NewCoordinatorProps(cfg Config) *actor.Props {
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Millisecond
	}
	if cfg.Snapshot <= 0 {
		cfg.Snapshot = time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.RestartMin <= 0 {
		cfg.RestartMin = time.Second
	}
	if cfg.RestartMax < cfg.RestartMin {
		cfg.RestartMax = max(30*time.Second, cfg.RestartMin)
	}
	return actor.PropsFromProducer(func() actor.Actor { return &coordinator{cfg: cfg, sc: cfg.Scenario} },
		actor.WithSupervisor(&backoffStrategy{min: cfg.RestartMin, max: cfg.RestartMax}))
}

// Receive implements actor.Actor.
func (c *coordinator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		c.self, c.root = ctx.Self(), ctx.ActorSystem().Root
		self, root := c.self, c.root
		c.timers = NewTimers(func(msg any) { root.Send(self, msg) })
		c.start = c.cfg.Env.Clock.Now()
		c.started = time.Now()
		c.last = c.start
		c.phase = PhaseRamp
		c.mon = metrics.NewProcessMonitor()
		n := len(c.sc.Groups)
		c.tokens = make([]float64, n)
		c.devices = make([][]*actor.PID, n)
		c.after(0, spawnTick{})
		c.after(c.cfg.Snapshot, snapshotTick{})
		c.schedule()
	case spawnTick:
		c.spawn(ctx)
	case snapshotTick:
		c.snapshot()
		c.firstPartial()
		c.failFast(ctx)
		if c.phase != PhaseDone {
			c.after(c.cfg.Snapshot, snapshotTick{})
		}
	case Interrupt:
		c.interrupted = true
		switch c.phase {
		case PhaseRamp:
			c.drain(ctx)
		default:
			c.finish(ctx)
		}
	case partialTick:
		c.partial()
		c.armPartial()
	case faultStart:
		c.startFault(msg.k)
	case faultEnd:
		c.endFault(msg.k)
	case churnTick:
		c.churn(ctx, msg.k, msg.cycle)
		c.armChurn(msg.k, msg.cycle+1)
	case StallDevices:
		for gi, pids := range c.devices {
			first := c.sc.Groups[gi].First + c.span(gi).Lo
			for i, pid := range pids {
				if msg.Select == nil || msg.Select(first+i) {
					ctx.Send(pid, stall{d: msg.For})
				}
			}
		}
	case deviceDone:
		if c.done == nil {
			c.done = make(map[int]struct{})
		}
		c.done[msg.index] = struct{}{}
		c.maybeEndEarly(ctx)
	case drainDone:
		c.stopDevices(ctx)
	case *actor.Terminated:
		c.alive--
		if c.phase == PhaseStopping && c.alive <= 0 {
			c.finish(ctx)
		}
	case stopTimeout:
		if c.phase == PhaseStopping {
			c.cfg.Env.Logger.Warn("devices did not stop in time; finishing without them", "left", c.alive)
			c.finish(ctx)
		}
	case *actor.Stopping:
		c.stopTimers()
	default:
		_ = msg
	}
}

// after sends msg to the coordinator after d (replacing the pending one of
// its kind).
func (c *coordinator) after(d time.Duration, msg any) { c.timers.After(d, msg) }

func (c *coordinator) stopTimers() {
	if c.timers != nil {
		c.timers.Stop()
	}
}

// schedule arms the first timers of the fault timeline, the churn cycles
// and the partial results; each re-arms its next one when it fires.
func (c *coordinator) schedule() {
	c.faultIDs = make([]hal.FaultID, len(c.sc.Faults))
	for k, f := range c.sc.Faults {
		c.timers.AfterKey(faultStart{k}, f.At, faultStart{k})
		c.timers.AfterKey(faultEnd{k}, f.At+f.For, faultEnd{k})
	}
	for k := range c.sc.Churn {
		c.armChurn(k, 0)
	}
	if c.cfg.Partial != nil {
		// Without a connect the first partial result is written at the
		// first period; the first connect brings it forward (firstPartial).
		c.partialAt = c.start.Add(c.partialEvery())
		c.after(c.partialEvery(), partialTick{})
	}
}

// firstPartial hands out the first partial result at the first snapshot
// that counts a connect (within a snapshot interval, 1 s, of it), so that
// a run killed soon after its fleet connected still leaves a result; the
// next ones follow every partialEvery from there.
func (c *coordinator) firstPartial() {
	if c.cfg.Partial == nil || c.partials > 0 || c.lastSnap == nil || c.lastSnap.Counts.Get(metrics.ConnectOK) == 0 {
		return
	}
	c.partial()
	c.partialAt = c.cfg.Env.Clock.Now()
	c.armPartial()
}

// armPartial counts the partial result just handed out and arms the next
// one partialEvery after the previous due time (not after now, so the
// period does not drift with the coordinator's latency).
func (c *coordinator) armPartial() {
	c.partials++
	c.partialAt = c.partialAt.Add(c.partialEvery())
	c.after(max(0, c.partialAt.Sub(c.cfg.Env.Clock.Now())), partialTick{})
}

// partialEvery is the period of partial results.
func (c *coordinator) partialEvery() time.Duration {
	if c.cfg.PartialEvery > 0 {
		return c.cfg.PartialEvery
	}
	return 10 * time.Second
}

// armChurn arms cycle n of churn entry k, if the run has it.
func (c *coordinator) armChurn(k, n int) {
	ch := &c.sc.Churn[k]
	if n >= ch.Cycles(c.sc.Duration) {
		return
	}
	at := ch.CycleStart(n) - c.cfg.Env.Clock.Now().Sub(c.start)
	c.timers.AfterKey(churnKey(k), max(0, at), churnTick{k, n})
}

// churnKey is the timer key of churn entry k.
type churnKey int

// DescribeFault describes fault k of sc's timeline for the result.
func DescribeFault(sc *scenarios.Scenario, k int) metrics.FaultWindow {
	f := &sc.Faults[k]
	w := metrics.FaultWindow{
		FromS: f.At.Seconds(), ToS: (f.At + f.For).Seconds(), Target: "all devices",
	}
	if f.BrokerOutage {
		w.Kind, w.Target = "broker_outage", "broker"
		return w
	}
	if f.Group != nil {
		w.Target = "group " + f.Group.Name
	}
	if f.Fraction < 1 {
		w.Target = fmt.Sprintf("%.0f%% of %s", f.Fraction*100, w.Target)
	}
	var kinds []string
	for _, e := range []struct {
		on   bool
		name string
	}{{f.Latency > 0, "latency " + f.Latency.String()}, {f.Bandwidth > 0, fmt.Sprintf("bandwidth %d B/s", f.Bandwidth)},
		{f.Stall, "stall"}, {f.Cut, "cut"}, {f.Refuse, "refuse"}} {
		if e.on {
			kinds = append(kinds, e.name)
		}
	}
	w.Kind = strings.Join(kinds, ", ")
	for i := 0; i < sc.Total(); i++ {
		if sc.InFault(k, i) {
			w.Devices++
		}
	}
	return w
}

// startFault applies fault k of the timeline.
func (c *coordinator) startFault(k int) {
	f := &c.sc.Faults[k]
	log := c.cfg.Env.Logger
	if c.cfg.Node {
		// The run's coordinator keeps the fault windows and owns the
		// broker; a node only applies its devices' transport faults.
		if !f.BrokerOutage {
			c.applyFault(k)
		}
		return
	}
	w := DescribeFault(c.sc, k)
	if f.BrokerOutage {
		w, _ = Outage(c.cfg.Broker, w, true, log)
		c.windows = append(c.windows, w)
		return
	}
	c.windows = append(c.windows, w)
	c.applyFault(k)
}

// applyFault installs fault k in the node's transport fault injector.
func (c *coordinator) applyFault(k int) {
	if c.cfg.Env.Faults == nil {
		return
	}
	f := &c.sc.Faults[k]
	sel := func(dev int) bool { return c.sc.InFault(k, dev) }
	id, err := c.cfg.Env.Faults.Apply(sel, hal.Fault{
		Latency: f.Latency, Jitter: f.Jitter, Bandwidth: f.Bandwidth, Stall: f.Stall, Cut: f.Cut, Refuse: f.Refuse,
	})
	if err != nil {
		c.cfg.Env.Logger.Warn("fault not applied", "fault", k, "err", err)
		return
	}
	c.faultIDs[k] = id
}

// endFault ends fault k.
func (c *coordinator) endFault(k int) {
	f := &c.sc.Faults[k]
	if f.BrokerOutage {
		if !c.cfg.Node {
			Outage(c.cfg.Broker, metrics.FaultWindow{}, false, c.cfg.Env.Logger)
		}
		return
	}
	if c.cfg.Env.Faults != nil && c.faultIDs[k] != 0 {
		c.cfg.Env.Faults.Clear(c.faultIDs[k])
	}
}

// churn takes the devices of churn entry k picked for this cycle offline.
func (c *coordinator) churn(ctx actor.Context, k, cycle int) {
	if c.phase != PhaseRamp {
		return
	}
	down := c.sc.Churn[k].Down
	c.cfg.Env.Logger.Debug("churn cycle", "entry", k, "cycle", cycle)
	for gi, pids := range c.devices {
		first := c.sc.Groups[gi].First + c.span(gi).Lo
		for i, pid := range pids {
			if c.sc.InChurn(k, cycle, first+i) {
				ctx.Send(pid, churnDevice{d: down})
			}
		}
	}
}

// partial hands out a result of everything measured so far.
func (c *coordinator) partial() {
	if c.lastSnap == nil || c.cfg.Partial == nil || c.phase == PhaseDone {
		return
	}
	res := metrics.NewResult(c.lastSnap, append([]metrics.SeriesPoint(nil), c.series...))
	c.fill(res)
	c.fillLoad(res, c.lastSnap)
	res.Partial = true
	res.EndedAt = time.Now()
	c.cfg.Partial(res)
}

// fill sets what the coordinator knows beyond the measurements.
func (c *coordinator) fill(res *metrics.Result) {
	Frame(res, c.sc, c.started, c.interrupted, c.windows)
	res.ReasonCodes = c.cfg.Env.Recorder.Reasons()
	if c.cfg.Env.FirstErrors != nil {
		res.FirstConnectErrors = c.cfg.Env.FirstErrors.Map()
	}
	res.Endpoints = c.cfg.Env.Endpoints.Results()
	if len(c.cfg.Env.Groups) == len(c.sc.Groups) {
		res.Groups = make([]metrics.GroupResult, len(c.sc.Groups))
		for i, g := range c.sc.Groups {
			res.Groups[i] = c.cfg.Env.Groups[i].Result(g.Name)
		}
	}
}

// failFast stops a run in which no device has connected, once every
// group's connect timeout and the first restart backoff have passed and
// every failure so far is one that retrying will not mend soon (refused
// credentials or codes, not MQTT, a protocol error, TLS, DNS, a refused
// connection): the result then says why at once instead of after the
// whole duration. Timeouts (a slow or overloaded broker) keep the run
// going. Nodes of a distributed run and NoFailFast runs never stop early.
func (c *coordinator) failFast(ctx actor.Context) {
	if c.phase != PhaseRamp || c.cfg.Node || c.cfg.NoFailFast || c.lastSnap == nil {
		return
	}
	cnt := &c.lastSnap.Counts
	if cnt.Get(metrics.ConnectOK) > 0 || cnt.ConnectFailedTotal() == 0 || cnt.ConnectFailed[metrics.ReasonTimeout] > 0 || cnt.ConnectFailed[metrics.ReasonOther] > 0 {
		return
	}
	var wait time.Duration
	for _, g := range c.sc.Groups {
		wait = max(wait, g.Connect.Timeout)
	}
	wait += c.cfg.RestartMin
	if elapsed := c.cfg.Env.Clock.Now().Sub(c.start); elapsed < wait {
		return
	}
	c.cfg.Env.Logger.Warn("no device could connect: stopping the run early", "failed", cnt.ConnectFailedTotal())
	c.drain(ctx)
	c.stopDevices(ctx)
}

// drainEnd notes the end of the drain (once).
func (c *coordinator) drainEnd() {
	if !c.drainAt.IsZero() && c.drainLen == 0 {
		c.drainLen = max(time.Nanosecond, c.cfg.Env.Clock.Now().Sub(c.drainAt))
	}
}

// fillLoad sets the load phase (first to last intended publish, on the
// run's clock) and the drain's length.
func (c *coordinator) fillLoad(res *metrics.Result, snap *metrics.Snapshot) {
	if snap.Publishing {
		// Intended times count from the node's epoch; the result's times
		// from the coordinator's start.
		offset := c.cfg.Env.Epoch.Sub(c.start)
		res.FirstPublishS = max(0, (offset + snap.FirstPublish).Seconds())
		res.LastPublishS = max(0, (offset + snap.LastPublish).Seconds())
	}
	res.DrainS = c.drainLen.Seconds()
}

// spawn brings the number of device actors of each group to the ramp's
// target, at no more than the group's connect rate.
func (c *coordinator) spawn(ctx actor.Context) {
	if c.phase != PhaseRamp {
		return
	}
	now := c.cfg.Env.Clock.Now()
	elapsed := now.Sub(c.start)
	dt := now.Sub(c.last).Seconds()
	c.last = now
	if elapsed >= c.sc.Duration {
		c.drain(ctx)
		return
	}
	c.targets = c.sc.GroupTargetsAt(elapsed, c.targets[:0])
	for gi, g := range c.sc.Groups {
		span := c.span(gi)
		target := c.share(gi, c.targets[gi])
		pids := c.devices[gi]
		if len(pids) > target { // ramp down: stop the newest devices
			for _, pid := range pids[target:] {
				ctx.Stop(pid)
			}
			c.devices[gi] = pids[:target]
			continue
		}
		rate := g.Connect.Rate.PerSecond()
		if c.cfg.Share != nil && g.Count > 0 {
			rate *= float64(span.Len()) / float64(g.Count)
		}
		if rate <= 0 {
			c.tokens[gi] = float64(target - len(pids))
		} else {
			// Allow a burst of at most one tick's worth plus one device.
			c.tokens[gi] = min(c.tokens[gi]+rate*dt, rate*c.cfg.Tick.Seconds()+1)
		}
		for len(pids) < target && c.tokens[gi] >= 1 {
			idx := span.Lo + len(pids)
			plan, ok := c.sc.Plan(g.First + idx)
			if !ok {
				break
			}
			props := actor.PropsFromProducer(newDevice(c.cfg.Env, plan))
			pid, err := ctx.SpawnNamed(props, fmt.Sprintf("%s-%d", g.Name, idx))
			if err != nil {
				// A name still taken by a device stopping after a ramp-down.
				pid = ctx.Spawn(props)
			}
			c.cfg.Env.Recorder.Tally(metrics.Group(c.cfg.Env.Groups, gi)).Inc(metrics.DevicesStarted)
			c.cfg.Env.Endpoints.assign(g.First + idx)
			pids = append(pids, pid)
			c.alive++
			c.tokens[gi]--
		}
		c.devices[gi] = pids
	}
	if len(c.done) > 0 {
		c.maybeEndEarly(ctx)
		if c.phase != PhaseRamp {
			return
		}
	}
	next := c.cfg.Tick
	if c.rampComplete() {
		// Nothing left to spawn: the next tick only ends the load (an idle
		// fleet costs no coordinator wake-ups).
		next = c.sc.Duration - elapsed
	}
	if left := c.sc.Duration - elapsed; left < next {
		next = left
	}
	c.after(next, spawnTick{})
}

// span returns the coordinator's range of group gi's devices.
func (c *coordinator) span(gi int) Span {
	if c.cfg.Share == nil {
		return Span{0, c.sc.Groups[gi].Count}
	}
	return c.cfg.Share[gi]
}

// share returns how many of group gi's target devices are this
// coordinator's: the devices of its span the whole fleet would have
// started by now, spread so that the nodes' shares add up to target
// exactly.
func (c *coordinator) share(gi, target int) int {
	n := c.sc.Groups[gi].Count
	if c.cfg.Share == nil || n == 0 {
		return target
	}
	s := c.cfg.Share[gi]
	return target*s.Hi/n - target*s.Lo/n
}

// maybeEndEarly starts the drain before the scenario's duration when
// nothing is left to publish: the ramp is complete (no stage left to
// change the target and every group at it), and every device has sent
// its planned count. A scenario with hold: true, a publish without a count
// or a node of a distributed run (whose share must end with the others)
// runs its whole duration.
func (c *coordinator) maybeEndEarly(ctx actor.Context) {
	if c.phase != PhaseRamp || c.sc.Hold || c.cfg.Node || !c.rampComplete() {
		return
	}
	spawned := 0
	for _, pids := range c.devices {
		spawned += len(pids)
	}
	if spawned == 0 || len(c.done) < spawned {
		return
	}
	for gi, pids := range c.devices {
		first := c.sc.Groups[gi].First + c.span(gi).Lo
		for i := range pids {
			if _, ok := c.done[first+i]; !ok {
				return
			}
		}
	}
	c.cfg.Env.Logger.Info("every device has sent its messages: draining early",
		"elapsed", c.cfg.Env.Clock.Now().Sub(c.start).Round(time.Millisecond), "duration", c.sc.Duration)
	c.drain(ctx)
}

// rampComplete reports whether every group has reached the target it
// will hold until the end of the run: its device count is the target now
// and at every later stage boundary (the ramp is linear in between).
func (c *coordinator) rampComplete() bool {
	elapsed := c.cfg.Env.Clock.Now().Sub(c.start)
	check := func(at time.Duration) bool {
		targets := c.sc.GroupTargetsAt(min(at, c.sc.Duration), nil)
		for gi := range c.sc.Groups {
			if len(c.devices[gi]) != c.share(gi, targets[gi]) {
				return false
			}
		}
		return true
	}
	if !check(elapsed) || !check(c.sc.Duration) {
		return false
	}
	var at time.Duration
	for _, st := range c.sc.Stages {
		at += st.Duration
		if at > elapsed && at < c.sc.Duration && !check(at) {
			return false
		}
	}
	return true
}

// drain stops publishing and waits the drain period for in-flight messages.
func (c *coordinator) drain(ctx actor.Context) {
	if c.phase != PhaseRamp {
		return
	}
	c.phase = PhaseDrain
	c.drainAt = c.cfg.Env.Clock.Now()
	for _, pids := range c.devices {
		for _, pid := range pids {
			ctx.Send(pid, stopPublishing{})
		}
	}
	d := c.sc.Drain
	if c.interrupted {
		// Ctrl-C: the user wants the result now; what is in flight
		// arrives within seconds or is lost either way.
		d = min(d, InterruptDrain)
	}
	c.after(d, drainDone{})
}

// InterruptDrain bounds the drain of an interrupted run (the scenario's
// drain, if shorter): a long drain is for late deliveries of a run that
// ran its course, not for a user waiting on Ctrl-C.
const InterruptDrain = 5 * time.Second

// stopDevices stops every device actor (each sends DISCONNECT).
func (c *coordinator) stopDevices(ctx actor.Context) {
	if c.phase != PhaseDrain {
		return
	}
	c.phase = PhaseStopping
	c.drainEnd()
	for _, child := range ctx.Children() {
		ctx.Stop(child)
	}
	if c.alive <= 0 {
		c.finish(ctx)
		return
	}
	c.after(c.cfg.StopTimeout, stopTimeout{})
}

func (c *coordinator) snapshot() {
	if c.cfg.Sample != nil {
		c.cfg.Sample()
	}
	snap := c.cfg.Env.Recorder.Snapshot(true)
	pt := snap.Point(c.start)
	pt.Tool = c.mon.Sample()
	pt.Compact() // percentiles are kept; the histograms would grow with the run
	c.series = append(c.series, pt)
	c.lastSnap = &snap
	c.lastPt = pt
	if c.cfg.Progress != nil {
		c.cfg.Progress(c.progress(&snap))
	}
}

func (c *coordinator) progress(snap *metrics.Snapshot) Progress {
	elapsed := c.cfg.Env.Clock.Now().Sub(c.start)
	p := Progress{
		Phase: c.phase, Elapsed: elapsed, Total: c.sc.Duration, Point: c.lastPt,
		Totals: metrics.TotalsFrom(&snap.Counts), Snapshot: snap,
	}
	targets := c.sc.GroupTargetsAt(min(elapsed, c.sc.Duration), nil)
	for gi := range c.sc.Groups {
		p.Target += c.share(gi, targets[gi])
		p.Fleet += c.span(gi).Len()
	}
	for _, pids := range c.devices {
		p.Spawned += len(pids)
	}
	p.Stage = StageAt(c.sc, elapsed)
	return p
}

// finish closes the accounting and hands the result over.
func (c *coordinator) finish(ctx actor.Context) {
	if c.phase == PhaseDone {
		return
	}
	c.phase = PhaseDone
	c.stopTimers()
	rec := c.cfg.Env.Recorder
	if !c.cfg.Node {
		// Once nothing more can arrive (see CloseLoss).
		var cnt metrics.Counts
		for q := 0; q < metrics.NumQoS; q++ {
			cnt.QoS[metrics.Expected][q] = rec.GetQoS(metrics.Expected, q)
			cnt.QoS[metrics.Received][q] = rec.GetQoS(metrics.Received, q)
			cnt.QoS[metrics.Duplicates][q] = rec.GetQoS(metrics.Duplicates, q)
		}
		CloseLoss(&cnt)
		for q := 0; q < metrics.NumQoS; q++ {
			rec.AddQoS(metrics.Lost, q, cnt.QoS[metrics.Lost][q])
		}
	}
	if c.cfg.Sample != nil {
		c.cfg.Sample()
	}
	final := rec.Snapshot(true)
	if c.cfg.Final != nil {
		c.cfg.Final(&final)
	}
	pt := final.Point(c.start)
	pt.Tool = c.mon.Sample()
	if pt.Seconds > 0.01 {
		c.series = append(c.series, pt)
	}
	c.drainEnd()
	res := metrics.NewResult(&final, c.series)
	c.fill(res)
	c.fillLoad(res, &final)
	res.EndedAt = time.Now()
	if c.cfg.Done != nil {
		c.cfg.Done(res)
	}
	ctx.Stop(c.self)
}

// backoffStrategy restarts a failed device after 1 s, 2 s, 4 s … up to the
// maximum, as the SDK's reconnect does; the count resets after a quiet
// period of twice the maximum.
type backoffStrategy struct {
	min, max time.Duration
}

// HandleFailure implements actor.SupervisorStrategy.
func (s *backoffStrategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, _ any, _ any) {
	if rs.NumberOfFailures(2*s.max) == 0 {
		rs.Reset()
	}
	rs.Fail()
	d := s.min
	for i := 1; i < rs.FailureCount() && d < s.max; i++ {
		d *= 2
	}
	d = min(d, s.max)
	time.AfterFunc(d, func() { sup.RestartChildren(child) })
}
