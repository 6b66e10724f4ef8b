package main

import (
	"bufio"
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
		Name:  "report",
		Usage: "re-render reports (HTML, JUnit, Markdown, text) from saved result.json files, without re-running",
		ArgsUsage: "RESULT.json...\n\n" +
			"   Writes result.json (with the verdict), report.html, junit.xml and summary.md.\n" +
			"   A partial result (result.partial.json, written while a run was going) gets\n" +
			"   report.partial.html, junit.partial.xml and summary.partial.md instead: no\n" +
			"   result.json is written and the partial file is left as it is. Every output\n" +
			"   of a partial result says PARTIAL. Exit code: from the worst verdict (0 passed,\n" +
			"   99 thresholds failed, 1 failed or partial, 130 interrupted).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "output directory (default: beside each result; with several results, one subdirectory each)"},
			&cli.StringSliceFlag{Name: "threshold", Usage: "judge by these thresholds too (the run's own are kept)"},
		},
		Action: reportAction,
	}
}

func reportAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("report needs at least one result.json")
	}
	worst := metrics.StatusPassed
	var lines []string
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
		// WriteAll judges the result (res.Verdict) and, for a partial
		// one, writes the .partial reports only.
		if err := reports.WriteAll(out, res, reports.Options{Thresholds: gates}); err != nil {
			return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
		}
		if err := reports.WriteText(c.App.Writer, res, reports.Evaluate(res, gates)); err != nil {
			return cli.Exit(fmt.Sprintf("fleetbench: %v", err), exitRunFailed)
		}
		fmt.Fprintf(c.App.Writer, "\nreport: %s\n", filepath.Join(out, reports.HTMLFile(res)))
		worst = worseStatus(worst, res.Verdict.Status)
		if !res.Verdict.Status.OK() {
			lines = append(lines, path+": "+res.Verdict.Line())
		}
	}
	if code := exitCodeFor(worst); code != exitOK {
		return cli.Exit("fleetbench: "+strings.Join(lines, "\nfleetbench: "), code)
	}
	return nil
}

// loadResult reads a saved result; a file that is not one is a usage error.
func loadResult(path string) (*metrics.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("%v", err)
	}
	defer f.Close()
	// Refused before anything is read: a regular file over the limit (by
	// its size), and any input whose first byte that is not white space
	// does not open a JSON object (/dev/zero, a binary file), which would
	// otherwise be read up to the limit (256 MiB) first.
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > metrics.MaxResultSize {
		return nil, usageError("%s: %d MiB is larger than the limit of %d MiB for a result", path, st.Size()>>20, metrics.MaxResultSize>>20)
	}
	br := bufio.NewReader(f)
	if b, err := firstNonSpace(br); err == nil && b != '{' {
		return nil, usageError("%s: not a result.json: it starts with %q, not '{'", path, b)
	}
	res, err := metrics.DecodeResult(br)
	if err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	return res, nil
}

// firstNonSpace returns the first byte of br that is not JSON white
// space, leaving it unread (at most 64 KiB of white space is skipped).
func firstNonSpace(br *bufio.Reader) (byte, error) {
	for range 64 << 10 {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
	return ' ', nil
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
