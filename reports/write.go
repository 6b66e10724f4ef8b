package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// Options configures the reports of one run. The zero value works.
type Options struct {
	// Version is the fleetbench version shown in the HTML report; empty
	// shows "—".
	Version string
	// Broker describes the target ("embedded", "tcp://broker:1883");
	// empty means "embedded" when the result holds embedded-broker
	// counters, else "—".
	Broker string
	// Thresholds are the run's gates: WriteAll judges the run by them
	// (Judge) and every report shows their outcome.
	Thresholds []Threshold
}

// The files WriteAll writes for a finished run.
const (
	FileJSON     = "result.json"
	FileHTML     = "report.html"
	FileJUnit    = "junit.xml"
	FileMarkdown = "summary.md"
)

// The files WriteAll writes for a partial result (Result.Partial: written
// while the run was still going), so that they never pass for the reports
// of a finished run nor overwrite them. No result.json is written for a
// partial result.
const (
	FilePartialHTML     = "report.partial.html"
	FilePartialJUnit    = "junit.partial.xml"
	FilePartialMarkdown = "summary.partial.md"
)

// HTMLFile returns the name of the HTML report WriteAll writes for res:
// FileHTML, or FilePartialHTML for a partial result.
func HTMLFile(res *metrics.Result) string {
	if res != nil && res.Partial {
		return FilePartialHTML
	}
	return FileHTML
}

// WriteAll judges res (Judge with opts.Thresholds, which sets
// res.Verdict) and writes result.json, report.html, junit.xml and
// summary.md into dir (created if missing). For a partial result it writes
// report.partial.html, junit.partial.xml and summary.partial.md only: the
// partial result.json stays as it is and no result.json appears beside it.
// Each file is written to a temporary file in dir and renamed into place,
// so a reader never sees a half-written report.
func WriteAll(dir string, res *metrics.Result, opts Options) error {
	if res == nil {
		return errors.New("reports: write all: nil result")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: write all: %w", err)
	}
	verdict := Judge(res, opts.Thresholds)
	type file struct {
		name  string
		write func(io.Writer) error
	}
	files := []file{
		{FileJSON, func(w io.Writer) error { return WriteJSON(w, res) }},
		{FileHTML, func(w io.Writer) error { return WriteHTML(w, res, opts) }},
		{FileJUnit, func(w io.Writer) error { return WriteJUnit(w, res, verdict) }},
		{FileMarkdown, func(w io.Writer) error { return WriteMarkdown(w, res, verdict) }},
	}
	if res.Partial {
		files = []file{
			{FilePartialHTML, files[1].write},
			{FilePartialJUnit, files[2].write},
			{FilePartialMarkdown, files[3].write},
		}
	}
	for _, f := range files {
		if err := WriteFileAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("reports: write all: %w", err)
		}
	}
	return nil
}

// WriteFileAtomic writes path through a temporary file in the same
// directory, synced and renamed into place, so a reader (or a crash) never
// sees a half-written file.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// WriteJSON writes res as the result.json document (schema
// metrics.Schema), histograms included, so that it can be decoded and
// rendered again.
func WriteJSON(w io.Writer, res *metrics.Result) error {
	if res == nil {
		return errors.New("reports: write json: nil result")
	}
	if err := res.Encode(w); err != nil {
		return fmt.Errorf("reports: write json: %w", err)
	}
	return nil
}
