package engine

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fleetbench/fleetbench"

// TestLayering checks the import direction of the module's packages
// against the floors of the design (go list -deps, tests excluded):
// cmd → actors → engine/*, cmd → reports → engine/metrics, actors →
// scenarios; scenarios imports nothing of ours; nothing under engine/
// imports actors, reports, scenarios or cmd; nothing imports cmd.
func TestLayering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}:{{join .Deps \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// allowed[p] lists the top-level parts of the module p may depend on.
	allowed := map[string][]string{
		"engine":    {"engine"},
		"scenarios": {"scenarios"},
		"reports":   {"reports", "engine/metrics"},
		"actors":    {"actors", "engine", "scenarios"},
		"cmd":       {"cmd", "actors", "reports", "engine", "scenarios"},
		"bench":     {"bench", "engine/metrics"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ":")
		rel, ok := strings.CutPrefix(pkg, module+"/")
		if !ok {
			continue
		}
		top := strings.SplitN(rel, "/", 2)[0]
		rules, ok := allowed[top]
		if !ok {
			t.Errorf("package %s is outside the design's floors (%v)", rel, keys(allowed))
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			drel, ok := strings.CutPrefix(d, module+"/")
			if !ok {
				continue
			}
			if !permitted(drel, rules) {
				t.Errorf("%s imports %s, against the layering (%s may use %v)", rel, drel, top, rules)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d packages: go list output not understood", checked)
	}
}

func permitted(dep string, rules []string) bool {
	for _, r := range rules {
		if dep == r || strings.HasPrefix(dep, r+"/") {
			return true
		}
	}
	return false
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
