package main

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/fleetbench/fleetbench", Version: "(devel)"}}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	rel := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}
	for _, tc := range []struct {
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"dev", nil, "devel (revision unknown)"},
		{"dev", vcs(), "devel (revision unknown)"}, // -buildvcs=false, go run
		{"dev", vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"), "devel (revision 0123456789ab)"},
		{"dev", vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), "devel (revision 0123456789ab+modified)"},
		{"dev", rel, "v1.4.0"}, // go install …@v1.4.0
		{"v2.0.0", vcs("vcs.revision", "fedcba9876543210"), "v2.0.0 (revision fedcba987654)"},
	} {
		if got := versionOf(tc.ldflags, tc.bi); got != tc.want {
			t.Errorf("versionOf(%q, %+v) = %q, want %q", tc.ldflags, tc.bi, got, tc.want)
		}
	}
}

// A binary built in the repository with VCS stamping reports its commit.
func TestVersionReportsRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "fleetbench")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "(revision " + string(rev[:12]); !strings.Contains(string(out), want) {
		t.Fatalf("version says %q, want %q", out, want)
	}
	code, stdout, _ := fb(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "fleetbench devel (revision") && !strings.HasPrefix(stdout, "fleetbench v") {
		t.Fatalf("in-process version: %d %q", code, stdout)
	}
}
