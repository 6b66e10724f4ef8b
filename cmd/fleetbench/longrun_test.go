package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine/enginetest"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// maxLongRunRSS is the peak resident memory an absurdly long run may reach
// in its first seconds: nothing it allocates may scale with its duration.
const maxLongRunRSS = 200 << 20

// longestAccepted returns the first of candidates that validate accepts
// in the scenario text (%s is replaced), so the test keeps working when
// validation bounds durations and periods.
func longestAccepted(t *testing.T, text string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		path := writeFile(t, "probe.yaml", strings.ReplaceAll(text, "%s", c))
		if code, _, _ := fb(t, "validate", path); code == exitOK {
			return c
		}
	}
	t.Fatalf("validate accepts none of %v in\n%s", candidates, text)
	return ""
}

// vmHWM returns the peak resident set of process pid in bytes, from
// /proc/PID/status.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// TestAbsurdDurationInterrupted: a run of 100000 h (or the longest
// duration validate accepts), with a drain as long and churn every
// millisecond in the variants, interrupted after a few seconds stays under
// 200 MB and writes its result, marked interrupted, with exit 130.
func TestAbsurdDurationInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary and runs it for seconds")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	// 100000h as the issue has it, else the bounds validate enforces
	// (scenarios.MaxDuration, MaxDrain).
	durations := []string{"100000h", scenarios.MaxDuration.String(), "24h"}
	base := "name: long\nduration: %s\ndrain: 1s\ndevices:\n  - name: d\n    count: 10\n" +
		"    publish:\n      - topic: /long/${deviceName}\n        interval: 100ms\n"
	d := longestAccepted(t, base, durations...)
	drain := longestAccepted(t, strings.Replace(base, "drain: 1s", "drain: %s", 1), "100000h", scenarios.MaxDrain.String())
	churn := longestAccepted(t, strings.ReplaceAll(base, "%s", d)+"churn:\n  - every: %s\n    fraction: 0.1\n    down: 500us\n",
		"1ms", "10ms", "100ms", "1s")
	t.Logf("duration %s, drain %s, churn every %s", d, drain, churn)
	// One Ctrl-C ends each, the long drain included: an interrupted run
	// drains at most actors.InterruptDrain.
	cases := []struct{ name, text string }{
		{"duration", strings.ReplaceAll(base, "%s", d)},
		{"drain", strings.Replace(strings.ReplaceAll(base, "%s", d), "drain: 1s", "drain: "+drain, 1)},
		{"churn", strings.ReplaceAll(base, "%s", d) + "churn:\n  - every: " + churn + "\n    fraction: 0.1\n    down: 500us\n"},
	}
	bin := buildBinary(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "long.yaml", tc.text)
			out := filepath.Join(t.TempDir(), "out")
			cmd := exec.Command(bin, "run", path, "--quiet", "--out", out, "--partial-every", "1s")
			var stderr enginetest.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			// Wait until the partial result covers 3 s of the run.
			partial := filepath.Join(out, "result.partial.json")
			deadline := time.Now().Add(60 * time.Second)
			for {
				if b, err := os.ReadFile(partial); err == nil {
					if r, err := metrics.UnmarshalResult(b); err == nil && len(r.Series) >= 3 {
						break
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("no partial result of 3 s within 60 s\n%s", stderr.String())
				}
				time.Sleep(50 * time.Millisecond) // polling the condition
			}
			hwm := vmHWM(t, cmd.Process.Pid)
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			code, took := waitExit(t, cmd, time.Minute)
			peak := hwm
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				peak = max(peak, ru.Maxrss<<10) // Linux: KiB
			}
			t.Logf("VmHWM before the signal %d MiB, peak RSS %d MiB; exit %d %v after the signal", hwm>>20, peak>>20, code, took)
			if code != exitInterrupted {
				t.Fatalf("exit %d, want 130\n%s", code, stderr.String())
			}
			if tc.name == "drain" && (took < actors.InterruptDrain-time.Second || took > actors.InterruptDrain+30*time.Second) {
				t.Errorf("ended %v after the signal: an interrupted run drains %v", took, actors.InterruptDrain)
			}
			if peak >= maxLongRunRSS {
				t.Errorf("peak RSS %d MiB, want < %d MiB", peak>>20, maxLongRunRSS>>20)
			}
			res := readResult(t, filepath.Join(out, "result.json"))
			if res.Verdict.Status != metrics.StatusInterrupted || !res.Interrupted || res.Partial || res.Totals.ConnectOK < 10 {
				t.Errorf("result: verdict %s, interrupted %t, partial %t, connect ok %d; want an interrupted complete result of 10 devices",
					res.Verdict.Status, res.Interrupted, res.Partial, res.Totals.ConnectOK)
			}
		})
	}
}
