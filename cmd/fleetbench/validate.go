package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/actors/cluster"
	"github.com/fleetbench/fleetbench/scenarios"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a scenario file and print what it would run (with --workers: reach the workers and print the plan)",
		ArgsUsage: "FILE",
		Flags: append(append(scenarioFlags(), remoteFlags()...),
			&cli.StringSliceFlag{Name: "workers", Usage: "also check these fleetbench workers (HOST:PORT,HOST:PORT) and print how the fleet would be split"},
			&cli.BoolFlag{Name: "local", Value: true, Usage: "with --workers, count this machine as a node too (as run does)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "with --workers, where this machine listens for the workers' answers"},
			&cli.StringSliceFlag{Name: "threshold", Usage: `check a pass/fail gate as run would, e.g. --threshold "e2e.p99 < 50ms" (repeatable)`},
		),
		Action: func(c *cli.Context) error {
			sc, _, err := loadScenario(c)
			if err != nil {
				return err
			}
			// The checks run makes before it starts, thresholds included.
			gates, _, err := thresholds(c, sc)
			if err != nil {
				return err
			}
			if c.StringSlice("workers") == nil {
				warnings, err := actors.Preflight(sc, false)
				if err != nil {
					return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitUsage)
				}
				for _, w := range warnings {
					fmt.Fprintf(c.App.ErrWriter, "fleetbench: warning: %s\n", w)
				}
			}
			target := "embedded broker"
			if sc.Broker.URL != "" {
				target = sc.Broker.URL
			}
			if n := len(sc.Broker.Endpoints); n > 1 {
				target = fmt.Sprintf("%s and %d more broker endpoints", sc.Broker.URL, n-1)
			}
			fmt.Fprintf(c.App.Writer, "%s: ok — %q, %s in %s, %v (+%v drain), %s, %s, target %s\n",
				c.Args().First(), sc.Name, plural(sc.Total(), "device"), plural(len(sc.Groups), "group"), sc.Duration, sc.Drain,
				plural(len(sc.Stages), "stage"), plural(len(gates), "threshold"), target)
			if eps := sc.Broker.Endpoints; len(eps) > 1 {
				// Each endpoint with the devices it gets (by global index,
				// as the run spreads them).
				counts := make([]int, len(eps))
				for i := range sc.Total() {
					counts[sc.Broker.EndpointOf(i)]++
				}
				for i, e := range eps {
					fmt.Fprintf(c.App.Writer, "  broker.url[%d] %s: %s\n", i, sc.Redact(e.URL), plural(counts[i], "device"))
				}
				if sc.Broker.Failover == scenarios.FailoverNext {
					fmt.Fprintln(c.App.Writer, "  failover: next (a device whose endpoint fails moves to the next)")
				}
			}
			if sc.Broker.AlibabaPlatform() {
				if err := writePlatform(c, sc); err != nil {
					return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitUsage)
				}
			}
			d, err := distribution(c)
			if err != nil || d == nil {
				return err
			}
			plan, err := cluster.PlanWorkers(c.Context, sc, *d)
			if len(plan) > 0 {
				writePlan(c, plan)
			}
			if err != nil {
				return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
			}
			return nil
		},
	}
}

// writePlan prints the nodes of a distributed run: capacity, clock offset
// and share of the fleet.
func writePlan(c *cli.Context, plan []cluster.NodePlan) {
	fmt.Fprintf(c.App.Writer, "\n%d nodes (clock offsets against this machine):\n", len(plan))
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  node\thost\tcpus\tmax devices\tclock offset\tdevices\tranges")
	for _, n := range plan {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%+dµs ±%dµs\t%d\t%s\n", n.Name, n.Host, n.CPUs, n.MaxDevices,
			n.Offset.Microseconds(), n.Uncertainty.Microseconds(), n.Devices, strings.Join(n.Ranges, " "))
	}
	tw.Flush()
}

// plural returns "1 group", "2 groups".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// writePlatform prints, for broker.platform: alibaba, the endpoint and the
// identity the first device of each group signs: client id and username
// as sent, the password as <redacted> (the secret is never printed).
func writePlatform(c *cli.Context, sc *scenarios.Scenario) error {
	w := c.App.Writer
	b := sc.Broker
	var endpoint string
	switch {
	case b.Embedded():
		endpoint = "embedded broker (emulating the platform)"
	case b.PlatformEndpoint() && b.Alibaba.InstanceID != "":
		endpoint = fmt.Sprintf("%s (Enterprise instance %s)", b.Addr(), b.Alibaba.InstanceID)
	case b.PlatformEndpoint():
		endpoint = b.Addr() + " (public instance)"
	default:
		endpoint = b.Addr() + " (broker.url)"
	}
	if b.Transport == scenarios.TransportTLS && b.TLS != nil {
		switch {
		case b.TLS.InsecureSkipVerify:
			endpoint += ", TLS without verification"
		case b.TLS.CA != "":
			endpoint += ", TLS with CA " + filepath.Base(b.TLS.CA)
		default:
			endpoint += ", TLS with the system roots"
		}
	} else if !b.Embedded() {
		endpoint += ", plain TCP"
	}
	fmt.Fprintf(w, "platform alibaba: endpoint %s\n", endpoint)
	for _, g := range sc.Groups {
		if g.Count == 0 {
			continue
		}
		p, ok := sc.Plan(g.First)
		if !ok {
			continue
		}
		id, user, _, _, err := actors.SignedIdentity(sc, &p)
		if err != nil {
			return fmt.Errorf("group %s: %w", g.Name, err)
		}
		fmt.Fprintf(w, "  group %s (%s, sdk %s): device %s\n", g.Name, g.Auth, g.SDK, sc.Redact(p.DeviceName))
		fmt.Fprintf(w, "    client_id   %s\n    username    %s\n    password    <redacted>\n", sc.Redact(id), sc.Redact(user))
	}
	return nil
}
