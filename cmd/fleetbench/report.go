package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/reports"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "re-render reports (HTML, JUnit, Markdown, text) from saved result.json files, without re-running",
		ArgsUsage: "RESULT.json...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output directory (default: beside each result; with several results, one subdirectory each)"},
			&cli.StringSliceFlag{Name: "threshold", Usage: "judge by these thresholds too (the run's own are kept)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError("report needs at least one result.json")
			}
			failed := false
			for _, path := range c.Args().Slice() {
				res, err := loadResult(path)
				if err != nil {
					return err
				}
				gates, err := parseGates(append(append([]string(nil), res.Meta.Thresholds...), c.StringSlice("threshold")...))
				if err != nil {
					return err
				}
				out := filepath.Dir(path)
				if o := c.String("out"); o != "" {
					out = o
					if c.NArg() > 1 {
						out = filepath.Join(o, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
					}
				}
				if err := reports.WriteAll(out, res, reports.Options{Thresholds: gates}); err != nil {
					return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
				}
				verdict := reports.Evaluate(res, gates)
				reports.WriteText(c.App.Writer, res, verdict)
				fmt.Fprintf(c.App.Writer, "\nreport: %s\n", filepath.Join(out, reports.FileHTML))
				failed = failed || !verdict.Passed()
			}
			if failed {
				return cli.Exit("fleetbench: a threshold failed", exitThresholds)
			}
			return nil
		},
	}
}

// loadResult reads a saved result; a file that is not one is a usage error.
func loadResult(path string) (*metrics.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("%v", err)
	}
	defer f.Close()
	res, err := metrics.DecodeResult(f)
	if err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	return res, nil
}

func parseGates(exprs []string) ([]reports.Threshold, error) {
	var out []reports.Threshold
	for _, e := range exprs {
		t, err := reports.ParseThreshold(e)
		if err != nil {
			return nil, usageError("threshold %q: %v", e, err)
		}
		out = append(out, t)
	}
	return out, nil
}
