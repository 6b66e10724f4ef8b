package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/actors/cluster"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/reports"
	"github.com/fleetbench/fleetbench/scenarios"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a scenario and write its result",
		ArgsUsage: "FILE",
		Flags: append(append(scenarioFlags(), remoteFlags()...),
			&cli.StringFlag{Name: "out", Usage: "directory for result.json and the reports (default ./fleetbench-out/<timestamp>); must not hold an earlier result"},
			&cli.BoolFlag{Name: "overwrite", Usage: "with --out, replace the result of an earlier run in that directory"},
			&cli.BoolFlag{Name: "memory", Usage: "connect devices to the embedded broker through in-memory pipes instead of TCP loopback"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error (logs go to stderr)"},
			&cli.DurationFlag{Name: "partial-every", Value: 10 * time.Second, Hidden: true, Usage: "how often result.partial.json is written"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the run to FILE (go tool pprof)"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile at the end of the load to FILE"},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve live Prometheus metrics at http://ADDR/metrics during the run, e.g. 127.0.0.1:9464"},
			&cli.StringSliceFlag{Name: "threshold", Usage: `a pass/fail gate, e.g. --threshold "e2e.p99 < 50ms" (repeatable; adds to the scenario's)`},
			&cli.StringSliceFlag{Name: "workers", Usage: "spread the fleet over these fleetbench workers: HOST:PORT,HOST:PORT (see fleetbench worker)"},
			&cli.IntFlag{Name: "local-workers", Usage: "start N worker processes on this machine and spread the fleet over them (default: as many as the open-files limit needs against an external broker; 0: never)"},
			&cli.BoolFlag{Name: "local", Value: true, Usage: "with --workers, run a share of the devices on this machine too (--local=false: only on the workers)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "with --workers, where this coordinator listens for its workers (and where the embedded broker listens)"},
		),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	sc, doc, err := loadScenario(c)
	if err != nil {
		return err
	}
	gates, exprs, err := thresholds(c, sc)
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
	} else if err := checkOut(out, c.Bool("overwrite")); err != nil {
		return err
	}
	stderr := newStderr(c.App.ErrWriter)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// A read-only or full --out does not stop the run: its results go to
	// the temp directory.
	saver := &results{out: out, stderr: stderr, log: log}
	if err := saver.prepare(); err != nil {
		return usageError("%v", err)
	}

	if addr := c.String("metrics-addr"); addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return usageError("--metrics-addr %q: %v (want host:port, e.g. 127.0.0.1:9464)", addr, err)
		}
	}
	ctx, abort, stop := interruptible(c.Context, stderr, runInterrupted())
	defer stop()
	opts := actors.Options{Logger: log, Abort: abort, Memory: c.Bool("memory"), MetricsAddr: c.String("metrics-addr")}
	dist, err := distribution(c)
	if err != nil {
		return err
	}
	if dist == nil {
		lw, err := startLocalWorkers(ctx, c, sc, stderr, log)
		if err != nil {
			return err
		}
		if lw != nil {
			defer lw.Stop(10 * time.Second)
			if dist, err = localDistribution(c, lw); err != nil {
				return err
			}
		}
	}
	endProgress := func() {}
	if !c.Bool("quiet") {
		opts.Progress, endProgress = progressPrinter(stderr)
	}
	// The status line is ended before anything else is printed, however
	// the run ends.
	defer endProgress()
	// At the first snapshot after the first connect, then every 10 s,
	// everything measured so far goes to result.partial.json (temp file +
	// rename): even kill -9 leaves a parsable result.
	opts.PartialEvery = c.Duration("partial-every")
	source := doc.RedactedSource()
	opts.Partial = func(r *metrics.Result) {
		r.Scenario.File = c.Args().First()
		r.Scenario.Text = source
		r.Meta.Version = buildVersion()
		saver.partial(r)
	}
	prof, err := startProfiles(c.String("cpuprofile"), c.String("memprofile"))
	if err != nil {
		return usageError("%v", err)
	}
	defer prof.stop() // a run that fails; otherwise stopped below, with its errors reported
	if c.String("memprofile") != "" {
		// Taken at the last progress report of the load phase, while the
		// fleet is still connected (or at the end of a shorter run).
		inner := opts.Progress
		opts.Progress = func(p actors.Progress) {
			if inner != nil {
				inner(p)
			}
			if p.Phase == actors.PhaseRamp && p.Elapsed >= p.Total-2*time.Second {
				prof.heap()
			}
		}
	}
	var res *metrics.Result
	if dist != nil {
		res, err = cluster.Run(ctx, sc, opts, dist)
	} else {
		res, err = actors.Run(ctx, sc, opts)
	}
	endProgress()
	if err != nil {
		if ctx.Err() != nil { // Ctrl-C before anything was measured
			return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitInterrupted)
		}
		return cli.Exit(fmt.Sprintf("fleetbench: run failed: %v", err), exitRunFailed)
	}
	res.Scenario.File = c.Args().First()
	res.Scenario.Text = source
	res.Meta.Version = buildVersion()
	res.Meta.Command = redactionOf(c).command() // secrets by key and by value
	res.Meta.Thresholds = exprs
	// One verdict, computed once: every output renders it and the exit
	// code derives from it.
	verdict := reports.Judge(res, gates)
	profErr := prof.stop()
	saved, writeErr := saver.save(res, reports.Options{Thresholds: gates})
	// The summary is printed whatever became of the files.
	if err := reports.WriteText(c.App.Writer, res, verdict); err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	if saved == "" {
		return cli.Exit(fmt.Sprintf("fleetbench: the result could not be saved: %v", writeErr), exitRunFailed)
	}
	if writeErr != nil {
		fmt.Fprintf(stderr, "fleetbench: could not write the results to %s: %v\nfleetbench: the results are in %s instead\n", out, writeErr, saved)
	} else if saved != out {
		fmt.Fprintf(stderr, "fleetbench: the results are in %s (--out %s could not be written)\n", saved, out)
	}
	fmt.Fprintf(c.App.Writer, "\nresult: %s\nreport: %s\n", filepath.Join(saved, reports.FileJSON), filepath.Join(saved, reports.FileHTML))
	code := exitCodeFor(res.Verdict.Status)
	if profErr != nil {
		// The run is measured and saved, but what was asked for is not
		// all there.
		if code == 0 {
			return cli.Exit(fmt.Sprintf("fleetbench: %v", profErr), exitRunFailed)
		}
		fmt.Fprintf(stderr, "fleetbench: %v\n", profErr)
	}
	if code != 0 {
		return cli.Exit("fleetbench: "+verdictMessage(res), code)
	}
	return nil
}

