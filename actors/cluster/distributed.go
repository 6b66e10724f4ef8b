package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Distribution spreads a run over worker nodes (fleetbench worker) on
// Proto.Actor remote.
type Distribution struct {
	// Workers are the workers' host:port addresses.
	Workers []string
	// Names, when set, name the workers in logs and results (by index;
	// default the address), e.g. "local-1" for local worker processes.
	Names []string
	// NoLocal keeps the coordinator's own machine out of the fleet; by
	// default it runs a share of the devices too.
	NoLocal bool
	// Remote is the coordinator's transport (default listen 127.0.0.1:0);
	// its token and TLS must match the workers'.
	Remote RemoteOptions
	// Source and Sets are the scenario text and its --set overrides:
	// every node loads the scenario from them exactly as the coordinator
	// did.
	Source []byte
	Sets   []string
	// Version is this fleetbench's version; workers must run the same.
	Version string
	// Pings is the number of clock-offset samples per node (default 16).
	Pings int
}

// planned is one node of a distributed run before it starts.
type planned struct {
	ClusterNode
	cpus int
	max  int64
	host string
}

// NodePlan is one node of a distributed run as PlanWorkers found it.
type NodePlan struct {
	// Name is "local" or the worker's address; Host its hostname.
	Name, Host string
	// CPUs and MaxDevices are its capacity (MaxDevices from its
	// open-files limit).
	CPUs       int
	MaxDevices int64
	// Offset is its clock minus this machine's, known to ±Uncertainty.
	Offset, Uncertainty time.Duration
	// Devices is its share of the scenario and Ranges which devices
	// ("group[lo,hi)").
	Devices int
	Ranges  []string
}

