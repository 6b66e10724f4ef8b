package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tiny is a 2-second self round trip of 5 devices.
const tiny = `name: tiny
duration: 2s
drain: 1s
devices:
  - name: d
    count: 5
    product_key: pk
    subscribe:
      - topic: /pk/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /pk/${deviceName}/user/get
        qos: 1
        interval: 100ms
`

func TestThresholdFailureExits99WithJUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	path := writeFile(t, "tiny.yaml", tiny+"thresholds:\n  - \"lost == 0\"\n")
	out := t.TempDir()
	code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", out, "--threshold", "e2e.p99 < 1us")
	if code != exitThresholds {
		t.Fatalf("exit %d, want 99\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"result.json", "report.html", "junit.xml", "summary.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	junit, _ := os.ReadFile(filepath.Join(out, "junit.xml"))
	if !strings.Contains(string(junit), "<failure") || !strings.Contains(string(junit), "e2e.p99") || strings.Count(string(junit), "<testcase") != 2 {
		t.Fatalf("junit.xml does not show the failed threshold:\n%s", junit)
	}
	// Re-rendering the saved result reaches the same verdict without a re-run.
	code, stdout, _ = fb(t, "report", filepath.Join(out, "result.json"), "--out", t.TempDir())
	if code != exitThresholds || !strings.Contains(stdout, "e2e.p99") {
		t.Fatalf("report: exit %d, want 99:\n%s", code, stdout)
	}
	// A passing gate exits 0.
	code, _, stderr = fb(t, "run", path, "--quiet", "--out", t.TempDir(), "--threshold", "e2e.p99 < 10s")
	if code != 0 {
		t.Fatalf("passing thresholds: exit %d\n%s", code, stderr)
	}
}

func TestUnknownThresholdMetricIsScenarioError(t *testing.T) {
	path := writeFile(t, "tiny.yaml", tiny+"thresholds:\n  - \"e2d.p99 < 50ms\"\n")
	code, _, stderr := fb(t, "run", path, "--quiet", "--out", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "tiny.yaml:16:5: thresholds[0]") || !strings.Contains(stderr, `"e2e"`) {
		t.Fatalf("exit %d, want 2 with the position and a suggestion:\n%s", code, stderr)
	}
	code, _, stderr = fb(t, "run", writeFile(t, "ok.yaml", tiny), "--threshold", "bogus < 1")
	if code != exitUsage {
		t.Fatalf("bad --threshold: exit %d\n%s", code, stderr)
	}
}

func TestCompareSavedAndMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	path := writeFile(t, "tiny.yaml", tiny)
	out := t.TempDir()
	code, stdout, stderr := fb(t, "compare", path, "--matrix", "qos=0,2", "--quiet", "--memory", "--out", out)
	if code != 0 {
		t.Fatalf("compare --matrix: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"compare.html", "compare.json", "qos-0/result.json", "qos-2/result.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	a, b := filepath.Join(out, "qos-0", "result.json"), filepath.Join(out, "qos-2", "result.json")
	if code, stdout, _ := fb(t, "compare", a, b, "--out", t.TempDir()); code != 0 || !strings.Contains(stdout, "compare.html") {
		t.Fatalf("compare saved: exit %d\n%s", code, stdout)
	}
	// A head that loses messages its base did not is a regression; exit 99
	// only with --fail-on-regression.
	res, err := loadResult(a)
	if err != nil {
		t.Fatal(err)
	}
	res.Totals.Lost = 7
	worse := filepath.Join(t.TempDir(), "worse.json")
	f, err := os.Create(worse)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Encode(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, stdout, _ = fb(t, "compare", a, worse, "--out", t.TempDir())
	if !strings.Contains(stdout, "regression: loss_ratio") || code != 0 {
		t.Fatalf("compare with a regression, no gate: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = fb(t, "compare", a, worse, "--fail-on-regression", "--out", t.TempDir())
	if code != exitThresholds {
		t.Fatalf("--fail-on-regression: exit %d, want 99\n%s", code, stdout)
	}
}

// TestSecretsNeverLeak plants a device secret and a password and greps
// every output — result.json, reports, stdout and debug logs — for them.
func TestSecretsNeverLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	const secret, password, envSecret = "PlantedDeviceSecret0123456789abc", "PlantedPassword42", "PlantedEnvSecret987"
	t.Setenv("FLEETBENCH_TEST_SECRET", envSecret)
	text := `name: secrets
duration: 2s
drain: 1s
devices:
  - name: signed
    count: 3
    auth: alibaba
    product_key: a1Secret01
    device_secret: ` + secret + `
    device_name: dev-${index}
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
        interval: 200ms
  - name: users
    count: 2
    auth: password
    username: user-${index}
    password: to-be-replaced
    subscribe:
      - topic: /users/${deviceName}
        qos: 1
`
	path := writeFile(t, "secrets.yaml", text)
	out := t.TempDir()
	code, stdout, stderr := fb(t, "run", path, "--out", out, "--log-level", "debug",
		"--set", "devices[0].device_secret=${env:FLEETBENCH_TEST_SECRET}", "--set", "devices[1].password="+password)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	outputs := map[string]string{"stdout": stdout, "stderr": stderr}
	files, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(files) < 4 {
		t.Fatalf("only %v written", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		outputs[filepath.Base(f)] = string(b)
	}
	for name, content := range outputs {
		for _, s := range []string{secret, password, envSecret} {
			if strings.Contains(content, s) {
				t.Errorf("%s contains the planted secret %q", name, s)
			}
		}
	}
}