// checkOut refuses an --out directory that holds the result of an earlier
// run (complete or partial) unless overwrite is set: nothing is replaced
// by accident.
func checkOut(out string, overwrite bool) error {
	if overwrite {
		return nil
	}
	for _, name := range []string{reports.FileJSON, filePartial} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			return usageError("--out %s holds the result of an earlier run (%s): choose another directory, or add --overwrite to replace it", out, name)
		}
	}
	return nil
}

// verdictMessage is the last line of a run that did not pass: the
// verdict, and for a fleet that never connected the first error of the
// most telling reason.
func verdictMessage(res *metrics.Result) string {
	msg := res.Verdict.Line()
	for _, r := range res.Verdict.Reasons {
		if r.Code != metrics.ReasonCodeNoDeviceConnected {
			continue
		}
		for _, reason := range []string{"tls", "refused_auth", "refused_other", "not_mqtt", "protocol", "dns", "network", "timeout", "other"} {
			if e, ok := res.FirstConnectErrors[reason]; ok {
				return msg + "\nfirst error (" + reason + "): " + e
			}
		}
	}
	if res.Verdict.Status == metrics.StatusInterrupted {
		msg += " (result written)"
	}
	return msg
}

// distribution reads --workers and the remote transport flags; nil when
// the run is not distributed.
func distribution(c *cli.Context) (*cluster.Distribution, error) {
	if c.Int("local-workers") > 0 && c.IsSet("workers") {
		return nil, usageError("--local-workers cannot be used with --workers: list every worker in --workers instead")
	}
	var workers []string
	for _, w := range c.StringSlice("workers") {
		for _, a := range strings.Split(w, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, usageError("--workers %q: %v (want HOST:PORT)", a, err)
			}
			workers = append(workers, a)
		}
	}
	if len(workers) == 0 {
		if c.IsSet("workers") {
			return nil, usageError("--workers is empty: give HOST:PORT of each fleetbench worker")
		}
		return nil, nil
	}
	if c.Bool("memory") {
		return nil, usageError("--memory cannot be used with --workers: devices on other machines need TCP")
	}
	ro, err := remoteOptions(c)
	if err != nil {
		return nil, err
	}
	src, sets, err := distributedSource(c)
	if err != nil {
		return nil, err
	}
	return &cluster.Distribution{
		Workers: workers, NoLocal: !c.Bool("local"), Remote: ro, Source: src, Sets: sets, Version: buildVersion(),
	}, nil
}

