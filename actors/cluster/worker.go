package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/remote"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// WorkerOptions configure a worker: a long-lived node that runs its share
// of distributed runs' devices.
type WorkerOptions struct {
	// Remote is the worker's transport: where it listens, its token, TLS.
	Remote RemoteOptions
	// Logger receives the worker's logs (default: discard).
	Logger *slog.Logger
	// Version is reported to coordinators, which refuse mixed versions.
	Version string
	// Ready, when set, is called with the worker's address once it listens.
	Ready func(addr string)
	// Clock is the worker's clock (default: the system clock).
	Clock hal.Clock
	// Secrets, when set, is given the secrets of every scenario a
	// coordinator sends (device secrets, passwords, tokens), before
	// anything of that run is logged, so the worker's output can hide them.
	Secrets func(values ...string)
}

// ServeWorker registers the node kind on the remote transport and serves
// coordinators, one run at a time, until ctx ends.
func ServeWorker(ctx context.Context, opts WorkerOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limit, _ := hal.RaiseFDLimit(1 << 20) // as high as allowed; the share is checked at Prepare
	clock := opts.Clock
	if clock == nil {
		clock = hal.NewSystemClock()
	}
	busy := &atomic.Bool{}
	props := NewNodeProps(NodeConfig{
		Setup:   func(p *remotepb.Prepare) (*NodeSetup, error) { return setupNode(p, clock, log, opts.Secrets) },
		Version: opts.Version, MaxDevices: actors.DevicesPerProcess(limit), Busy: busy, Logger: log, Clock: clock,
	})
	sys := actors.NewActorSystem()
	defer sys.Shutdown()
	r, addr, err := startRemote(sys, &opts.Remote, remote.NewKind(NodeKind, props))
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	log.Info("worker ready", "addr", addr, "token", opts.Remote.Token != "", "tls", opts.Remote.TLS != nil, "max_devices", actors.DevicesPerProcess(limit))
	if opts.Ready != nil {
		opts.Ready(addr)
	}
	<-ctx.Done()
	log.Info("worker stopping")
	r.Shutdown(false)
	return nil
}

// setupNode loads a node's share of a distributed run: the scenario as the
// coordinator loaded it (same text, same --set overrides), the devices'
// environment on the shared run epoch, and the broker endpoint.
func setupNode(p *remotepb.Prepare, clock hal.Clock, log *slog.Logger, secrets func(...string)) (*NodeSetup, error) {
	doc, err := scenarios.ParseDocument(p.File, p.Source)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	for _, s := range p.Sets {
		if err := doc.ApplySetArg(s); err != nil {
			return nil, fmt.Errorf("scenario: --set %s: %w", s, err)
		}
	}
	sc, err := doc.Scenario()
	if err != nil {
		return nil, fmt.Errorf("scenario on this node (the files it names and the ${env:…} variables it reads must exist on every node): %w", err)
	}
	if secrets != nil {
		secrets(sc.Secrets()...)
	}
	log = log.With("node", p.NodeName)
	env, dialer, _, err := actors.NewNodeEnv(sc, clock, log)
	if err != nil {
		return nil, err
	}
	env.Epoch = time.Unix(0, p.EpochUnixNano+p.ClockOffsetNano)
	for _, g := range sc.Groups {
		for _, s := range g.Subscribe {
			for q := 0; q <= int(s.QoS); q++ {
				_ = env.Recorder.Prepare(metrics.E2ECrossNode, q) // valid kind and QoS
			}
		}
	}
	share := 0
	for _, r := range p.Ranges {
		share += int(r.Hi - r.Lo)
	}
	if _, err := hal.RaiseFDLimit(uint64(share) + 512); err != nil {
		return nil, err
	}
	if sc.Broker.URL != "" {
		if err = actors.UseExternalEndpoints(sc, env, dialer); err != nil {
			return nil, err
		}
	} else {
		ep := p.Endpoint
		if ep == nil || ep.Host == "" || ep.Port == 0 {
			return nil, fmt.Errorf("no broker endpoint for node %s", p.NodeName)
		}
		env.Endpoint = hal.Endpoint{Transport: hal.TCP, Host: ep.Host, Port: uint16(ep.Port)}
	}
	return &NodeSetup{Scenario: sc, Env: env}, nil
}
