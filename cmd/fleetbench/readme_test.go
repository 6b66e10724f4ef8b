package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/scenarios"
)

// TestReadmeScenarioIsValid keeps the README's scenario example true.
func TestReadmeScenarioIsValid(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if !strings.HasPrefix(m[1], "name:") {
			continue // CI job examples
		}
		n++
		if _, err := scenarios.Parse("README.md", []byte(m[1])); err != nil {
			t.Errorf("README scenario example does not load:\n%v", err)
		}
	}
	if n == 0 {
		t.Fatal("no scenario example found in README.md")
	}
}

// readmeCommands returns the README's two set-up command lines (the first
// sh block), without their comments.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("README.md has no sh block")
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(m[1]), "\n") {
		if i := strings.Index(l, " #"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	if len(lines) != 2 {
		t.Fatalf("README's first block has %d lines, want the two set-up commands: %q", len(lines), lines)
	}
	return lines
}

// The README's test command works as root and as a user (no bare sudo),
// installs through a script that exists, and is exactly what .ci/run runs.
func TestReadmeTestCommand(t *testing.T) {
	cmd := readmeCommands(t)[1]
	if cmd != ".ci/install-deps && go test -race -count=1 ./..." {
		t.Errorf("README's test command is %q", cmd)
	}
	if regexp.MustCompile(`(^|[;&|]\s*)sudo\b`).MatchString(cmd) {
		t.Errorf("README's test command starts with a bare sudo (no sudo on a root machine): %q", cmd)
	}
	run, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cmd) + `( \|\| exit 1)?$`).Match(run) {
		t.Errorf(".ci/run does not run the README's test command %q as written", cmd)
	}
	st, err := os.Stat("../../.ci/install-deps")
	if err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf(".ci/install-deps: %v (mode %v), want an executable script", err, st.Mode())
	}
	// Everything it would install is already here on a machine that runs
	// the suite; --dry-run says what is missing without installing it.
	out, err := exec.Command("../../.ci/install-deps", "--dry-run").CombinedOutput()
	if err != nil {
		t.Fatalf(".ci/install-deps --dry-run: %v\n%s", err, out)
	}
	t.Logf(".ci/install-deps --dry-run: %q", out)
}

