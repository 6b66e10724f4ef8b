package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a scenario and write its result",
		ArgsUsage: "FILE",
		Flags: append(scenarioFlags(),
			&cli.StringFlag{Name: "out", Usage: "directory for result.json (default ./fleetbench-out/<timestamp>)"},
			&cli.BoolFlag{Name: "memory", Usage: "connect devices to the embedded broker through in-memory pipes instead of TCP loopback"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error (logs go to stderr)"},
		),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	sc, _, err := loadScenario(c)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usageError("--log-level: %v", err)
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join("fleetbench-out", time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usageError("--out: %v", err)
	}
	stderr := c.App.ErrWriter
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, abort, stop := interruptible(c.Context, stderr)
	defer stop()
	opts := engine.Options{Logger: log, Abort: abort, Memory: c.Bool("memory")}
	if !c.Bool("quiet") {
		opts.Progress = progressPrinter(stderr)
	}
	res, err := engine.Run(ctx, sc, opts)
	if err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: run failed: %v", err), exitRunFailed)
	}
	res.Scenario.File = c.Args().First()
	path := filepath.Join(out, "result.json")
	if err := writeResult(path, res); err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	printSummary(c.App.Writer, res)
	fmt.Fprintf(c.App.Writer, "\nresult: %s\n", path)
	if res.Interrupted {
		return cli.Exit("fleetbench: run interrupted; partial result written", exitInterrupted)
	}
	return nil
}

// interruptible returns a context cancelled by the first SIGINT/SIGTERM and
// a channel closed by the second.
func interruptible(parent context.Context, stderr io.Writer) (context.Context, <-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(parent)
	abort := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case <-sig:
				n++
				if n == 1 {
					fmt.Fprintln(stderr, "\nfleetbench: interrupted — draining and writing the result (press Ctrl-C again to stop at once)")
					cancel()
				} else {
					close(abort)
					return
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, abort, func() { signal.Stop(sig); close(done); cancel() }
}

// writeResult writes result.json atomically.
func writeResult(path string, res *metrics.Result) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".result-*.json")
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := res.Encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write result %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// progressPrinter shows a live status line on a terminal and a log line
// every 10 s otherwise (CI logs).
func progressPrinter(w io.Writer) func(actors.Progress) {
	tty := isTerminal(w)
	var lastLog time.Duration = -10 * time.Second
	return func(p actors.Progress) {
		line := progressLine(p)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Phase == actors.PhaseDone {
				fmt.Fprintln(w)
			}
			return
		}
		if p.Elapsed-lastLog >= 10*time.Second {
			lastLog = p.Elapsed
			fmt.Fprintln(w, line)
		}
	}
}

func progressLine(p actors.Progress) string {
	frac := 0.0
	if p.Total > 0 {
		frac = min(1, float64(p.Elapsed)/float64(p.Total))
	}
	const width = 20
	bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
	stage := ""
	if p.Stage > 0 {
		stage = fmt.Sprintf(" stage %d", p.Stage)
	}
	return fmt.Sprintf("%s %s %v/%v%s devices %d/%d pub %.0f/s recv %.0f/s e2e p99 %s errors %d",
		p.Phase, bar, p.Elapsed.Truncate(time.Second), p.Total, stage, p.Point.Connected, p.Target,
		p.Point.PublishRate, p.Point.ReceiveRate, time.Duration(p.Point.E2EP99Us)*time.Microsecond,
		p.Totals.ConnectFailed+p.Totals.PublishErrors)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
