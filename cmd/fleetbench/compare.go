package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/reports"
	"github.com/fleetbench/fleetbench/scenarios"
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:  "compare",
		Usage: "run a scenario once per --matrix combination, or compare saved results; writes compare.html and compare.json",
		ArgsUsage: "FILE --matrix key=v1,v2 …  |  A.json B.json …\n\n" +
			"   Matrix keys are --set paths (devices[0].count=100,1000) or the shorthands\n" +
			"   qos (publish and subscribe QoS of every group), publish.qos and subscribe.qos.",
		Flags: append(scenarioFlags(),
			&cli.StringSliceFlag{Name: "matrix", Usage: "key=v1,v2,…: one run per value (repeatable: every combination)"},
			&cli.StringFlag{Name: "out", Usage: "output directory (default ./fleetbench-out/compare-<timestamp>)"},
			&cli.Float64Flag{Name: "tolerance", Value: reports.DefaultTolerance, Usage: "relative change that counts as a regression (0.1 = 10%)"},
			&cli.BoolFlag{Name: "fail-on-regression", Usage: "exit 99 when the last result regressed from the first beyond the tolerance"},
			&cli.BoolFlag{Name: "memory", Usage: "embedded broker over in-memory pipes"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		),
		Action: compareAction,
	}
}

func compareAction(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return usageError("compare needs a scenario file with --matrix, or two or more result files")
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join("fleetbench-out", "compare-"+time.Now().Format("20060102-150405"))
	}
	var results []*metrics.Result
	var labels []string
	if strings.HasSuffix(args[0], ".json") {
		if len(args) < 2 {
			return usageError("compare needs at least two result files")
		}
		if c.IsSet("matrix") {
			return usageError("--matrix runs a scenario; it cannot be used with saved results")
		}
		for _, p := range args {
			res, err := loadResult(p)
			if err != nil {
				return err
			}
			results = append(results, res)
			labels = append(labels, strings.TrimSuffix(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), ".json"))
		}
	} else {
		var err error
		results, labels, err = runMatrix(c, out)
		if err != nil {
			return err
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usageError("--out: %v", err)
	}
	cmp := reports.Compare(results, labels, reports.CompareOptions{Tolerance: c.Float64("tolerance"), Version: buildVersion()})
	if err := reports.WriteFileAtomic(filepath.Join(out, "compare.html"), func(w io.Writer) error { return reports.WriteCompareHTML(w, cmp) }); err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	if err := reports.WriteFileAtomic(filepath.Join(out, "compare.json"), func(w io.Writer) error { return reports.WriteCompareJSON(w, cmp) }); err != nil {
		return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
	}
	w := c.App.Writer
	for i, r := range results {
		e2e := r.Latency.Get(metrics.E2E)
		rate := "—"
		if v, ok := r.PublishRate(); ok {
			rate = fmt.Sprintf("%.0f/s", v)
		}
		fmt.Fprintf(w, "%-28s %-17s published %8d (%8s)  received %8d  lost %6d  e2e p50 %8s  p99 %8s\n",
			labels[i], cmp.Runs[i].Status.Headline(), r.Totals.Published, rate, r.Totals.Received, r.Totals.Lost, latencyText(e2e.Count, e2e.P50), latencyText(e2e.Count, e2e.P99))
	}
	for _, rg := range cmp.Regressions {
		fmt.Fprintf(w, "regression: %s %s → %s\n", rg.Metric, rg.BaseText, rg.HeadText)
	}
	fmt.Fprintf(w, "\ncomparison: %s\n", filepath.Join(out, "compare.html"))
	if c.Bool("fail-on-regression") && len(cmp.Regressions) > 0 {
		return cli.Exit(fmt.Sprintf("fleetbench: %d regressions beyond %.0f%%", len(cmp.Regressions), c.Float64("tolerance")*100), exitThresholds)
	}
	return nil
}

