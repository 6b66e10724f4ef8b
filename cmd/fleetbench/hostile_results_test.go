package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestHostileResultFiles: report and compare refuse /dev/zero and a
// 300 MB (sparse) file at once, with a size or format error, without
// reading them up to the 256 MiB limit first.
func TestHostileResultFiles(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.json") // compare takes *.json names
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(300 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	good := savedResult(t, t.TempDir(), "good.json", false)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"report /dev/zero", []string{"report", "/dev/zero"}, "not a result.json"},
		{"report 300 MB", []string{"report", big}, "larger than the limit of 256 MiB"},
		{"compare /dev/zero", []string{"compare", good, zero, "--out", filepath.Join(dir, "c1")}, "not a result.json"},
		{"compare 300 MB", []string{"compare", good, big, "--out", filepath.Join(dir, "c2")}, "larger than the limit of 256 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			code, stdout, stderr := fb(t, tc.args...)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("exit %d in %v, %d MiB allocated", code, took, alloc>>20)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 2 and %q\n%s%s", code, tc.want, stdout, stderr)
			}
			// Reading up to the limit would allocate 256 MiB or more.
			if alloc > 32<<20 || took > 5*time.Second {
				t.Errorf("refused after %v and %d MiB allocated, want at once (< 5 s, < 32 MiB)", took, alloc>>20)
			}
		})
	}
}
