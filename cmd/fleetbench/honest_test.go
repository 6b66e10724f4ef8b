package main

import (
	"bufio"
	"bytes"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/reports"
	"github.com/fleetbench/fleetbench/scenarios"
)

// successWords are what a run that did not pass must never say about
// itself, in any output.
var successWords = []string{"✔", "COMPLETED", "Completed", "completed", "PASSED", "PASS ", "passed", "succeeded"}

// TestFailedRunSaysSoEverywhere runs against a port where nothing
// listens: exit 1, and stdout, summary.md, report.html and junit.xml all
// say FAILED and why, none says anything that reads as success, and the
// JUnit file has a failing case.
func TestFailedRunSaysSoEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path := writeFile(t, "s.yaml", `name: nothing-listens
duration: 2s
drain: 1s
devices:
  - name: d
    count: 5
    connect:
      timeout: 2s
    subscribe:
      - topic: t/${index}
        qos: 1
    publish:
      - topic: t/${index}
        qos: 1
        interval: 100ms
`)
	out := t.TempDir()
	code, stdout, stderr := fb(t, "run", path, "--broker", "mqtt://"+addr, "--quiet", "--out", out)
	if code != exitRunFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitRunFailed, stdout, stderr)
	}
	if !strings.Contains(stderr, "no device connected") {
		t.Errorf("stderr does not say why:\n%s", stderr)
	}
	files := map[string]string{"stdout": stdout}
	for _, f := range []string{reports.FileMarkdown, reports.FileHTML, reports.FileJUnit} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(b)
	}
	for name, text := range files {
		if !strings.Contains(text, "FAILED") {
			t.Errorf("%s does not say FAILED", name)
		}
		if !strings.Contains(strings.ToLower(text), "no device connected") {
			t.Errorf("%s does not say no device connected", name)
		}
		for _, w := range successWords {
			if strings.Contains(text, w) {
				t.Errorf("%s of a run where nothing connected says %q", name, w)
			}
		}
	}
	if j := files[reports.FileJUnit]; !strings.Contains(j, "<failure") || strings.Contains(j, `failures="0"`) {
		t.Errorf("junit.xml has no failing case:\n%s", j)
	}
}

// TestValidateChecksWhatRunChecks: a threshold run would refuse is
// refused by validate too, from the file and from --threshold.
func TestValidateChecksWhatRunChecks(t *testing.T) {
	bad := writeFile(t, "s.yaml", validHead+`thresholds:
  - "connect success > 99.9%"
`)
	for _, cmd := range []string{"validate", "run"} {
		code, _, stderr := fb(t, cmd, bad, "--quiet")
		if cmd == "validate" {
			code, _, stderr = fb(t, cmd, bad)
		}
		if code != exitUsage || !strings.Contains(stderr, "thresholds[0]") {
			t.Errorf("%s: exit %d, want %d naming thresholds[0]:\n%s", cmd, code, exitUsage, stderr)
		}
	}
	good := writeFile(t, "s.yaml", validHead)
	if code, _, stderr := fb(t, "validate", good, "--threshold", "e2e p99 < 5"); code != exitUsage || !strings.Contains(stderr, "--threshold") {
		t.Errorf("validate --threshold bogus: exit %d:\n%s", code, stderr)
	}
	if code, stdout, stderr := fb(t, "validate", good, "--threshold", "e2e.p99 < 50ms"); code != 0 || !strings.Contains(stdout, "1 threshold,") {
		t.Errorf("validate --threshold good: exit %d:\n%s%s", code, stdout, stderr)
	}
	outage := writeFile(t, "s.yaml", validHead+`broker:
  url: mqtt://127.0.0.1:1883
faults:
  - at: 1s
    for: 1s
    broker_outage: true
`)
	if code, _, stderr := fb(t, "validate", outage); code != exitUsage || !strings.Contains(stderr, "broker_outage") {
		t.Errorf("validate of a broker_outage against an external broker: exit %d:\n%s", code, stderr)
	}
}

// TestShippedScenarioCommentsAreTrue: every threshold shown in a comment
// of a shipped scenario parses, and no comment gives a wrong exit code.
func TestShippedScenarioCommentsAreTrue(t *testing.T) {
	names, err := fs.Glob(scenarios.Examples(), "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatal(names, err)
	}
	found := 0
	for _, name := range names {
		data, err := fs.ReadFile(scenarios.Examples(), name)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		sc := bufio.NewScanner(bytes.NewReader(data))
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if strings.Contains(text, "exits 1 when") && strings.Contains(text, "threshold") {
				t.Errorf("%s:%d says a failed threshold exits 1 (it exits %d)", name, line, exitThresholds)
			}
			switch {
			case text == "# thresholds:":
				in = true
			case in && strings.HasPrefix(text, "#   - "):
				expr := strings.Trim(strings.TrimPrefix(text, "#   - "), `"`)
				found++
				if _, err := reports.ParseThreshold(expr); err != nil {
					t.Errorf("%s:%d: commented threshold %q does not parse: %v", name, line, expr, err)
				}
			default:
				in = false
			}
		}
	}
	if found == 0 {
		t.Fatal("no commented thresholds found: the test reads nothing")
	}
}
