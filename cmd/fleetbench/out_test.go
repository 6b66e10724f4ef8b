package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const tinyRun = `name: tiny
duration: 1s
drain: 0s
devices:
  - name: d
    count: 2
    subscribe:
      - topic: tiny/${deviceName}
        qos: 1
    publish:
      - topic: tiny/${deviceName}
        qos: 1
        rate: 2/s
`

// --out refuses a directory that holds an earlier result, complete or
// partial, and says how to go on; --overwrite replaces it.
func TestOutRefusesEarlierResult(t *testing.T) {
	scenario := writeFile(t, "tiny.yaml", tinyRun)
	for _, name := range []string{"result.json", "result.partial.json"} {
		out := t.TempDir()
		earlier := filepath.Join(out, name)
		if err := os.WriteFile(earlier, []byte(`{"earlier":true}`), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := fb(t, "run", scenario, "--quiet", "--out", out)
		if code != exitUsage || !strings.Contains(stderr, "--overwrite") || !strings.Contains(stderr, name) {
			t.Fatalf("%s: exit %d, want 2 naming the file and --overwrite; stderr:\n%s", name, code, stderr)
		}
		if b, _ := os.ReadFile(earlier); string(b) != `{"earlier":true}` {
			t.Fatalf("%s was touched: %q", name, b)
		}
	}
	if testing.Short() {
		t.Skip("the --overwrite run")
	}
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "result.json"), []byte(`{"earlier":true}`), 0o644)
	if code, _, stderr := fb(t, "run", scenario, "--quiet", "--out", out, "--overwrite"); code != 0 {
		t.Fatalf("--overwrite: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "result.json")); strings.Contains(string(b), "earlier") {
		t.Fatal("--overwrite did not replace result.json")
	}
}

// An idle worker stopped with Ctrl-C says that it stops, not that it
// drains and writes a result (a worker writes none).
func TestIdleWorkerInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a worker")
	}
	w := startWorker(t, buildBinary(t))
	w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		t.Fatal("worker did not stop on SIGINT")
	}
	w.mu.Lock()
	msg := w.stderr.String()
	w.mu.Unlock()
	if strings.Contains(msg, "draining") || strings.Contains(msg, "writing the result") || !strings.Contains(msg, "stopping") {
		t.Fatalf("worker said on Ctrl-C:\n%s", msg)
	}
}
