package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// goldenCases are the results the golden files are made of.
func goldenCases(t *testing.T) []struct {
	name    string
	res     *metrics.Result
	verdict Verdict
} {
	t.Helper()
	full := makeResult(t, fixture{})
	ths := mustThresholds(t,
		"e2e.p99 < 50ms",
		"publish_ack.p99{qos=1} <= 20ms",
		"loss_ratio < 0.1%",
		"connect_failed_ratio < 1%",
		"duplicates{qos=2} == 0",
		"e2e p999 < 100ms",
	)
	noE2E := makeResult(t, fixture{noE2E: true, interrupted: true, seconds: 12, devices: 50})
	return []struct {
		name    string
		res     *metrics.Result
		verdict Verdict
	}{
		{"thresholds", full, Evaluate(full, ths)},
		{"no-thresholds", full, Evaluate(full, nil)},
		{"interrupted-no-e2e", noE2E, Evaluate(noE2E, mustThresholds(t, "e2e.p99 < 50ms", "received > 0"))},
		{"interrupted-no-thresholds", noE2E, Verdict{}},
	}
}

func TestWriteTextGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, tc.res, tc.verdict); err != nil {
				t.Fatal(err)
			}
			golden(t, "text/"+tc.name+".txt", b.Bytes())
		})
	}
}

func TestWriteTextAfterRoundTrip(t *testing.T) {
	t.Parallel()
	// A saved result.json renders exactly like the result in memory.
	res := makeResult(t, fixture{})
	v := Evaluate(res, mustThresholds(t, "e2e.p99 < 50ms", "e2e.p95 < 40ms"))
	var a, b bytes.Buffer
	if err := WriteText(&a, res, v); err != nil {
		t.Fatal(err)
	}
	back := roundTrip(t, res)
	if err := WriteText(&b, back, Evaluate(back, mustThresholds(t, "e2e.p99 < 50ms", "e2e.p95 < 40ms"))); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("text differs after a JSON round trip\n--- before ---\n%s\n--- after ---\n%s", a.String(), b.String())
	}
}

func TestWriteTextEmptyResult(t *testing.T) {
	t.Parallel()
	// A result with nothing in it (a run that failed at once) renders with
	// dashes, not zeros pretending to be latencies, does not panic, and
	// fails: nothing was measured.
	var b bytes.Buffer
	if err := WriteText(&b, &metrics.Result{}, Verdict{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"fleetbench  —", "e2e", "—", "Verdict: ✘ FAILED\n  - no device was started\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := WriteText(&b, nil, Verdict{}); err == nil {
		t.Error("WriteText(nil) succeeded")
	}
}

func TestWriteTextControlCharacters(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 3, devices: 10})
	res.Scenario.Name = "evil\nname\x1b[31m"
	var b bytes.Buffer
	if err := WriteText(&b, res, Verdict{}); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(b.String(), "\n")
	if first != "fleetbench  evil name [31m  (scenarios/examples/telemetry.yaml)" {
		t.Errorf("first line %q: control characters were not neutralised", first)
	}
}
