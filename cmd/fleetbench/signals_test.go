package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// buildBinary builds the fleetbench command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fleetbench")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// longRun is a scenario that would run for a minute.
const longRun = `name: long
duration: 60s
drain: 10s
devices:
  - name: d
    count: 20
    product_key: pk
    subscribe:
      - topic: /pk/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /pk/${deviceName}/user/get
        qos: 1
        interval: 100ms
`

func startRun(t *testing.T, bin string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	path := writeFile(t, "long.yaml", longRun)
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", path, "--quiet", "--memory", "--out", out}, extra...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, out
}

func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(start)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, time.Since(start)
	case <-time.After(within):
		t.Fatalf("fleetbench did not exit within %v", within)
		return 0, 0
	}
}

func readResult(t *testing.T, path string) *metrics.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := metrics.UnmarshalResult(b)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return res
}

func waitFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInterruptAndKill covers what an operator can do to a run: Ctrl-C
// (drain, write everything marked interrupted, exit 130), Ctrl-C twice
// (stop at once, still write the result), and kill -9 (the last
// result.partial.json is a parsable result).
func TestInterruptAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	t.Run("sigint drains and exits 130", func(t *testing.T) {
		cmd, out := startRun(t, bin, "--set", "drain=1s")
		time.Sleep(3 * time.Second)
		cmd.Process.Signal(syscall.SIGINT)
		code, took := waitExit(t, cmd, 20*time.Second)
		if code != exitInterrupted {
			t.Fatalf("exit %d, want 130", code)
		}
		res := readResult(t, filepath.Join(out, "result.json"))
		if !res.Interrupted || res.Totals.Published == 0 || res.Totals.Lost != 0 {
			t.Fatalf("interrupted %v published %d lost %d (took %v)", res.Interrupted, res.Totals.Published, res.Totals.Lost, took)
		}
		for _, f := range []string{"report.html", "junit.xml", "summary.md"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Fatalf("%s not written after an interrupt", f)
			}
		}
	})
	t.Run("second sigint stops at once", func(t *testing.T) {
		cmd, out := startRun(t, bin) // drain 10s
		time.Sleep(3 * time.Second)
		cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		code, took := waitExit(t, cmd, 15*time.Second)
		if code != exitInterrupted || took > 8*time.Second {
			t.Fatalf("exit %d after %v, want 130 well before the 10 s drain", code, took)
		}
		if res := readResult(t, filepath.Join(out, "result.json")); !res.Interrupted || res.Totals.Published == 0 {
			t.Fatalf("result after two interrupts: interrupted %v published %d", res.Interrupted, res.Totals.Published)
		}
	})
	t.Run("kill -9 leaves a partial result", func(t *testing.T) {
		cmd, out := startRun(t, bin, "--partial-every", "1s")
		partial := filepath.Join(out, "result.partial.json")
		waitFile(t, partial, 15*time.Second)
		time.Sleep(2500 * time.Millisecond) // let a later one replace the first
		cmd.Process.Kill()
		waitExit(t, cmd, 10*time.Second)
		res := readResult(t, partial)
		if !res.Partial || res.Totals.Published == 0 || res.Totals.Devices != 20 || len(res.Series) < 2 {
			t.Fatalf("partial result: partial %v published %d devices %d series %d", res.Partial, res.Totals.Published, res.Totals.Devices, len(res.Series))
		}
		if _, err := os.Stat(filepath.Join(out, "result.json")); err == nil {
			t.Fatal("a complete result.json after kill -9?")
		}
	})
}
