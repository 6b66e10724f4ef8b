package reports

import (
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// endpointLine is an endpoint line whose publish acks all took ackUs.
func endpointLine(t *testing.T, url string, devices int64, ackUs int64) metrics.EndpointResult {
	t.Helper()
	ack, connect := metrics.NewHistogram(), metrics.NewHistogram()
	for range 100 {
		if err := ack.Record(ackUs); err != nil {
			t.Fatal(err)
		}
	}
	for range devices {
		if err := connect.Record(2000); err != nil {
			t.Fatal(err)
		}
	}
	return metrics.EndpointResult{URL: url, Devices: devices, ConnectOK: devices, Published: 100, Acked: 100, Received: 100,
		Connect: metrics.Summarize(connect), PublishAck: metrics.Summarize(ack)}
}

// TestEndpointTables renders a three-endpoint result: text, Markdown and
// HTML show one line per endpoint, the slow one marked, with connect
// failures and failovers spelled out; a one-endpoint result shows none.
func TestEndpointTables(t *testing.T) {
	res := makeResult(t, fixture{devices: 30, seconds: 5})
	slow := endpointLine(t, "mqtt://b|slow:1883", 10, 90_000)
	slow.ConnectFailed, slow.ConnectFailedByReason = 3, map[string]int64{"network": 2, "timeout": 1}
	slow.Failovers = map[string]int64{"mqtt://c:1883": 4}
	res.Endpoints = []metrics.EndpointResult{endpointLine(t, "mqtt://a:1883", 10, 3_000), slow, endpointLine(t, "mqtt://c:1883", 10, 4_000)}

	var text strings.Builder
	if err := WriteText(&text, res, Verdict{}); err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	if err := WriteMarkdown(&md, res, Verdict{}); err != nil {
		t.Fatal(err)
	}
	var html strings.Builder
	if err := WriteHTML(&html, res, Options{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		for _, want := range []string{"mqtt://a:1883", "mqtt://c:1883", "90ms", "3ms", "network 2, timeout 1", "failed over to mqtt://c:1883 4"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Count(out, slowMark) != 1 {
			t.Errorf("%s output marks %d endpoints as slowest, want 1", name, strings.Count(out, slowMark))
		}
	}
	if !strings.Contains(text.String(), "mqtt://b|slow:1883 (slowest)") {
		t.Errorf("text output does not mark the slow endpoint:\n%s", text.String())
	}
	if !strings.Contains(md.String(), "`mqtt://b\\|slow:1883`") {
		t.Errorf("markdown does not escape the endpoint URL:\n%s", md.String())
	}
	h := html.String()
	if !strings.Contains(h, `id="endpoints"`) || !strings.Contains(h, "mqtt://b|slow:1883 <span class=\"status fail\">SLOWEST</span>") ||
		!strings.Contains(h, "90ms") {
		t.Errorf("report.html lacks the endpoint table")
	}

	res.Endpoints = res.Endpoints[:1]
	text.Reset()
	md.Reset()
	html.Reset()
	_ = WriteText(&text, res, Verdict{})
	_ = WriteMarkdown(&md, res, Verdict{})
	_ = WriteHTML(&html, res, Options{})
	if strings.Contains(text.String(), "Endpoints") || strings.Contains(md.String(), "mqtt://a:1883") || strings.Contains(html.String(), `id="endpoints"`) {
		t.Error("a one-endpoint result shows an endpoint table")
	}
}
