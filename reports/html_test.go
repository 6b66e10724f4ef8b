package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

func renderHTML(t *testing.T, res *metrics.Result, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, res, opts); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

func renderCompareHTML(t *testing.T, cmp Comparison) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteCompareHTML(&b, cmp); err != nil {
		t.Fatalf("WriteCompareHTML: %v", err)
	}
	return b.String()
}

// libraryURLs are the absolute URLs in the embedded echarts.min.js, each
// with its count: its licence header, the XML namespace names its SVG
// renderer needs (names, never fetched) and the zrender licence link in a
// comment. They are the only URLs a page may contain.
var libraryURLs = map[string]int{
	"http://www.apache.org/licenses/LICENSE-2.0":                1,
	"http://www.w3.org/2000/svg":                                1,
	"http://www.w3.org/1999/xlink":                              1,
	"http://www.w3.org/2000/xmlns/":                             1,
	"http://www.w3.org/XML/1998/namespace":                      1,
	"https://github.com/ecomfe/zrender/blob/master/LICENSE.txt": 1,
}

var urlPattern = regexp.MustCompile(`(?i)(?:https?|ftp|wss?)://[^\s"'<>\\)\]]*`)

func TestEmbeddedLibraryURLs(t *testing.T) {
	t.Parallel()
	got := map[string]int{}
	for _, u := range urlPattern.FindAllString(echartsJS, -1) {
		got[u]++
	}
	if !maps.Equal(got, libraryURLs) {
		t.Errorf("echarts.min.js holds the URLs %v, want %v: review the new ones and update libraryURLs", got, libraryURLs)
	}
	if !strings.HasPrefix(strings.TrimSpace(echartsJS), "/*") || !strings.Contains(echartsJS[:2000], "Licensed to the Apache Software Foundation") {
		t.Error("echarts.min.js lacks its licence header")
	}
	if strings.Contains(echartsJS, "</script") {
		t.Error("echarts.min.js contains </script and cannot be inlined")
	}
	if !strings.Contains(echartsJS, `.version="`+EChartsVersion+`"`) {
		t.Errorf("echarts.min.js is not version %s", EChartsVersion)
	}
	// The file is the npm package's, unmodified (see assets/README.md).
	const want = "bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1"
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte(echartsJS))); got != want {
		t.Errorf("echarts.min.js sha256 %s, want %s (update assets/README.md with the new file)", got, want)
	}
	for _, f := range []string{"assets/ECHARTS-LICENSE", "assets/ECHARTS-NOTICE", "assets/ECHARTS-LICENSE-d3", "assets/README.md"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("licence file missing: %v", err)
		}
	}
}

// checkOffline fails unless page references nothing outside itself.
func checkOffline(t *testing.T, name, page string) {
	t.Helper()
	for _, p := range offlineProblems(page) {
		t.Errorf("%s: %s", name, p)
	}
}

// offlineProblems lists what in page could reach outside it. The embedded
// library must appear exactly once (its URLs are checked by
// TestEmbeddedLibraryURLs); the rest of the page may hold no absolute URL
// at all, and nothing that could load anything: src, href other than
// #anchors, url(), @import, <link>, <iframe>, <img>, fetch, XMLHttpRequest,
// protocol-relative addresses.
func offlineProblems(page string) []string {
	if n := strings.Count(page, echartsJS); n != 1 {
		return []string{fmt.Sprintf("the embedded ECharts appears %d times", n)}
	}
	ours := strings.Replace(page, echartsJS, "/* echarts */", 1)
	var out []string
	for _, u := range urlPattern.FindAllString(ours, -1) {
		out = append(out, fmt.Sprintf("URL %q outside the embedded library", u))
	}
	for _, pat := range []string{`(?i)\ssrc(set)?\s*=`, `(?i)\shref\s*=\s*["']?[^"'#\s]`, `(?i)url\(`, `(?i)@import`, `(?i)<link\b`,
		`(?i)<iframe\b`, `(?i)<img\b`, `(?i)\bfetch\(`, `XMLHttpRequest`, `(?i)["'(=]\s*//[a-z0-9-]+\.`} {
		if m := regexp.MustCompile(pat).FindString(ours); m != "" {
			out = append(out, fmt.Sprintf("page references something external: %q (pattern %s)", m, pat))
		}
	}
	return out
}

