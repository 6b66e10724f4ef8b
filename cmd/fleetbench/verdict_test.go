package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func TestVerdictExitCodeFor(t *testing.T) {
	for _, tc := range []struct {
		status metrics.Status
		want   int
	}{
		{metrics.StatusPassed, exitOK},
		{metrics.StatusThresholdsFailed, exitThresholds},
		{metrics.StatusFailed, exitRunFailed},
		{metrics.StatusInterrupted, exitInterrupted},
		{metrics.StatusPartial, exitRunFailed},
		{"", exitRunFailed},
	} {
		if got := exitCodeFor(tc.status); got != tc.want {
			t.Errorf("exitCodeFor(%q) = %d, want %d", tc.status, got, tc.want)
		}
	}
	if got := worseStatus(metrics.StatusThresholdsFailed, metrics.StatusPartial); got != metrics.StatusPartial {
		t.Errorf("worse of thresholds_failed and partial: %s", got)
	}
	if got := worseStatus(metrics.StatusFailed, metrics.StatusPassed); got != metrics.StatusFailed {
		t.Errorf("worse of failed and passed: %s", got)
	}
}

// savedResult writes a small healthy result to dir/name.
func savedResult(t *testing.T, dir, name string, partial bool) string {
	t.Helper()
	start := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	res := &metrics.Result{
		Schema: metrics.Schema, Scenario: metrics.ScenarioInfo{Name: "tiny"},
		StartedAt: start, EndedAt: start.Add(12 * time.Second), Partial: partial,
		FirstPublishS: 0.5, LastPublishS: 11.5,
		Totals: metrics.Totals{Devices: 5, ConnectOK: 5, Connected: 5, ConnectedPeak: 5, SubscribeOK: 5,
			Published: 550, Acked: 550, Expected: 550, Received: 550},
		ByQoS:                 map[string]metrics.QoSTotals{"1": {Published: 550, Acked: 550, Expected: 550, Received: 550}},
		ConnectFailedByReason: map[string]int64{},
	}
	data, err := res.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReportPartialResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  bool // --out instead of beside the partial file
	}{{"beside", false}, {"out", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := savedResult(t, dir, "result.partial.json", true)
			before, _ := os.ReadFile(path)
			args := []string{"report", path}
			outDir := dir
			if tc.out {
				outDir = filepath.Join(t.TempDir(), "out")
				args = append(args, "--out", outDir)
			}
			code, stdout, stderr := fb(t, args...)
			if code != exitRunFailed {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitRunFailed, stdout, stderr)
			}
			if !strings.Contains(stdout, "Verdict: ✘ PARTIAL — this result was written while the run was still going; it covers the first 12.0 s") {
				t.Errorf("stdout does not say PARTIAL:\n%s", stdout)
			}
			if !strings.Contains(stdout, filepath.Join(outDir, "report.partial.html")) || !strings.Contains(stderr, "PARTIAL") {
				t.Errorf("stdout/stderr:\n%s\n%s", stdout, stderr)
			}
			for _, f := range []string{"report.partial.html", "junit.partial.xml", "summary.partial.md"} {
				b, err := os.ReadFile(filepath.Join(outDir, f))
				if err != nil {
					t.Fatalf("%s not written: %v", f, err)
				}
				if !bytes.Contains(b, []byte("PARTIAL")) && !bytes.Contains(b, []byte(`name="partial result"`)) {
					t.Errorf("%s does not say PARTIAL", f)
				}
				for _, w := range []string{"✔", "PASSED", "COMPLETED", "completed"} {
					if bytes.Contains(b, []byte(w)) && f != "report.partial.html" {
						t.Errorf("%s of a partial result says %q", f, w)
					}
				}
			}
			for _, f := range []string{"result.json", "report.html", "junit.xml", "summary.md"} {
				for _, d := range []string{dir, outDir} {
					if _, err := os.Stat(filepath.Join(d, f)); err == nil {
						t.Errorf("%s written for a partial result", filepath.Join(d, f))
					}
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the partial file was modified")
			}
		})
	}
}

func TestReportExitCodeFromVerdict(t *testing.T) {
	dir := t.TempDir()
	path := savedResult(t, dir, "result.json", false)
	code, stdout, stderr := fb(t, "report", path, "--out", t.TempDir())
	if code != exitOK || !strings.Contains(stdout, "Verdict: ✔ PASSED (no thresholds set)") {
		t.Fatalf("passed: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = fb(t, "report", path, "--out", t.TempDir(), "--threshold", "published > 1000")
	if code != exitThresholds || !strings.Contains(stdout, "THRESHOLDS FAILED") {
		t.Fatalf("thresholds failed: exit %d\n%s", code, stdout)
	}
	// A partial and a passed result: the worse verdict decides.
	partial := savedResult(t, dir, "result.partial.json", true)
	code, _, stderr = fb(t, "report", path, partial, "--out", t.TempDir())
	if code != exitRunFailed || !strings.Contains(stderr, "result.partial.json: PARTIAL") {
		t.Fatalf("passed + partial: exit %d\n%s", code, stderr)
	}
}
