package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileFileErrors: a profile that cannot be created is refused
// before the run (exit 2), and one that cannot be written (/dev/full)
// fails the run (exit 1) once its result is saved; both name the flag and
// the file.
func TestProfileFileErrors(t *testing.T) {
	path := writeFile(t, "prof.yaml", fallbackScenario)
	missing := filepath.Join(t.TempDir(), "no-such-dir", "x.prof")
	for _, flag := range []string{"--cpuprofile", "--memprofile"} {
		t.Run(flag+" in a missing directory", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", out, flag, missing)
			if code != exitUsage || !strings.Contains(stderr, flag+" "+missing) || !strings.Contains(stderr, "no such file or directory") {
				t.Fatalf("exit %d, want 2 and a message naming %s %s\n%s%s", code, flag, missing, stdout, stderr)
			}
		})
		t.Run(flag+" /dev/full", func(t *testing.T) {
			if testing.Short() {
				t.Skip("-short: a 2 s run")
			}
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full")
			}
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", out, flag, "/dev/full")
			if code != exitRunFailed || !strings.Contains(stderr, flag+" /dev/full") || !strings.Contains(stderr, "no space left on device") {
				t.Fatalf("exit %d, want 1 and a message naming %s /dev/full\n%s%s", code, flag, stdout, stderr)
			}
			// The run itself is not lost.
			if res := readResult(t, filepath.Join(out, "result.json")); res.Totals.ConnectOK != 2 {
				t.Errorf("result: connect ok %d, want 2", res.Totals.ConnectOK)
			}
		})
	}
	t.Run("both written", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: a 2 s run")
		}
		dir := t.TempDir()
		cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
		code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", filepath.Join(dir, "out"), "--cpuprofile", cpu, "--memprofile", mem)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, p := range []string{cpu, mem} {
			b, err := os.ReadFile(p)
			// A pprof profile is gzipped protobuf.
			if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
				t.Errorf("%s: %d bytes, %v: not a profile", p, len(b), err)
			}
		}
	})
}
