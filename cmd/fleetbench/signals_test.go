package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest"
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

// startRun starts longRun with result.partial.json written every 200 ms
// (what the tests wait on: the run is under way once it has published);
// its stderr is kept in the returned buffer.
func startRun(t *testing.T, bin string, extra ...string) (*exec.Cmd, string, *enginetest.Buffer) {
	t.Helper()
	path := writeFile(t, "long.yaml", longRun)
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", path, "--quiet", "--memory", "--out", out, "--partial-every", "200ms"}, extra...)...)
	stderr := &enginetest.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, out, stderr
}

// waitFor is enginetest.WaitFor: poll cond until it holds, or fail naming
// what was awaited.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	enginetest.WaitFor(t, timeout, cond, what)
}

// waitPartial waits until the run writing into out has a
// result.partial.json that parses and satisfies cond, and returns it.
func waitPartial(t testing.TB, out string, within time.Duration, cond func(*metrics.Result) bool, what string) *metrics.Result {
	t.Helper()
	path := filepath.Join(out, "result.partial.json")
	var res *metrics.Result
	waitFor(t, within, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		r, err := metrics.UnmarshalResult(b)
		if err != nil {
			return false
		}
		res = r
		return cond(r)
	}, what+" in "+path)
	return res
}

// published: the run has published something.
func published(r *metrics.Result) bool { return r.Totals.Published > 0 }

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
		cmd, out, _ := startRun(t, bin, "--set", "drain=1s")
		waitPartial(t, out, 30*time.Second, published, "a publish")
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
		cmd, out, stderr := startRun(t, bin) // drain 10s
		waitPartial(t, out, 30*time.Second, published, "a publish")
		cmd.Process.Signal(syscall.SIGINT)
		// The second Ctrl-C comes once the first was taken (signals sent
		// back to back may arrive as one).
		waitFor(t, 10*time.Second, func() bool { return strings.Contains(stderr.String(), "interrupted — draining") }, "the first interrupt's message")
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
		cmd, out, _ := startRun(t, bin)
		partial := filepath.Join(out, "result.partial.json")
		// Kill once a later partial result has replaced the first: two
		// points of the series, publishes in them.
		waitPartial(t, out, 30*time.Second, func(r *metrics.Result) bool { return published(r) && len(r.Series) >= 2 }, "two series points")
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
