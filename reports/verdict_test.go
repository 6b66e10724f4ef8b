package reports

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// noDeviceConnected is a run against a broker that never answered: 100
// devices, every connect failed with a network error.
func noDeviceConnected() *metrics.Result {
	return &metrics.Result{
		Schema:                metrics.Schema,
		Scenario:              metrics.ScenarioInfo{Name: "unreachable"},
		StartedAt:             fixtureStart,
		EndedAt:               fixtureStart.Add(10 * time.Second),
		Totals:                metrics.Totals{Devices: 100, ConnectFailed: 100},
		ConnectFailedByReason: map[string]int64{"network": 100},
		FirstConnectErrors:    map[string]string{"network": "dial tcp 10.0.0.1:1883: connect: connection refused"},
		ByQoS:                 map[string]metrics.QoSTotals{},
		LatencyByQoS:          map[string]metrics.QoSLatency{},
	}
}

// statusCases is one result per status of a run, each with the headline,
// badge and class every output must show.
func statusCases(t *testing.T) []struct {
	name        string
	res         *metrics.Result
	gates       []string
	status      metrics.Status
	headline    string
	class       string
	minFailures int
	reason      string
} {
	t.Helper()
	small := func(f fixture) *metrics.Result {
		f.seconds, f.devices = 10, 50
		return makeResult(t, f)
	}
	subFailed := small(fixture{})
	subFailed.Totals.SubscribeFailed, subFailed.Totals.SubscribeOK, subFailed.Totals.SubscribeTimeout = subFailed.Totals.SubscribeOK, 0, 20
	partial := small(fixture{})
	partial.Partial = true
	return []struct {
		name        string
		res         *metrics.Result
		gates       []string
		status      metrics.Status
		headline    string
		class       string
		minFailures int
		reason      string
	}{
		{"passed without thresholds", small(fixture{}), nil, metrics.StatusPassed, "✔ PASSED (no thresholds set)", "pass", 0, ""},
		{"passed with thresholds", small(fixture{}), []string{"e2e.p99 < 1h", "lost >= 0"}, metrics.StatusPassed, "✔ PASSED (2 of 2 thresholds held)", "pass", 0, ""},
		{"thresholds failed", small(fixture{}), []string{"e2e.p99 < 1us", "lost >= 0"}, metrics.StatusThresholdsFailed, "✘ THRESHOLDS FAILED (1 of 2 thresholds failed)", "fail", 1, ""},
		{"no device connected", noDeviceConnected(), nil, metrics.StatusFailed, "✘ FAILED", "fail", 1,
			"no device connected (100 connect attempts failed: 100 network)"},
		{"no device connected with thresholds", noDeviceConnected(), []string{"lost == 0"}, metrics.StatusFailed, "✘ FAILED (the threshold held)", "fail", 1,
			"no device connected (100 connect attempts failed: 100 network)"},
		{"every subscribe failed", subFailed, nil, metrics.StatusFailed, "✘ FAILED", "fail", 1,
			"every subscription failed (48 subscriptions: 20 never acknowledged)"},
		{"interrupted", small(fixture{interrupted: true}), []string{"e2e.p99 < 1h"}, metrics.StatusInterrupted,
			"✘ INTERRUPTED — the run was stopped before its end; the numbers cover the part that ran (the threshold held)", "warn", 1, ""},
		{"partial", partial, nil, metrics.StatusPartial,
			"✘ PARTIAL — this result was written while the run was still going; it covers the first 10.0 s", "warn", 1, ""},
	}
}

// successWords may not appear in any output of a run that did not pass,
// outside its thresholds table.
var successWords = []string{"✔", "PASS", "PASSED", "COMPLETED", "completed", "success"}

