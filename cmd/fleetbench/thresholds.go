package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/reports"
	"github.com/fleetbench/fleetbench/scenarios"
)

// thresholds parses the scenario's thresholds and the --threshold flags.
// An unknown metric or a malformed expression is a scenario error (exit 2)
// that names where it was written.
func thresholds(c *cli.Context, sc *scenarios.Scenario) ([]reports.Threshold, []string, error) {
	var out []reports.Threshold
	var exprs []string
	var problems []string
	for i, th := range sc.Thresholds {
		t, err := reports.ParseThreshold(th.Expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: thresholds[%d]: %v%s", th.Pos, i, err, th.From()))
			continue
		}
		out, exprs = append(out, t), append(exprs, th.Expr)
	}
	for _, expr := range c.StringSlice("threshold") {
		t, err := reports.ParseThreshold(expr)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--threshold %q: %v", expr, err))
			continue
		}
		out, exprs = append(out, t), append(exprs, expr)
	}
	if len(problems) > 0 {
		return nil, nil, cli.Exit(strings.Join(problems, "\n"), exitUsage)
	}
	return out, exprs, nil
}