// runMatrix runs the scenario once per combination of --matrix values.
func runMatrix(c *cli.Context, out string) ([]*metrics.Result, []string, error) {
	if c.NArg() != 1 {
		return nil, nil, usageError("compare runs exactly one scenario file (got %d arguments)", c.NArg())
	}
	base, _, err := loadScenario(c)
	if err != nil {
		return nil, nil, err
	}
	var axes [][]string // each: the --set lists of one value, with its label
	var names [][]string
	for _, m := range c.StringSlice("matrix") {
		key, vals, ok := strings.Cut(m, "=")
		if !ok || vals == "" {
			return nil, nil, usageError("--matrix %q: want key=v1,v2", m)
		}
		var sets, labels []string
		for _, v := range strings.Split(vals, ",") {
			expanded := base.MatrixSets(key, strings.TrimSpace(v))
			if len(expanded) == 0 {
				return nil, nil, usageError("--matrix %q: the scenario has no publish or subscribe entry for %s to change", m, key)
			}
			sets = append(sets, strings.Join(expanded, "\x00"))
			labels = append(labels, key+"="+strings.TrimSpace(v))
		}
		axes, names = append(axes, sets), append(names, labels)
	}
	if len(axes) == 0 {
		return nil, nil, usageError("compare FILE needs at least one --matrix key=v1,v2")
	}
	// Every combination is loaded and validated before the first one runs.
	type plan struct {
		sc   *scenarios.Scenario
		doc  *scenarios.Document
		name string
	}
	var plans []plan
	for _, combo := range product(len(axes), func(i int) int { return len(axes[i]) }) {
		var extra, label []string
		for axis, v := range combo {
			extra = append(extra, strings.Split(axes[axis][v], "\x00")...)
			label = append(label, names[axis][v])
		}
		sc, doc, err := loadScenarioWith(c, extra)
		if err != nil {
			return nil, nil, err
		}
		plans = append(plans, plan{sc, doc, strings.Join(label, " ")})
	}
	var results []*metrics.Result
	var labels []string
	for _, p := range plans {
		sc, doc, name := p.sc, p.doc, p.name
		fmt.Fprintf(c.App.ErrWriter, "fleetbench compare: running %s\n", name)
		opts := actors.Options{Memory: c.Bool("memory")}
		stderr := newStderr(c.App.ErrWriter)
		endProgress := func() {}
		if !c.Bool("quiet") {
			opts.Progress, endProgress = progressPrinter(stderr)
		}
		ctx, abort, stop := interruptible(c.Context, stderr, runInterrupted())
		opts.Abort = abort
		res, err := actors.Run(ctx, sc, opts)
		endProgress()
		stop()
		if err != nil {
			return nil, nil, cli.Exit(fmt.Sprintf("fleetbench: run %s failed: %v", name, err), exitRunFailed)
		}
		res.Scenario.File = c.Args().First()
		res.Scenario.Text = doc.RedactedSource()
		res.Meta.Version = buildVersion()
		dir := filepath.Join(out, strings.NewReplacer(" ", "_", "/", "_", "=", "-").Replace(name))
		if err := reports.WriteAll(dir, res, reports.Options{}); err != nil {
			return nil, nil, cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
		}
		results, labels = append(results, res), append(labels, name)
		if res.Interrupted {
			return results, labels, nil
		}
	}
	return results, labels, nil
}

// product lists every combination of indexes over n axes.
func product(n int, size func(int) int) [][]int {
	out := [][]int{{}}
	for axis := 0; axis < n; axis++ {
		var next [][]int
		for _, prefix := range out {
			for v := 0; v < size(axis); v++ {
				next = append(next, append(append([]int(nil), prefix...), v))
			}
		}
		out = next
	}
	return out
}

// latencyText formats a latency as the reports do (1.51ms), a dash when
// nothing was measured.
func latencyText(count, us int64) string {
	if count == 0 {
		return "–"
	}
	return fmtMicros(us)
}