// PlanWorkers does everything a distributed run does before it loads the
// scenario on the nodes — reach every worker with the token, read its
// capacity, measure its clock offset, partition the fleet — and reports
// it, without connecting any device.
func PlanWorkers(ctx context.Context, sc *scenarios.Scenario, d Distribution) ([]NodePlan, error) {
	sys, r, closeRemote, err := reachWorkers(ctx, &d, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer closeRemote()
	nodes, err := spawnNodes(sys, r, &d, slog.New(slog.DiscardHandler))
	defer releaseNodes(sys, nodes)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := syncClocks(sys, nodes, &d); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	perr := partition(sc, nodes)
	out := make([]NodePlan, len(nodes))
	for i, n := range nodes {
		out[i] = NodePlan{Name: n.Name, Host: n.host, CPUs: n.cpus, MaxDevices: n.max, Offset: n.Offset, Uncertainty: n.Uncertainty,
			Ranges: RangeNames(sc, n.Share)}
		for _, s := range n.Share {
			out[i].Devices += s.Len()
		}
	}
	if perr != nil {
		return out, fmt.Errorf("cluster: %w", perr)
	}
	return out, nil
}

// reachWorkers starts this machine's remote transport (Listen defaults to
// 127.0.0.1:0) and checks that every worker answers and takes the token,
// before anything else happens. closeRemote ends the transport.
func reachWorkers(ctx context.Context, d *Distribution, log *slog.Logger) (sys *actor.ActorSystem, r *remote.Remote, closeRemote func(), err error) {
	if d.Remote.Listen == "" {
		d.Remote.Listen = "127.0.0.1:0"
	}
	if d.Pings <= 0 {
		d.Pings = 16
	}
	if err := reachableFromWorkers(d); err != nil {
		return nil, nil, nil, fmt.Errorf("cluster: %w", err)
	}
	sys = actors.NewActorSystem()
	r, self, err := startRemote(sys, &d.Remote)
	if err != nil {
		sys.Shutdown()
		return nil, nil, nil, fmt.Errorf("cluster: %w", err)
	}
	closeRemote = func() { r.Shutdown(false); sys.Shutdown() }
	log.Info("coordinator listening", "addr", self, "workers", len(d.Workers))
	if err := probeWorkers(ctx, d); err != nil {
		closeRemote()
		return nil, nil, nil, fmt.Errorf("cluster: %w", err)
	}
	return sys, r, closeRemote, nil
}

// probeWorkers checks, in parallel, that every worker answers and takes
// the token.
func probeWorkers(ctx context.Context, d *Distribution) error {
	errs := make([]error, len(d.Workers))
	done := make(chan int, len(d.Workers))
	for i, w := range d.Workers {
		go func() { errs[i] = probeWorker(ctx, &d.Remote, w); done <- i }()
	}
	for range d.Workers {
		<-done
	}
	return errors.Join(errs...)
}

// releaseNodes stops the nodes and waits (up to 10 s) until they are gone,
// so their workers take the next run at once. A node that cannot be
// reached gives its worker back after 2 minutes by itself.
func releaseNodes(sys *actor.ActorSystem, nodes []*planned) {
	futures := make([]actor.Future, len(nodes))
	for i, n := range nodes {
		futures[i] = sys.Root.StopFuture(n.PID)
	}
	for _, f := range futures {
		_ = f.Wait()
	}
}

// Run runs sc over the workers of d (and this machine unless NoLocal): it
// checks every worker answers and accepts the token, measures each node's
// clock offset, partitions the fleet by group and index range weighted by
// the nodes' CPUs, has every node load its share, starts them together and
// merges their reports. Cancelling ctx interrupts the run, as in
// actors.Run.
func Run(ctx context.Context, sc *scenarios.Scenario, opts actors.Options, d *Distribution) (*metrics.Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Memory {
		return nil, errors.New("cluster: --memory cannot be used with workers (devices on other machines need TCP)")
	}
	for _, g := range sc.Groups {
		// The emulator's cloud side calls the devices of its own process
		// only; the nodes have no driver for it.
		if g.RRPC != nil {
			return nil, fmt.Errorf("cluster: %s: rrpc runs on a single node only (the embedded emulator calls the devices of its own process): run without --workers or --local-workers", g.RRPC.Pos)
		}
	}
	sys, r, closeRemote, err := reachWorkers(ctx, d, log)
	if err != nil {
		return nil, err
	}
	defer closeRemote()

	_, auth := actors.PlanIndex(sc)
	var emb *actors.Embedded
	var ep hal.Endpoint
	if sc.Broker.URL == "" {
		host, _, _ := net.SplitHostPort(d.Remote.Listen)
		emb, err = actors.StartEmbedded(ctx, sc, auth, net.JoinHostPort(host, "0"), opts, log)
		if err != nil {
			return nil, err
		}
		defer emb.Close()
		adv := host
		if d.Remote.Advertise != "" {
			adv, _, _ = net.SplitHostPort(d.Remote.Advertise)
		}
		ep = hal.Endpoint{Transport: hal.TCP, Host: adv, Port: uint16(emb.Port())}
	} else {
		if err := actors.CheckOutages(sc); err != nil {
			return nil, err
		}
		if ep, err = actors.CheckEndpoints(sc); err != nil {
			return nil, err
		}
	}

	nodes, err := spawnNodes(sys, r, d, log)
	// From here on, the nodes hold their workers: release them unless the
	// run starts.
	started := false
	defer func() {
		if !started {
			releaseNodes(sys, nodes)
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := syncClocks(sys, nodes, d); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := partition(sc, nodes); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	local, brokerConns := 0, 0
	if emb != nil {
		brokerConns = sc.Total() // the broker's end of every device's connection
	}
	if !d.NoLocal {
		for _, s := range nodes[0].Share { // the coordinator's own devices
			local += s.Len()
		}
	}
	if _, err := hal.RaiseFDLimit(actors.FDNeed(local, brokerConns)); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	epoch := time.Now()
	if err := prepareNodes(sys, sc, nodes, d, ep, epoch); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if ctx.Err() != nil {
		return nil, errors.New("cluster: interrupted before the run started")
	}

	progress, stop, err := actors.LiveProgress(opts, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	finished := make(chan *metrics.Result, 1)
	cfg := ClusterConfig{
		Scenario: sc, Logger: log, Progress: progress,
		Done:    func(r *metrics.Result) { finished <- r },
		Partial: opts.Partial, PartialEvery: opts.PartialEvery, Epoch: epoch,
	}
	for _, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, n.ClusterNode)
	}
	if emb != nil {
		cfg.Broker = emb
	}
	started = true // the cluster coordinator stops the nodes from now on
	coord := sys.Root.Spawn(NewClusterProps(cfg))
	res := actors.Await(ctx, sys, coord, finished, opts.Abort, log)
	actors.FinishMeta(res, sc, emb, ep)
	res.Meta.Host += fmt.Sprintf(" (coordinator of %d nodes)", len(nodes))
	return res, nil
}

// reachableFromWorkers refuses a coordinator (and embedded broker) on
// loopback when a worker is on another machine: the worker could not send
// its reports back or reach the broker.
func reachableFromWorkers(d *Distribution) error {
	addr := d.Remote.Listen
	if d.Remote.Advertise != "" {
		addr = d.Remote.Advertise
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopback(host) {
		return nil // validated when the transport starts
	}
	for _, w := range d.Workers {
		if h, _, err := net.SplitHostPort(w); err == nil && !isLoopback(h) {
			return fmt.Errorf("worker %s is on another machine but this coordinator listens on %s, which it cannot reach: "+
				"set --listen to an address the workers can reach (and --token-file)", w, addr)
		}
	}
	return nil
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// spawnNodes spawns the run's node actor on every worker (and locally).
func spawnNodes(sys *actor.ActorSystem, r *remote.Remote, d *Distribution, log *slog.Logger) ([]*planned, error) {
	var nodes []*planned
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	if !d.NoLocal {
		limit, _ := hal.RaiseFDLimit(1 << 20)
		clock := hal.NewSystemClock()
		props := NewNodeProps(NodeConfig{
			Setup:   func(p *remotepb.Prepare) (*NodeSetup, error) { return setupNode(p, clock, log, nil) },
			Clock:   clock,
			Version: d.Version, MaxDevices: actors.DevicesPerProcess(limit), Logger: log,
		})
		pid, err := sys.Root.SpawnNamed(props, "run-"+run+"-local")
		if err != nil {
			return nil, fmt.Errorf("local node: %w", err)
		}
		nodes = append(nodes, &planned{ClusterNode: ClusterNode{Name: "local", Address: sys.Address(), PID: pid}})
	}
	for i, w := range d.Workers {
		resp, err := r.SpawnNamed(w, fmt.Sprintf("run-%s-%d", run, i), NodeKind, 10*time.Second)
		if err != nil {
			return nodes, fmt.Errorf("worker %s: start its node: %w", w, err)
		}
		if code := remote.ResponseStatusCode(resp.StatusCode); code != remote.ResponseStatusCodeOK {
			return nodes, fmt.Errorf("worker %s: start its node: %s (is it a fleetbench worker of this version?)", w, code)
		}
		name := w
		if i < len(d.Names) && d.Names[i] != "" {
			name = d.Names[i]
		}
		nodes = append(nodes, &planned{ClusterNode: ClusterNode{Name: name, Address: w, PID: resp.Pid}})
	}
	return nodes, nil
}

// syncClocks estimates every node's clock offset from repeated ping-pongs,
// keeping the sample with the smallest round trip: offset = node clock −
// midpoint of the round trip, known to ± half that round trip. It also
// reads each node's version and capacity.
func syncClocks(sys *actor.ActorSystem, nodes []*planned, d *Distribution) error {
	for _, n := range nodes {
		best := time.Duration(-1)
		for i := 0; i < d.Pings; i++ {
			t0 := time.Now()
			res, err := sys.Root.RequestFuture(n.PID, &remotepb.Ping{Seq: uint64(i)}, 5*time.Second).Result()
			t1 := time.Now()
			if err != nil {
				return fmt.Errorf("node %s: clock ping: %w", n.Name, err)
			}
			pong, ok := res.(*remotepb.Pong)
			if !ok {
				return fmt.Errorf("node %s: clock ping: unexpected answer %T", n.Name, res)
			}
			if d.Version != "" && pong.Version != d.Version {
				return fmt.Errorf("node %s runs fleetbench %s, this coordinator %s: run the same version everywhere", n.Name, pong.Version, d.Version)
			}
			rtt := t1.Sub(t0)
			if best < 0 || rtt < best {
				best = rtt
				mid := t0.UnixNano() + rtt.Nanoseconds()/2
				n.Offset = time.Duration(pong.UnixNano - mid)
				n.Uncertainty = rtt / 2
				n.cpus, n.max, n.host = int(pong.Cpus), pong.MaxDevices, pong.Hostname
			}
		}
	}
	return nil
}

// partition splits every group into contiguous index ranges, one per node,
// sized in proportion to the nodes' CPUs (largest remainder), and checks
// no node gets more devices than its open-files limit allows.
func partition(sc *scenarios.Scenario, nodes []*planned) error {
	weights := make([]int, len(nodes))
	sum := 0
	for i, n := range nodes {
		weights[i] = max(1, n.cpus)
		sum += weights[i]
	}
	for _, n := range nodes {
		n.Share = make([]actors.Span, len(sc.Groups))
	}
	for gi, g := range sc.Groups {
		sizes := make([]int, len(nodes))
		rem := make([]int, len(nodes))
		given := 0
		for i := range nodes {
			sizes[i] = g.Count * weights[i] / sum
			rem[i] = g.Count * weights[i] % sum
			given += sizes[i]
		}
		for given < g.Count { // largest remainders first, earlier nodes on ties
			best := 0
			for i := range rem {
				if rem[i] > rem[best] {
					best = i
				}
			}
			sizes[best]++
			rem[best] = -1
			given++
		}
		lo := 0
		for i, n := range nodes {
			n.Share[gi] = actors.Span{Lo: lo, Hi: lo + sizes[i]}
			lo += sizes[i]
		}
	}
	for _, n := range nodes {
		total := 0
		for _, s := range n.Share {
			total += s.Len()
		}
		if n.max > 0 && int64(total) > n.max {
			return fmt.Errorf("node %s can hold %d devices (its open-files limit) but its share is %d: add workers or raise its limit", n.Name, n.max, total)
		}
	}
	return nil
}

// prepareNodes hands every node its share and waits until all are ready:
// a node that cannot load the scenario or reach nothing fails the run
// here, before any device connects.
func prepareNodes(sys *actor.ActorSystem, sc *scenarios.Scenario, nodes []*planned, d *Distribution, ep hal.Endpoint, epoch time.Time) error {
	transport := "tcp"
	if ep.Transport == hal.TLS {
		transport = "tls"
	}
	ranges := func(share []actors.Span) []*remotepb.Range {
		var out []*remotepb.Range
		for gi, s := range share {
			if s.Len() > 0 {
				out = append(out, &remotepb.Range{Group: int32(gi), Lo: int32(s.Lo), Hi: int32(s.Hi)})
			}
		}
		return out
	}
	partition := make([]*remotepb.NodeShare, len(nodes))
	for i, n := range nodes {
		partition[i] = &remotepb.NodeShare{Ranges: ranges(n.Share)}
	}
	for i, n := range nodes {
		p := &remotepb.Prepare{
			NodeName: n.Name, File: sc.File, Source: d.Source, Sets: d.Sets,
			Endpoint:      &remotepb.Endpoint{Transport: transport, Host: ep.Host, Port: uint32(ep.Port)},
			EpochUnixNano: epoch.UnixNano(), ClockOffsetNano: n.Offset.Nanoseconds(),
			Ranges: partition[i].Ranges, Partition: partition, NodeIndex: int32(i),
		}
		res, err := sys.Root.RequestFuture(n.PID, p, 60*time.Second).Result()
		if err != nil {
			return fmt.Errorf("node %s: prepare: %w", n.Name, err)
		}
		if pr, ok := res.(*remotepb.Prepared); !ok {
			return fmt.Errorf("node %s: prepare: unexpected answer %T", n.Name, res)
		} else if pr.Error != "" {
			return fmt.Errorf("node %s: %s", n.Name, pr.Error)
		}
	}
	return nil
}