func TestHTMLIsOffline(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{nodes: true})
	checkOffline(t, "report", renderHTML(t, res, Options{Version: "v1.2.3", Thresholds: mustThresholds(t, "e2e.p99 < 50ms")}))
	checkOffline(t, "empty report", renderHTML(t, &metrics.Result{}, Options{}))
	cmp := Compare([]*metrics.Result{res, makeResult(t, fixture{seed: 3})}, nil, CompareOptions{})
	checkOffline(t, "compare", renderCompareHTML(t, cmp))
}

func TestCheckOfflineCatchesURLs(t *testing.T) {
	t.Parallel()
	// The offline check is only as good as its patterns: it must catch
	// every way a page could reach out.
	for _, bad := range []string{
		`<script src="https://cdn.jsdelivr.net/npm/echarts"></script>`,
		`<script src="//cdn.example.com/x.js"></script>`,
		`<link rel="stylesheet" href="style.css">`,
		`<style>body{background:url(x.png)}</style>`,
		`<style>@import "x.css";</style>`,
		`<a href="http://example.com">x</a>`,
		`<img alt="" srcset="a.png">`,
		`<script>fetch("/api")</script>`,
		`<p>see https://example.com</p>`,
	} {
		page := "<html>" + bad + "<script>" + echartsJS + "</script></html>"
		if len(offlineProblems(page)) == 0 {
			t.Errorf("offlineProblems accepted %s", bad)
		}
	}
	if p := offlineProblems("<html><script>" + echartsJS + "</script></html>"); len(p) != 0 {
		t.Errorf("the bare library is not offline: %q", p)
	}
}

