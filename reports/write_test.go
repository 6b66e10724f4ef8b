package reports

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestWriteAll(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out", "run-1")
	res := makeResult(t, fixture{})
	opts := Options{Version: "v1", Thresholds: mustThresholds(t, "e2e.p99 < 50ms", "lost == 0")}
	if err := WriteAll(dir, res, opts); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 || info.Size() == 0 {
			t.Errorf("%s: mode %v size %d", e.Name(), info.Mode(), info.Size())
		}
	}
	want := []string{FileHTML, FileJUnit, FileJSON, FileMarkdown}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want %q (no temporary files left)", names, want)
	}

	// result.json decodes to the same result.
	f, err := os.Open(filepath.Join(dir, FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := metrics.DecodeResult(f)
	if err != nil {
		t.Fatal(err)
	}
	if back.Totals != res.Totals || !back.Latency.E2E.Histogram.Equal(res.Latency.E2E.Histogram) {
		t.Error("result.json does not hold the result")
	}

	// The other files are what the individual writers produce.
	verdict := Evaluate(res, opts.Thresholds)
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{FileMarkdown, func(b *bytes.Buffer) error { return WriteMarkdown(b, res, verdict) }},
		{FileJUnit, func(b *bytes.Buffer) error { return WriteJUnit(b, res, verdict) }},
		{FileHTML, func(b *bytes.Buffer) error { return WriteHTML(b, res, opts) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s differs from its writer's output", f.name)
		}
	}
	// Writing again replaces the files.
	if err := WriteAll(dir, res, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteAllErrors(t *testing.T) {
	t.Parallel()
	if err := WriteAll(t.TempDir(), nil, Options{}); err == nil {
		t.Error("nil result written")
	}
	// A directory that cannot be created: a file is in the way.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteAll(filepath.Join(file, "sub"), makeResult(t, fixture{seconds: 2, devices: 5}), Options{})
	if err == nil {
		t.Fatal("wrote under a file")
	}
	if got := err.Error(); !bytes.HasPrefix([]byte(got), []byte("reports: write all: ")) {
		t.Errorf("error %q lacks context", got)
	}
}

func TestWriteFileAtomicCleansUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.txt")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteFileAtomic(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("no error")
	}
	got, _ := os.ReadFile(path)
	if string(got) != "old" {
		t.Errorf("file is %q after a failed write, want the old content", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary file left behind: %d entries", len(entries))
	}
}

func TestWritersRejectNil(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	for name, err := range map[string]error{
		"json":     WriteJSON(&b, nil),
		"html":     WriteHTML(&b, nil, Options{}),
		"junit":    WriteJUnit(&b, nil, Verdict{}),
		"markdown": WriteMarkdown(&b, nil, Verdict{}),
		"text":     WriteText(&b, nil, Verdict{}),
	} {
		if err == nil {
			t.Errorf("%s: nil result accepted", name)
		}
	}
}