// redactArgs returns the command line with the values of --set overrides
// of secrets hidden.
func redactArgs(argv []string) string {
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = a
		if k, _, ok := strings.Cut(a, "="); ok && (strings.Contains(k, "secret") || strings.Contains(k, "password")) {
			args[i] = k + "=***"
		}
	}
	return strings.Join(args, " ")
}

// runInterrupted is what run and compare say on the first Ctrl-C.
func runInterrupted() string {
	return fmt.Sprintf("fleetbench: interrupted — draining (at most %v) and writing the result (press Ctrl-C again to stop at once)", actors.InterruptDrain)
}

// interruptible returns a context cancelled by the first SIGINT/SIGTERM,
// which prints msg, and a channel closed by the second.
func interruptible(parent context.Context, stderr io.Writer, msg string) (context.Context, <-chan struct{}, func()) {
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
					// On a terminal the status line is erased first; the
					// newline ends the ^C the terminal echoed otherwise.
					if _, ok := stderr.(*statusWriter); !ok {
						msg = "\n" + msg
					}
					fmt.Fprintln(stderr, msg)
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

// progressPrinter shows a live status line on a terminal and a log line
// every 10 s otherwise (CI logs). The returned end finishes a status line
// left on the terminal (a no-op otherwise); call it before anything else is
// printed after the run, whether it ended, failed or was interrupted.
//
// On a terminal the line is redrawn in place and fitted to the terminal's
// width (read again at every redraw), so it never wraps. In a log, the line
// shows the worst e2e p99 of the one-second intervals since the previous
// line and the p99 of the whole run so far.
func progressPrinter(w io.Writer) (show func(actors.Progress), end func()) {
	if sw, ok := w.(*statusWriter); ok {
		return func(p actors.Progress) {
			sw.status(fitProgress(p, sw.width()))
			if p.Phase == actors.PhaseDone {
				sw.end()
			}
		}, sw.end
	}
	var lastLog time.Duration = -10 * time.Second
	var window int64 // worst e2e p99 (µs) of the intervals since the last line
	var windowSeen bool
	return func(p actors.Progress) {
		if p.Point.Received > 0 {
			window, windowSeen = max(window, p.Point.E2EP99Us), true
		}
		if p.Elapsed-lastLog < 10*time.Second {
			return
		}
		lastLog = p.Elapsed
		e2e := "–"
		if windowSeen {
			e2e = fmtMicros(window)
		}
		e2e += " (worst 1s of " + tenSeconds(p) + ")"
		if p.Snapshot != nil {
			if h := p.Snapshot.Total.Kind(metrics.E2E); h.Count() > 0 {
				e2e += ", run " + fmtMicros(h.Percentile(99))
			}
		}
		window, windowSeen = 0, false
		fmt.Fprintln(w, formatProgress(p, e2e, 20))
	}, func() {}
}

// tenSeconds names the window of a log line: the last 10 s, or less at
// the start of the run.
func tenSeconds(p actors.Progress) string {
	if p.Elapsed < 10*time.Second {
		return "the run"
	}
	return "10s"
}

// progressLine is the status line of one progress report, at full length.
func progressLine(p actors.Progress) string {
	return formatProgress(p, intervalP99(p), 20)
}

// intervalP99 is the e2e p99 of the last interval, or a dash without
// deliveries.
func intervalP99(p actors.Progress) string {
	if p.Point.Received == 0 {
		return "–"
	}
	return fmtMicros(p.Point.E2EP99Us)
}

// fitProgress returns the status line fitted into width columns (one less,
// so that the cursor never reaches the last column and the terminal never
// wraps): the bar shrinks, then goes, then the line is cut.
func fitProgress(p actors.Progress, width int) string {
	limit := width - 1
	if width <= 0 {
		limit = 1 << 30
	}
	e2e := intervalP99(p)
	var line string
	for _, bar := range []int{20, 10, 0} {
		line = formatProgress(p, e2e, bar)
		if utf8.RuneCountInString(line) <= limit {
			return line
		}
	}
	if limit < 1 {
		return ""
	}
	r := []rune(line)
	return string(r[:limit-1]) + "…"
}

// formatProgress formats a status line with the given e2e p99 text and a
// bar of barWidth cells (none when 0).
func formatProgress(p actors.Progress, e2e string, barWidth int) string {
	frac := 0.0
	if p.Total > 0 {
		frac = min(1, float64(p.Elapsed)/float64(p.Total))
	}
	bar := ""
	if barWidth > 0 {
		full := int(frac * float64(barWidth))
		bar = " " + strings.Repeat("█", full) + strings.Repeat("░", barWidth-full)
	}
	stage := ""
	if p.Stage > 0 {
		stage = fmt.Sprintf(" stage %d", p.Stage)
	}
	nodes := ""
	if p.Nodes > 0 {
		nodes = fmt.Sprintf(" nodes %d", p.Nodes-p.NodesLost)
		if p.NodesLost > 0 {
			nodes += fmt.Sprintf(" (%d LOST)", p.NodesLost)
		}
	}
	// The clock stops at the planned duration; the drain counts apart.
	clock := fmt.Sprintf("%v/%v", min(p.Elapsed, p.Total).Truncate(time.Second), p.Total)
	if p.Elapsed > p.Total && p.Phase != actors.PhaseRamp {
		clock += fmt.Sprintf(" +%v", (p.Elapsed - p.Total).Truncate(time.Second))
	}
	devices := fmt.Sprintf("devices %d/%d", p.Point.Connected, p.Fleet)
	if p.Fleet == 0 {
		devices = fmt.Sprintf("devices %d", p.Point.Connected)
	}
	if p.Phase == actors.PhaseRamp && p.Target < p.Fleet {
		devices += fmt.Sprintf(" (ramp %d)", p.Target)
	}
	return fmt.Sprintf("%s%s %s%s%s %s pub %.0f/s recv %.0f/s e2e p99 %s errors %d",
		p.Phase, bar, clock, stage, nodes, devices,
		p.Point.PublishRate, p.Point.ReceiveRate, e2e,
		p.Totals.ConnectFailed+p.Totals.SubscribeFailed+p.Totals.PublishErrors)
}

func isTerminal(w io.Writer) bool {
	if l, ok := w.(*lockedWriter); ok {
		w = l.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serialises writes from the logger and the progress printer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// distributedSource is what every node of a distributed run loads the
// scenario from: the file's text and the command line's overrides.
func distributedSource(c *cli.Context) ([]byte, []string, error) {
	src, err := scenarios.ReadFileLimited(c.Args().First(), scenarios.MaxScenarioSize)
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	sets, err := scenarioSets(c, nil)
	if err != nil {
		return nil, nil, err
	}
	return src, sets, nil
}