// outsideThresholds drops the thresholds table (whose passing rows may say
// so) and, in HTML, the styles and scripts from an output.
func outsideThresholds(format, out string) string {
	switch format {
	case "text", "junit":
		out = regexp.MustCompile(`(?s)\nThresholds .*?\n\n`).ReplaceAllString(out, "\n")
	case "markdown":
		out = regexp.MustCompile(`(?m)^\| ✔ PASS .*$`).ReplaceAllString(out, "")
	case "html":
		out = regexp.MustCompile(`(?s)<h2 id="thresholds">.*?<h2 id="run">`).ReplaceAllString(out, "")
		out = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>`).ReplaceAllString(out, "")
	}
	return out
}

func TestVerdictInEveryOutput(t *testing.T) {
	t.Parallel()
	for _, tc := range statusCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			gates := mustThresholds(t, tc.gates...)
			v := Judge(tc.res, gates)
			if tc.res.Verdict.Status != tc.status {
				t.Fatalf("status %q, want %q (reasons %v)", tc.res.Verdict.Status, tc.status, tc.res.Verdict.Reasons)
			}
			outs := map[string]string{}
			for _, f := range []string{"text", "markdown", "junit"} {
				outs[f] = render(t, f, tc.res, v)
			}
			outs["html"] = renderHTML(t, tc.res, Options{Thresholds: gates})

			if want := "\nVerdict: " + tc.headline + "\n"; !strings.Contains(outs["text"], want) {
				t.Errorf("text lacks %q:\n%s", want, outs["text"])
			}
			if want := "**" + mdEscape(tc.headline) + "**"; !strings.Contains(outs["markdown"], want) {
				t.Errorf("markdown lacks %q:\n%s", want, outs["markdown"])
			}
			badge := `<section id="verdict" class="verdict ` + tc.class + `">` + "\n" + `  <span class="badge">` + tc.status.Headline() + `</span>`
			if !strings.Contains(outs["html"], badge) {
				t.Errorf("html lacks the banner %q", badge)
			}
			if !strings.Contains(outs["html"], "<title>"+tc.status.Headline()+" · ") {
				t.Errorf("html title does not carry the status %s", tc.status.Headline())
			}
			if tc.reason != "" {
				for f, want := range map[string]string{
					"text":     "\n  - " + tc.reason + "\n",
					"markdown": "\n- " + mdEscape(tc.reason) + "\n",
					"html":     "<li>" + capitalize(tc.reason) + ".</li>",
				} {
					if !strings.Contains(outs[f], want) {
						t.Errorf("%s lacks the reason %q", f, want)
					}
				}
			}

			var doc junitSuites
			if err := xml.Unmarshal([]byte(outs["junit"]), &doc); err != nil {
				t.Fatal(err)
			}
			if err := validateJUnit([]byte(outs["junit"])); err != nil {
				t.Errorf("invalid JUnit: %v", err)
			}
			if doc.Failures < tc.minFailures || (tc.status.OK() && doc.Failures != 0) {
				t.Errorf("JUnit failures=%d, want at least %d", doc.Failures, tc.minFailures)
			}
			if tc.reason != "" {
				found := false
				for _, c := range doc.Suites[0].Cases {
					if strings.HasPrefix(c.Name, "run failed: ") && c.Classname == junitClassRun && c.Failure != nil &&
						c.Failure.Type == "run_failed" && c.Failure.Message == tc.reason {
						found = true
					}
				}
				if !found {
					t.Errorf("JUnit has no failing run case for %q: %+v", tc.reason, doc.Suites[0].Cases)
				}
			}
			if tc.status == metrics.StatusPartial && !strings.Contains(outs["junit"], `<testcase name="partial result" classname="fleetbench.run"`) {
				t.Error("JUnit lacks the partial result case")
			}
			if tc.status == metrics.StatusPassed && len(gates) == 0 && !strings.Contains(outs["junit"], `<testcase name="run passed" classname="fleetbench.run"`) {
				t.Error("JUnit lacks the passing run case")
			}

			if tc.status.OK() {
				return
			}
			for f, out := range outs {
				rest := outsideThresholds(f, out)
				for _, w := range successWords {
					if i := strings.Index(rest, w); i >= 0 {
						t.Errorf("%s of a %s run says %q: …%s…", f, tc.status, w, rest[max(0, i-80):min(len(rest), i+80)])
					}
				}
			}
		})
	}
}

func TestJudgeRecordsVerdict(t *testing.T) {
	t.Parallel()
	res := noDeviceConnected()
	v := Judge(res, mustThresholds(t, "e2e.p99 < 50ms"))
	if len(v.Results) != 1 || res.Verdict.Status != metrics.StatusFailed || len(res.Verdict.Thresholds) != 1 {
		t.Fatalf("verdict %+v, detail %+v", res.Verdict, v)
	}
	if got := res.Verdict.Thresholds[0]; got.Expr != "e2e.p99 < 50ms" || got.Passed || got.Message != v.Results[0].Message {
		t.Errorf("threshold outcome %+v", got)
	}
	// The verdict survives result.json, and a renderer of the decoded
	// result shows it without judging again.
	back := roundTrip(t, res)
	if back.Verdict.Status != metrics.StatusFailed || len(back.Verdict.Reasons) != 1 {
		t.Fatalf("decoded verdict %+v", back.Verdict)
	}
	if out := render(t, "text", back, Verdict{}); !strings.Contains(out, "Verdict: ✘ FAILED") {
		t.Errorf("decoded result renders as\n%s", out)
	}
	// Rendering an unjudged result does not modify it.
	fresh := noDeviceConnected()
	_ = render(t, "text", fresh, Verdict{})
	if fresh.Verdict.Status != "" {
		t.Errorf("rendering judged the result in place: %+v", fresh.Verdict)
	}
}

func TestMessageRowsSayWhatTheyCount(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{seconds: 10, devices: 50})
	res.Totals.Foreign = 12
	res.QoSMismatch = map[string]int64{"1->0": 80}
	res.Totals.QoSMismatch = 80
	res.Totals.SubscribeFailed, res.Totals.SubscribeTimeout = 5, 3
	res.Totals.ProtocolErrors = 2
	res.ConnectFailedByReason["not_mqtt"] = 4
	res.ConnectFailedByReason["protocol"] = 1
	res.Totals.ConnectFailed += 5
	v := Judge(res, nil)
	text := render(t, "text", res, v)
	md := render(t, "markdown", res, v)
	html := renderHTML(t, res, Options{})
	tests := []struct {
		format string
		out    string
		want   []string
	}{
		{"text", text, []string{
			"  foreign              12       —       —       —  ",
			"unstamped messages on subscribed topics: not counted as received or lost\n",
			"  QoS mismatch         80       0      80       0  80 × 1->0: expected QoS 1, delivered at QoS 0; counted as received, never as lost\n",
			"  subscribes   ", "5 failed (3 never acknowledged within the request timeout, 2 refused)",
			"  protocol errors  2 broker packets broke the protocol on an established connection\n",
			"not_mqtt 4", "protocol 1",
			"    not_mqtt       the server's first bytes were not a CONNACK: not an MQTT server",
			"  received  ", "stamped deliveries, duplicates included\n",
			"  unique  ", "received − duplicates\n",
			"  lost  ", "expected − unique, after the drain\n",
		}},
		{"markdown", md, []string{
			"| foreign         |     12 |      — |      — |      — | unstamped messages on subscribed topics: not counted as received or lost ",
			"| QoS mismatch    |     80 |      0 |     80 |      0 | 80 × 1-&gt;0: expected QoS 1, delivered at QoS 0; counted as received, never as lost |",
			"| subscribes timed out ", "| subscribes refused ", "| protocol errors ",
			"| connects failed: not\\_mqtt ", "the server's first bytes were not a CONNACK",
			"| connects failed: protocol ", "a return code MQTT 3.1.1 does not define",
		}},
		{"html", html, []string{
			"<td><code>foreign</code></td>", "unstamped messages on subscribed topics: not counted as received or lost",
			"<td><code>QoS mismatch</code></td>", "80 × 1-&gt;0: expected QoS 1, delivered at QoS 0; counted as received",
			"<td>subscribes timed out</td>", "<td>subscribes refused</td>", "<td>protocol errors</td>",
			"<td>connects failed: not_mqtt</td>", "<td><code>subscribe_timeout</code></td>", "<td><code>qos_mismatch</code></td>",
			"<td><code>protocol_errors</code></td>", "<td><code>connected_peak</code></td>",
		}},
	}
	for _, tc := range tests {
		for _, want := range tc.want {
			if !strings.Contains(tc.out, want) {
				t.Errorf("%s lacks %q:\n%s", tc.format, want, clipPage(tc.out))
			}
		}
	}
	// Without mismatches there is no mismatch row.
	plain := makeResult(t, fixture{seconds: 10, devices: 50})
	if out := render(t, "text", plain, Verdict{}); strings.Contains(out, "QoS mismatch") {
		t.Errorf("a run without QoS mismatches shows the row:\n%s", out)
	}
}

func TestPublishRateOfTheLoadPhase(t *testing.T) {
	t.Parallel()
	// 3000 publishes planned from 0.5 s to 30.5 s of a 36 s run (5.5 s of
	// drain): 100/s, not the 83/s of the whole run.
	res := &metrics.Result{
		Schema: metrics.Schema, StartedAt: fixtureStart, EndedAt: fixtureStart.Add(36 * time.Second),
		FirstPublishS: 0.5, LastPublishS: 30.5, DrainS: 5.5,
		Totals: metrics.Totals{Devices: 10, ConnectOK: 10, ConnectedPeak: 10, SubscribeOK: 10, Published: 3000, Acked: 3000, Expected: 3000, Received: 3000},
		ByQoS: map[string]metrics.QoSTotals{
			"0": {Published: 1000, Acked: 1000, Expected: 1000, Received: 1000},
			"1": {Published: 2000, Acked: 2000, Expected: 2000, Received: 2000},
		},
		LatencyByQoS:          map[string]metrics.QoSLatency{},
		ConnectFailedByReason: map[string]int64{},
	}
	v := Judge(res, mustThresholds(t, "publish_rate >= 100/s", "publish_rate{qos=1} >= 66/s"))
	if !v.Passed() {
		t.Errorf("publish_rate thresholds failed: %+v", v.Results)
	}
	if got := v.Results[0].Value; got != "100/s" {
		t.Errorf("publish_rate = %s, want 100/s", got)
	}
	const phase = "load 30.0 s (first to last intended publish), drain 5.5 s"
	for _, f := range []string{"text", "markdown", "html"} {
		var out string
		if f == "html" {
			out = renderHTML(t, res, Options{})
		} else {
			out = render(t, f, res, v)
		}
		for _, want := range []string{"100/s", phase} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", f, want)
			}
		}
	}
	text := render(t, "text", res, v)
	if !regexp.MustCompile(`\n  publish rate +100/s +33\.3/s +66\.7/s `).MatchString(text) {
		t.Errorf("per-QoS publish rates are not over the load phase:\n%s", text)
	}
	// Connected: peak and at end, in the summary and the HTML card.
	if !strings.Contains(text, "connected: peak 10, at end 0") {
		t.Errorf("text lacks the connected peak:\n%s", text)
	}
	if html := renderHTML(t, res, Options{}); !strings.Contains(html, `<div class="label">connected</div><div class="value">10</div><div class="sub">peak · 0 at end</div>`) {
		t.Error("html lacks the connected card")
	}
}

func TestCompareStatusAndLoadPhase(t *testing.T) {
	t.Parallel()
	a := makeResult(t, fixture{seconds: 10, devices: 50})
	b := makeResult(t, fixture{seconds: 10, devices: 50, slowdown: 1.5})
	old := makeResult(t, fixture{seconds: 10, devices: 50, rate: 3})
	old.FirstPublishS, old.LastPublishS, old.DrainS = 0, 0, 0 // an older result
	Judge(a, nil)
	c := Compare([]*metrics.Result{a, noDeviceConnected(), old}, []string{"a", "down", "old"}, CompareOptions{})
	if c.Runs[0].Status != metrics.StatusPassed || c.Runs[1].Status != metrics.StatusFailed || c.Runs[2].Status != metrics.StatusPassed {
		t.Errorf("statuses %s %s %s", c.Runs[0].Status, c.Runs[1].Status, c.Runs[2].Status)
	}
	if !strings.HasPrefix(c.Runs[1].Verdict, "FAILED: no device connected") {
		t.Errorf("verdict of the failed run %q", c.Runs[1].Verdict)
	}
	for _, row := range c.Rows {
		switch row.Metric {
		case "publish_rate":
			if row.Winner != -1 {
				t.Errorf("publish_rate awarded to run %d although one rate is over the whole run", row.Winner)
			}
			if !strings.HasSuffix(row.Values[2].Text, "(whole run)") {
				t.Errorf("old run's rate %q not marked", row.Values[2].Text)
			}
		case "connected":
			t.Error("compare has a connected (at end) row")
		}
	}
	page := renderCompareHTML(t, c)
	for _, want := range []string{`<span class="status fail">FAILED</span>`, `<span class="status pass">PASSED</span>`, "<th>verdict</th>", "<code>connected_peak</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("compare page lacks %q", want)
		}
	}
	// Two runs with a load phase do get a winner.
	c = Compare([]*metrics.Result{a, b}, nil, CompareOptions{})
	for _, row := range c.Rows {
		if row.Metric == "publish_rate" && row.Values[0].Value != row.Values[1].Value && row.Winner < 0 {
			t.Error("no publish_rate winner between two load-phase rates")
		}
	}
}

// TestReasonCodesShown: the MQTT reason codes a broker answered with
// appear, by name, in the text, Markdown and HTML outputs.
func TestReasonCodesShown(t *testing.T) {
	res := makeResult(t, fixture{})
	res.ReasonCodes = map[string]int64{"puback:quota_exceeded": 7, "disconnect:server_busy": 2}
	var text, md, html strings.Builder
	v := Judge(res, nil)
	if err := WriteText(&text, res, v); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, res, v); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&html, res, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": strings.ReplaceAll(md.String(), `\_`, "_"), "html": html.String()} {
		for _, want := range []string{"puback:quota_exceeded", "disconnect:server_busy"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %s", name, want)
			}
		}
	}
}
