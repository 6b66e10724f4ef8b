package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// cli runs the command line in-process and returns its exit code and output.
func fb(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"fleetbench"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validHead = `name: t
duration: 2s
devices:
  - name: d
    count: 2
`

func TestMalformedScenariosExit2(t *testing.T) {
	cases := []struct {
		name, text, want string // want: "line:col: field" fragment
	}{
		{"unknown key", validHead + "    cuont: 3\n", `:6:5: devices[0].cuont`},
		{"wrong type", "name: t\nduration: 2s\ndevices: {}\n", `:3:`},
		{"negative count", "name: t\nduration: 2s\ndevices:\n  - name: d\n    count: -5\n", `:5:12: devices[0].count`},
		{"zero count", "name: t\nduration: 2s\ndevices:\n  - name: d\n    count: 0\n", `:5:12: devices[0].count`},
		{"huge count", "name: t\nduration: 2s\ndevices:\n  - name: d\n    count: 99999999999\n", `:5:12: devices[0].count`},
		{"zero rate", validHead + "    connect:\n      rate: 0/s\n", `:7:13: devices[0].connect.rate`},
		{"qos 3", validHead + "    publish:\n      - topic: /a\n        qos: 3\n        interval: 1s\n", `:8:14: devices[0].publish[0].qos`},
		{"bad url scheme", "name: t\nduration: 2s\nbroker:\n  url: http://localhost:1883\n" + "devices:\n  - name: d\n    count: 2\n", `:4:8: broker.url`},
		{"url without host", "name: t\nduration: 2s\nbroker:\n  url: mqtt://\ndevices:\n  - name: d\n    count: 2\n", `:4:8: broker.url`},
		{"interval and rate", validHead + "    publish:\n      - topic: /a\n        interval: 1s\n        rate: 2/s\n", `devices[0].publish[0]`},
		{"bad duration", "name: t\nduration: 10 min\ndevices:\n  - name: d\n    count: 2\n", `:2:11: duration`},
		{"unknown placeholder", validHead + "    device_name: dev-${idx}\n", `:6:22: devices[0].device_name`},
		{"missing env", validHead + "    password: ${env:FLEETBENCH_SURELY_UNSET_VAR}\n", `devices[0].password`},
		{"hash not last", validHead + "    subscribe:\n      - topic: /a/#/b\n", `:7:16: devices[0].subscribe[0].topic`},
		{"wildcard in publish", validHead + "    publish:\n      - topic: /a/+\n        interval: 1s\n", `:7:16: devices[0].publish[0].topic`},
		{"duplicate group", validHead + "  - name: d\n    count: 1\n", `:6:11: devices[1].name`},
		{"target above fleet", validHead + "stages:\n  - duration: 1s\n    target: 50\n", `:8:13: stages[0].target`},
		{"cert without key", "name: t\nduration: 2s\nbroker:\n  url: mqtts://127.0.0.1:8883\n  tls:\n    cert: c.pem\ndevices:\n  - name: d\n    count: 2\n", `broker.tls`},
		{"yaml syntax", "name: t\nduration: [2s\n", `:2:`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "bad.yaml", tc.text)
			for _, cmd := range []string{"validate", "run"} {
				code, _, stderr := fb(t, cmd, path)
				if code != exitUsage {
					t.Fatalf("%s: exit %d, want 2; stderr:\n%s", cmd, code, stderr)
				}
				if !strings.Contains(stderr, path) || !strings.Contains(stderr, tc.want) {
					t.Fatalf("%s: stderr does not name %s%s:\n%s", cmd, path, tc.want, stderr)
				}
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	good := writeFile(t, "ok.yaml", validHead)
	for _, args := range [][]string{
		{"run"},
		{"run", good, good},
		{"run", good, "--set", "devices[0].count"},
		{"run", good, "--set", "devices[3].count=1"},
		{"run", good, "--set", "devices[0].count=-1"},
		{"run", good, "--duration", "forever"},
		{"run", good, "--broker", "ftp://x"},
		{"run", good, "--log-level", "loud"},
		{"run", "/nonexistent/scenario.yaml"},
		{"run", good, "--no-such-flag"},
		{"sign", "--product-key", "pk"},
		{"sign", "--product-key", "pk", "--device-name", "dn", "--device-secret", "s", "--region", "mars"},
		{"init", "--template", "nope"},
	} {
		code, _, stderr := fb(t, args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2; stderr: %s", args, code, stderr)
		}
	}
}

func TestSign(t *testing.T) {
	code, out, _ := fb(t, "sign", "--product-key", "a1X2bEnP82z", "--device-name", "example1",
		"--device-secret", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe")
	if code != 0 || !strings.Contains(out, "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2") ||
		!strings.Contains(out, "securemode=2") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestInitWritesRunnableTemplates(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := fb(t, "init", "--list")
	if code != 0 || !strings.Contains(out, "quickstart") {
		t.Fatalf("init --list: %d %q", code, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, desc, _ := strings.Cut(line, " ")
		if strings.TrimSpace(desc) == "" {
			t.Errorf("init --list: %s has no description", name)
		}
		dst := filepath.Join(dir, name+".yaml")
		if code, _, stderr := fb(t, "init", "--template", name, dst); code != 0 {
			t.Fatalf("init %s: %d %s", name, code, stderr)
		}
		if code, _, stderr := fb(t, "validate", dst); code != 0 {
			t.Fatalf("validate %s: %d %s", name, code, stderr)
		}
		if code, _, _ := fb(t, "init", "--template", name, dst); code != exitUsage {
			t.Fatalf("init over an existing file: exit %d, want 2", code)
		}
	}
}

// patternExamples are run, with pattern-specific assertions, by
// engine.TestTrafficPatterns.
var patternExamples = map[string]bool{
	"fan-in.yaml": true, "fan-in-shared.yaml": true, "fan-out.yaml": true, "c2d.yaml": true, "request-response.yaml": true,
}

// TestExamplesRun runs every other shipped example through the CLI in a
// shortened form: at most 20 devices per group, 3 s of load and 1 s of
// drain.
func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	names, err := fs.Glob(scenarios.Examples(), "*.yaml")
	if err != nil || len(names) < 4 {
		t.Fatalf("examples: %v %v", names, err)
	}
	for _, name := range names {
		if patternExamples[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "..", "scenarios", "examples", name)
			sc, err := scenarios.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"run", path, "--duration", "3s", "--set", "drain=1s", "--quiet", "--out", t.TempDir()}
			for _, g := range sc.Groups {
				args = append(args, "--set", fmt.Sprintf("devices[%s].count=%d", g.Name, min(g.Count, 20)))
			}
			if len(sc.Stages) > 0 {
				args = append(args, "--set", "stages=[{duration: 1s, target: 20}, {duration: 2s, target: 20}]")
			}
			code, stdout, stderr := fb(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			m := regexp.MustCompile(`result: (\S+)`).FindStringSubmatch(stdout)
			if m == nil {
				t.Fatalf("no result path in output:\n%s", stdout)
			}
			data, err := os.ReadFile(m[1])
			if err != nil {
				t.Fatal(err)
			}
			res, err := metrics.UnmarshalResult(data)
			if err != nil {
				t.Fatal(err)
			}
			if res.Schema != "fleetbench.result/v1" || res.Totals.Devices == 0 || res.Totals.ConnectFailed != 0 ||
				res.Totals.Published == 0 || res.Totals.Lost != 0 {
				raw, _ := json.MarshalIndent(res.Totals, "", " ")
				t.Fatalf("result totals:\n%s", raw)
			}
		})
	}
}