func TestHTMLEscapesUserStrings(t *testing.T) {
	t.Parallel()
	const evil = `<script>alert(1)</script>`
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	res := makeResult(t, fixture{nodes: true})
	res.Scenario = metrics.ScenarioInfo{Name: evil, File: evil + ".yaml", Text: "name: " + evil + "\n"}
	// A lost node's name, address, ranges and reason are user strings too:
	// they reach the node table and the verdict banner.
	res.Nodes[0].Name = evil
	res.Nodes[0].Address = evil + ":7946"
	res.Nodes[0].Ranges = []string{evil + "[0,10)"}
	res.Nodes[0].Lost, res.Nodes[0].LostAtS, res.Nodes[0].LostReason = true, 4.5, evil
	res.Faults = append(res.Faults, metrics.FaultWindow{Kind: "node lost", FromS: 4.5, ToS: 30, Target: evil})
	page := renderHTML(t, res, Options{Version: evil, Broker: evil, Thresholds: mustThresholds(t, "e2e.p99 < 50ms")})
	page = strings.Replace(page, echartsJS, "/* echarts */", 1)
	if strings.Contains(page, evil) || strings.Contains(page, "alert(1)</script>") {
		t.Error("the report contains the scenario name unescaped")
	}
	if n := strings.Count(page, escaped); n < 11 {
		t.Errorf("the escaped name appears %d times, want it in title, heading, meta, file, text, broker, version, node name, address, ranges, reason", n)
	}
	for _, want := range []string{
		`<tr class="lost"><td>` + escaped + `<div class="node-detail">` + escaped + `:7946 · ` + escaped + `[0,10)</div>`,
		`<span class="status fail">LOST</span> at 4.5 s (` + escaped + `)</td>`,
		`Node ` + escaped + ` was lost at 4.5 s (` + escaped + `)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks the escaped node strings %q", want)
		}
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
		t.Errorf("%d <script> tags, want exactly the 3 of the page", n)
	}

	cmp := Compare([]*metrics.Result{res, makeResult(t, fixture{seed: 3})}, []string{evil, `"><img src=x onerror=alert(2)>`}, CompareOptions{Title: evil, Version: evil})
	page = strings.Replace(renderCompareHTML(t, cmp), echartsJS, "/* echarts */", 1)
	for _, raw := range []string{evil, `<img src=x`, `"><img`} {
		if strings.Contains(page, raw) {
			t.Errorf("the comparison contains %q unescaped", raw)
		}
	}
	if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
		t.Errorf("%d <script> tags in the comparison, want 3", n)
	}
	// Labels reach the chart data as JSON strings with < escaped.
	if !strings.Contains(page, `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Error("the chart data does not carry the label JS-escaped")
	}
}

func TestHTMLContents(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{nodes: true})
	page := renderHTML(t, res, Options{Version: "v1.2.3", Thresholds: mustThresholds(t, "e2e.p99 < 50ms", "loss_ratio < 0.1%")})
	for _, want := range []string{
		`<title>THRESHOLDS FAILED · fleetbench · telemetry-qos-mix</title>`, `<span class="badge">THRESHOLDS FAILED</span>`,
		`class="verdict fail"`, `1 of 2 thresholds failed`, `loss_ratio = 0.144%, limit &lt; 0.1%`,
		`id="thresholds"`, `<code>e2e.p99</code>`, `43.9% over the limit`,
		`<dt>Broker</dt><dd class="">embedded (mochi-mqtt)</dd>`, `<dt>fleetbench</dt><dd class="">v1.2.3</dd>`,
		`<dt>Duration</dt><dd class="">30s</dd>`, `<dt>Interrupted</dt><dd class="">no</dd>`,
		`id="chart-latency-connect"`, `id="chart-latency-subscribe"`, `id="chart-latency-publish_ack"`, `id="chart-latency-e2e"`,
		`id="chart-latency-time"`, `id="chart-rates"`, `id="chart-connections"`, `id="chart-problems"`,
		`id="messages"`, `id="broker"`, `id="nodes"`, `node-a`, `id="scenario"`, `<pre class="scenario">name: telemetry-qos-mix`,
		`Apache ECharts 5.6.0`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(page, `id="groups"`) || !strings.Contains(page, "<td>sensors</td>") || !strings.Contains(page, "<td>&lt;cloud&gt;</td>") {
		t.Error("report lacks the per-group table (or does not escape group names)")
	}
	specs := chartSpecs(t, page)
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
		if len(s.Option.Series) == 0 {
			t.Errorf("chart %s has no series", s.ID)
		}
	}
	for _, id := range ids {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("chart %s has no container", id)
		}
	}
	if !slices.Contains(ids, "chart-latency-e2e") {
		t.Errorf("charts %q lack the e2e distribution", ids)
	}
}

func TestHTMLMissingData(t *testing.T) {
	t.Parallel()
	// A result with nothing in it renders with dashes and notes instead of
	// empty charts.
	page := renderHTML(t, &metrics.Result{}, Options{})
	for _, want := range []string{
		`class="verdict fail"`, `<span class="badge">FAILED</span>`, `<li>No device was started.</li>`, `<dt>Broker</dt><dd class="">—</dd>`, `<dt>fleetbench</dt><dd class="">—</dd>`,
		`<dt>Started</dt><dd class="">—</dd>`, `no samples: no message was received`,
		`No errors, losses or disconnects were recorded.`, `The scenario source was not kept in this result.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
	for _, unwanted := range []string{`class="chart"`, `class="chart `, `id="thresholds"`, `id="timeline"`, `id="broker"`, `id="nodes"`} {
		if strings.Contains(page, unwanted) {
			t.Errorf("empty report has %q", unwanted)
		}
	}
	if specs := chartSpecs(t, page); len(specs) != 0 {
		t.Errorf("empty report has %d charts", len(specs))
	}

	// An interrupted run without thresholds is a warning, not a pass.
	res := makeResult(t, fixture{seconds: 4, devices: 20, interrupted: true, noE2E: true})
	page = renderHTML(t, res, Options{})
	for _, want := range []string{`class="verdict warn"`, `INTERRUPTED`, `<dd class=" bad">yes</dd>`, `id="chart-latency-publish_ack"`} {
		if !strings.Contains(page, want) {
			t.Errorf("interrupted report lacks %q", want)
		}
	}
	if strings.Contains(page, `id="chart-latency-e2e"`) {
		t.Error("a chart container for e2e without samples")
	}
}

// chartSpecs extracts the chart data of a page.
func chartSpecs(t *testing.T, page string) []chartSpec {
	t.Helper()
	const start = "<script>window.fbCharts = "
	i := strings.Index(page, start)
	if i < 0 {
		t.Fatal("no chart data in the page")
	}
	rest := page[i+len(start):]
	j := strings.Index(rest, ";</script>")
	if j < 0 {
		t.Fatal("unterminated chart data")
	}
	var specs []chartSpec
	if data := rest[:j]; data != "null" {
		if err := json.Unmarshal([]byte(data), &specs); err != nil {
			t.Fatalf("chart data: %v", err)
		}
	}
	return specs
}
