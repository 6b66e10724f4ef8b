package main

import (
	"regexp"
	"strings"
	"testing"
)

// Errors in a value given with --broker or --duration name that flag, not
// the --set it is applied as.
func TestFlagErrorsNameTheFlag(t *testing.T) {
	good := writeFile(t, "ok.yaml", validHead)
	for _, tc := range []struct{ args, want []string }{
		{[]string{"--broker", "htp://x"}, []string{"(from --broker htp://x)", "broker.url"}},
		{[]string{"--duration", "0s"}, []string{"(from --duration 0s)", "duration"}},
		{[]string{"--set", "duration=0s"}, []string{"(from --set duration=0s)"}},
	} {
		for _, cmd := range []string{"validate", "run"} {
			code, _, stderr := fb(t, append([]string{cmd, good}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("%s %v: exit %d, want 2", cmd, tc.args, code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("%s %v: stderr lacks %q:\n%s", cmd, tc.args, w, stderr)
				}
			}
			if tc.args[0] != "--set" && strings.Contains(stderr, "--set") {
				t.Errorf("%s %v: names --set, which the user did not type:\n%s", cmd, tc.args, stderr)
			}
		}
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"help", "run"}, {"--help"}, {"run", "--help"}} {
		code, stdout, stderr := fb(t, args...)
		if code != 0 || !strings.Contains(stdout, "USAGE") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	if code, _, _ := fb(t, "help", "nosuch"); code != exitUsage {
		t.Errorf("help nosuch: exit %d, want 2", code)
	}
}

// Every flag of every command says what it is for.
func TestEveryFlagHasADescription(t *testing.T) {
	app := newApp(nil, nil)
	for _, cmd := range app.Commands {
		code, stdout, _ := fb(t, cmd.Name, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", cmd.Name, code)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if m := regexp.MustCompile(`^\s+(--[a-z-]+)( value)?(, -\w+)?(\s*)(.*)$`).FindStringSubmatch(line); m != nil && strings.TrimSpace(m[5]) == "" {
				t.Errorf("%s: %s has no description", cmd.Name, m[1])
			}
		}
	}
}

func TestValidateSaysOneGroup(t *testing.T) {
	good := writeFile(t, "ok.yaml", validHead)
	code, stdout, _ := fb(t, "validate", good, "--threshold", "lost == 0")
	if code != 0 || !strings.Contains(stdout, "2 devices in 1 group,") || !strings.Contains(stdout, "0 stages, 1 threshold,") {
		t.Fatalf("exit %d: %q", code, stdout)
	}
}

// compare prints latencies in the format of every other output.
func TestLatencyText(t *testing.T) {
	for _, tc := range []struct {
		count, us int64
		want      string
	}{{0, 0, "–"}, {1, 45, "45µs"}, {1, 1509, "1.51ms"}, {1, 12300, "12.3ms"}, {1, 294000, "294ms"}, {1, 2100000, "2.1s"}, {1, 90e6, "1m30s"}} {
		if got := latencyText(tc.count, tc.us); got != tc.want {
			t.Errorf("latencyText(%d, %d) = %q, want %q", tc.count, tc.us, got, tc.want)
		}
	}
}
