package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// fullTmpfs mounts a 64 KiB tmpfs at a new directory and fills it, so that
// no file can be written there (skipped unless root may mount). It holds
// the directories dirs, made before it was filled.
func fullTmpfs(t *testing.T, dirs ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(mnt, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for i := 0; ; i++ {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
		if i > 1000 {
			t.Fatal("a 64k tmpfs took 4 MB")
		}
	}
	return mnt
}

// fallbackPath returns the fallback directory stderr names, and removes
// it when the test ends.
func fallbackPath(t *testing.T, stderr string) string {
	t.Helper()
	m := regexp.MustCompile(`the results are in (\S+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr names no fallback directory:\n%s", stderr)
	}
	t.Cleanup(func() { os.RemoveAll(m[1]) })
	return m[1]
}

const fallbackScenario = `name: full-disk
duration: 1s
drain: 1s
devices:
  - name: d
    count: 2
`

// TestFullDiskFallback: with --out on a full filesystem the summary is
// still printed, result.json goes to a fallback directory in the temp
// directory, whose path stderr gives with the original error, and the exit
// code is the verdict's.
func TestFullDiskFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 2 s run")
	}
	mnt := fullTmpfs(t, "out")
	path := writeFile(t, "full.yaml", fallbackScenario)
	code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", filepath.Join(mnt, "out"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (the verdict's)\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Verdict: ✔ PASSED") || !strings.Contains(stdout, "Connections") {
		t.Errorf("no summary on stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, filepath.Join(mnt, "out")) {
		t.Errorf("stderr does not give the original error:\n%s", stderr)
	}
	dir := fallbackPath(t, stderr)
	if filepath.Dir(dir) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(dir), "fleetbench-out-") {
		t.Errorf("fallback %s is not a fleetbench-out-… directory of %s", dir, os.TempDir())
	}
	if !strings.Contains(stdout, "result: "+filepath.Join(dir, "result.json")) {
		t.Errorf("stdout does not point at the fallback result:\n%s", stdout)
	}
	res := readResult(t, filepath.Join(dir, "result.json"))
	if res.Partial || res.Totals.Devices != 2 || res.Totals.ConnectOK != 2 || res.Verdict.Status != "passed" {
		t.Errorf("fallback result: partial %t, devices %d, connect ok %d, verdict %s; want a complete result of 2 connected devices that passed",
			res.Partial, res.Totals.Devices, res.Totals.ConnectOK, res.Verdict.Status)
	}
	for _, name := range []string{"report.html", "summary.md", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("fallback: %v", err)
		}
	}
}

// TestNothingSaved: when neither --out nor the temp directory can hold
// result.json, the summary is still printed and the exit code is 1.
func TestNothingSaved(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 2 s run")
	}
	mnt := fullTmpfs(t, "out", "tmp")
	t.Setenv("TMPDIR", filepath.Join(mnt, "tmp"))
	path := writeFile(t, "full.yaml", fallbackScenario)
	code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", filepath.Join(mnt, "out"))
	if code != exitRunFailed {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "Verdict:") {
		t.Errorf("no summary on stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "could not be saved") || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("stderr does not say the result is lost and why:\n%s", stderr)
	}
}

// TestReadOnlyOutFallback: an --out that cannot be created (a read-only
// filesystem) does not stop the run: the results go to the fallback
// directory from the start, and stderr says so with the error.
func TestReadOnlyOutFallback(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 2 s run")
	}
	mnt := fullTmpfs(t)
	if out, err := exec.Command("mount", "-o", "remount,ro", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, out)
	}
	path := writeFile(t, "ro.yaml", fallbackScenario)
	code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", filepath.Join(mnt, "out"))
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "read-only file system") || !strings.Contains(stdout, "Verdict:") {
		t.Errorf("want the error on stderr and the summary on stdout:\n%s%s", stdout, stderr)
	}
	dir := fallbackPath(t, stderr)
	if res := readResult(t, filepath.Join(dir, "result.json")); res.Totals.ConnectOK != 2 {
		t.Errorf("fallback result: connect ok %d, want 2", res.Totals.ConnectOK)
	}
}