// TestReadmeFirstCommand runs the README's first command line as written,
// from the repository root, in a clean environment as a CI job or a new
// user has it (a fresh HOME, no GOFLAGS); the build and module caches are
// this machine's, so it needs no network.
func TestReadmeFirstCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart scenario in full")
	}
	line := readmeCommands(t)[0]
	if line != "go run ./cmd/fleetbench run scenarios/examples/quickstart.yaml" {
		t.Fatalf("README's first command is %q", line)
	}
	gocache, gomodcache := goEnv(t, "GOCACHE"), goEnv(t, "GOMODCACHE")
	c := exec.Command("sh", "-c", line)
	c.Dir = "../.."
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GOCACHE=" + gocache,
		"GOMODCACHE=" + gomodcache, "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS="}
	out, err := c.CombinedOutput()
	if m := regexp.MustCompile(`result: (fleetbench-out/[^/\s]+)/`).FindSubmatch(out); m != nil {
		os.RemoveAll(filepath.Join("../..", string(m[1])))
		os.Remove("../../fleetbench-out") // only when empty
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	for _, want := range []string{"PASSED", "result: fleetbench-out/", "report: fleetbench-out/"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// readmeOutputs are relative paths the README names that a run or a CI
// job creates, not files of the repository.
var readmeOutputs = []string{"out/", "base/", "head/", "fleetbench-out/", "bench/out/"}

// TestReadmeLinksResolve checks that every relative link and every path
// of the repository the README names exists, and that nothing points
// outside the repository.
func TestReadmeLinksResolve(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	root, err := os.ReadDir("../..")
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]bool{}
	for _, e := range root {
		top[e.Name()] = true
	}
	exists := func(p string) bool {
		_, err := os.Stat(filepath.Join("../..", filepath.FromSlash(p)))
		return err == nil
	}
	checked := 0
	// Markdown links.
	for _, m := range regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(text, -1) {
		target := m[1]
		if regexp.MustCompile(`^[a-z]+:`).MatchString(target) || strings.HasPrefix(target, "#") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		checked++
		if strings.HasPrefix(target, "../") || strings.HasPrefix(target, "/") {
			t.Errorf("link %q points outside the repository", m[1])
		} else if !exists(target) {
			t.Errorf("link %q: no such file in the repository", m[1])
		}
	}
	// Paths in the text: a token with a slash that starts in a directory
	// of the repository or names a file (has an extension), or an
	// upper-case document name such as BENCHMARKS.md.
	ext := regexp.MustCompile(`\.(ya?ml|go|sh|md|json|proto|csv|pem|txt)$`)
	doc := regexp.MustCompile(`^[A-Z][A-Z_-]*\.md$`)
tokens:
	for _, tok := range regexp.MustCompile(`[A-Za-z0-9_.\-/]+`).FindAllString(text, -1) {
		tok = strings.TrimRight(tok, ".")
		if strings.HasPrefix(tok, "../") {
			t.Errorf("%q points outside the repository", tok)
			continue
		}
		p := strings.TrimPrefix(tok, "./")
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			continue // absolute (on the user's machine), or a range like 10.0.0.10–12
		}
		first, _, slash := strings.Cut(p, "/")
		switch {
		case doc.MatchString(p):
		case slash && (top[first] || ext.MatchString(p)) && !strings.Contains(first, "."):
		case slash && top[first]:
		default:
			continue
		}
		for _, o := range readmeOutputs {
			if strings.HasPrefix(p, o) {
				continue tokens
			}
		}
		checked++
		if !exists(p) {
			t.Errorf("README names %q, which is not in the repository", tok)
		}
	}
	// The examples the README lists are shipped.
	if m := regexp.MustCompile("(?s)See `scenarios/examples/`(.*?)each is run").FindStringSubmatch(text); m == nil {
		t.Error("README no longer lists the examples")
	} else {
		for _, n := range regexp.MustCompile("`([a-z0-9-]+\\.yaml)`").FindAllStringSubmatch(m[1], -1) {
			checked++
			if !exists("scenarios/examples/" + n[1]) {
				t.Errorf("README lists example %s, which is not in scenarios/examples/", n[1])
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d links and paths found in README.md", checked)
	}
}

// The CI job snippets work as written: each fleetbench command line of
// them runs here, with run turned into validate (same flags, no devices).
func TestReadmeCISnippets(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var jobs strings.Builder
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
		if !strings.HasPrefix(m[1], "name:") { // not a scenario: a CI job
			jobs.WriteString(m[1])
		}
	}
	t.Chdir(t.TempDir())
	n := 0
	for _, m := range regexp.MustCompile(`(?m)^\s*- (?:run: )?fleetbench (init|run) (.*)$`).FindAllStringSubmatch(jobs.String(), -1) {
		line := m[2]
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		args, err := shellFields(line)
		if err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		cmd := m[1]
		if cmd == "run" {
			cmd = "validate"
			for i := 0; i < len(args); i++ {
				if args[i] == "--out" {
					args = append(args[:i], args[i+2:]...)
					i--
				}
			}
		}
		if cmd == "init" {
			os.Remove(args[len(args)-1])
		}
		n++
		if code, stdout, stderr := fb(t, append([]string{cmd}, args...)...); code != 0 {
			t.Errorf("%s: exit %d\n%s%s", strings.TrimSpace(m[0]), code, stdout, stderr)
		}
	}
	if n < 4 {
		t.Fatalf("found %d fleetbench command lines in the CI snippets, want 4", n)
	}
}

// shellFields splits a command line as sh would, for the double-quoted
// arguments of the README's snippets.
func shellFields(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, any = !inQuote, true
		case r == ' ' && !inQuote:
			if any {
				out = append(out, cur.String())
				cur.Reset()
				any = false
			}
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote")
	}
	if any {
		out = append(out, cur.String())
	}
	return out, nil
}
