package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors/cluster"
	"github.com/fleetbench/fleetbench/scenarios"
)

// localWorkerCount is how many local worker processes a run starts:
// --local-workers N, or — when it is not given, the broker is external and
// the fleet needs more open files than this process may have — as many as
// the limit needs.
func localWorkerCount(c *cli.Context, sc *scenarios.Scenario) (n int, auto bool, err error) {
	if c.IsSet("local-workers") {
		n = c.Int("local-workers")
		switch {
		case n < 0:
			return 0, false, usageError("--local-workers %d: want a number of processes, 0 or more", n)
		case n > 0 && c.Bool("memory"):
			return 0, false, usageError("--memory cannot be used with --local-workers: devices in other processes need TCP")
		case n > sc.Total():
			return 0, false, usageError("--local-workers %d: more processes than the scenario's %d devices", n, sc.Total())
		}
		return n, false, nil
	}
	if sc.Broker.Embedded() || c.Bool("memory") || c.IsSet("workers") {
		return 0, false, nil
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, false, nil
	}
	return cluster.LocalWorkersFor(sc.Total(), l.Max), true, nil
}

// startLocalWorkers starts the run's local worker processes, if any.
func startLocalWorkers(ctx context.Context, c *cli.Context, sc *scenarios.Scenario, stderr io.Writer, log *slog.Logger) (*cluster.LocalWorkers, error) {
	n, auto, err := localWorkerCount(c, sc)
	if err != nil || n == 0 {
		return nil, err
	}
	if auto {
		fmt.Fprintf(stderr, "fleetbench: %d devices need more open files than one process may have here: starting %d local worker processes (--local-workers 0 turns this off)\n", sc.Total(), n)
	}
	lw, err := cluster.StartLocal(ctx, cluster.LocalOptions{N: n, Stderr: stderr, Logger: log, LogLevel: c.String("log-level")})
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(stderr, "fleetbench: %d local workers listening (pids %v)\n", n, lw.PIDs)
	}
	return lw, nil
}

// localDistribution spreads the run over the local workers only: the
// coordinator process coordinates (and hosts the embedded broker, if the
// scenario uses it) but runs no devices.
func localDistribution(c *cli.Context, lw *cluster.LocalWorkers) (*cluster.Distribution, error) {
	src, sets, err := distributedSource(c)
	if err != nil {
		return nil, err
	}
	return &cluster.Distribution{
		Workers: lw.Addrs, Names: lw.Names, NoLocal: true,
		Remote: cluster.RemoteOptions{Listen: "127.0.0.1:0", Token: lw.Token},
		Source: src, Sets: sets, Version: buildVersion(),
	}, nil
}
