package reports

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fleetbench/fleetbench/engine/metrics"
)

// chromiumPath finds Debian's chromium. Without it the browser tests skip,
// unless FLEETBENCH_REQUIRE_CHROMIUM=1 makes that a failure (as in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FLEETBENCH_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium) and FLEETBENCH_REQUIRE_CHROMIUM=1 requires the browser test")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// screenshotDir is where screenshots go: $FLEETBENCH_SCREENSHOT_DIR, or
// the test's temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("FLEETBENCH_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// pageEvents collects what a page reports while it loads: console
// messages, uncaught exceptions, browser log entries and network requests.
type pageEvents struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (e *pageEvents) listen(ev any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			e.problems = append(e.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		e.problems = append(e.problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, text))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			e.problems = append(e.problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		e.requests = append(e.requests, ev.Request.URL)
	}
}

// chartState is what the page script reports about one chart container.
type chartState struct {
	ID       string `json:"id"`
	Rendered bool   `json:"rendered"`
	Series   int    `json:"series"`
	Points   int    `json:"points"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

const chartStateJS = `Array.from(document.querySelectorAll('.chart')).map(function (el) {
  var inst = window.echarts && echarts.getInstanceByDom(el);
  var series = inst ? inst.getOption().series : [];
  var points = series.reduce(function (n, s) { return n + (s.data ? s.data.length : 0); }, 0);
  return {id: el.id, rendered: !!el.querySelector('svg, canvas'), series: series.length, points: points,
    width: el.clientWidth, height: el.clientHeight};
})`

// chartView is what a rendered chart's ECharts instance says about its
// axes and series (getOption and the axis models), to check that every
// series can be seen.
type chartView struct {
	ID          string       `json:"id"`
	XType       string       `json:"xType"`
	XMax        *float64     `json:"xMax"`        // the option's x axis max
	XExtent     [2]float64   `json:"xExtent"`     // the drawn x axis range
	YType       string       `json:"yType"`       // first y axis
	Toggle      []string     `json:"toggle"`      // the scale switch's buttons
	DashedPaths int          `json:"dashedPaths"` // dashed lines drawn in the SVG
	Series      []seriesView `json:"series"`
}

type seriesView struct {
	Name   string   `json:"name"`
	Line   string   `json:"line"` // lineStyle.type
	Symbol string   `json:"symbol"`
	LastX  *float64 `json:"lastX"`
	Count  int      `json:"count"` // points with a value
}

const chartViewJS = `Array.from(document.querySelectorAll('.chart')).map(function (el) {
  var inst = echarts.getInstanceByDom(el);
  var o = inst.getOption(), xa = o.xAxis[0], ya = o.yAxis[0];
  var ext = inst.getModel().getComponent('xAxis', 0).axis.scale.getExtent();
  var sw = el.parentNode.querySelector('.scale-switch');
  return {id: el.id, xType: xa.type, xMax: typeof xa.max === 'number' ? xa.max : null, xExtent: ext, yType: ya.type,
    toggle: sw ? Array.from(sw.querySelectorAll('button')).map(function (b) { return b.dataset.scale; }) : [],
    dashedPaths: Array.from(el.querySelectorAll('path')).filter(function (p) {
      var d = p.getAttribute('stroke-dasharray'); return d && d !== 'none'; }).length,
    series: o.series.map(function (s) {
      var d = (s.data || []).filter(function (p) { return Array.isArray(p) && p[1] !== null && p[1] !== undefined; });
      var last = d.length ? d[d.length - 1][0] : null;
      return {name: s.name, line: (s.lineStyle && s.lineStyle.type) || 'solid', symbol: s.symbol || '', lastX: last, count: d.length};
    })};
})`

// yAxisJS reads the first y axis of a chart, by id: its type, name, and the
// labels drawn (the formatter is the page script's).
const yAxisJS = `(function () {
  var inst = echarts.getInstanceByDom(document.getElementById(%q));
  var a = inst.getOption().yAxis[0];
  var axis = inst.getModel().getComponent('yAxis', 0).axis;
  return {type: a.type, name: a.name || '', labels: axis.getViewLabels().map(function (l) { return axis.getLabelModel().get('formatter') ? axis.getLabelModel().get('formatter')(l.tickValue) : l.formattedLabel; })};
})()`

type yAxisView struct {
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

// pct is the percentile at x = 1/(1-q) of a percentile plot.
func pct(x float64) string { return fmt.Sprintf("%.6g", 100*(1-1/x)) }

// checkChartViews checks what the issue asked of the charts: over-time
// latency on a log axis with a switch, the two p99 lines told apart by
// dash or marker, percentile axes that end where the data does.
func checkChartViews(t *testing.T, views []chartView) {
	t.Helper()
	for _, v := range views {
		switch {
		case v.XType == "log": // a percentile plot
			var end float64
			for _, s := range v.Series {
				if s.LastX == nil {
					t.Errorf("%s: series %s has no points", v.ID, s.Name)
					continue
				}
				end = max(end, *s.LastX)
			}
			if v.XMax == nil {
				t.Errorf("%s: percentile axis without a max, the data ends at x=%v (p%s)", v.ID, end, pct(end))
			} else if *v.XMax != end {
				t.Errorf("%s: percentile axis max x=%v (p%s), the data ends at x=%v (p%s)", v.ID, *v.XMax, pct(*v.XMax), end, pct(end))
			}
			if hi := v.XExtent[1]; hi < end*0.999 || hi > end*1.001 {
				t.Errorf("%s: percentile axis drawn to x=%v (p%s), the data ends at x=%v (p%s)", v.ID, hi, pct(hi), end, pct(end))
			}
		case strings.Contains(v.ID, "latency-time"), strings.Contains(v.ID, "e2e-time"), v.ID == "chart-node-latency":
			if v.YType != "log" {
				t.Errorf("%s: latency over time on a %q axis, want log", v.ID, v.YType)
			}
			if !slices.Equal(v.Toggle, []string{"log", "value"}) {
				t.Errorf("%s: scale switch %q, want log and linear", v.ID, v.Toggle)
			}
		}
		if v.ID != "chart-latency-time" {
			continue
		}
		byName := map[string]seriesView{}
		for _, s := range v.Series {
			byName[s.Name] = s
			if s.Count == 0 {
				t.Errorf("%s: series %s has no points", v.ID, s.Name)
			}
		}
		e2e, ack := byName["e2e p99"], byName["publish→ack p99"]
		if e2e.Name == "" || ack.Name == "" {
			t.Fatalf("%s: series %+v lack e2e p99 or publish→ack p99", v.ID, v.Series)
		}
		if e2e.Line == ack.Line && e2e.Symbol == ack.Symbol {
			t.Errorf("%s: e2e p99 and publish→ack p99 are both %s lines with %q markers: one hides the other where they are equal", v.ID, e2e.Line, e2e.Symbol)
		}
		if v.DashedPaths == 0 {
			t.Errorf("%s: no dashed line was drawn", v.ID)
		}
	}
}

func TestHTMLInBrowser(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := chromiumPath(t)
	dir := t.TempDir()
	res := makeResult(t, fixture{nodes: true})
	opts := Options{Version: "v0.1.0-test", Thresholds: mustThresholds(t, "e2e.p99 < 50ms", "loss_ratio < 0.1%", "publish_ack.p99{qos=1} < 20ms")}
	if err := WriteAll(dir, res, opts); err != nil {
		t.Fatal(err)
	}
	head := makeResult(t, fixture{seed: 2, slowdown: 1.3, scenarioName: "telemetry-qos-mix"})
	cmp := Compare([]*metrics.Result{res, head}, []string{"mochi v2.7.9", "mochi v2.8.0-rc1"}, CompareOptions{Version: "v0.1.0-test"})
	writeFile(t, filepath.Join(dir, "compare.html"), func(w *os.File) error { return WriteCompareHTML(w, cmp) })
	// A distributed run with a lost node: the per-node charts.
	dist := distributedResult(t, fixture{})
	writeFile(t, filepath.Join(dir, "nodes.html"), func(w *os.File) error { return WriteHTML(w, dist, opts) })
	// A run whose publish→ack p99 is its e2e p99 in every interval: both
	// lines must still show.
	same := makeResult(t, fixture{})
	for i := range same.Series {
		same.Series[i].PublishAckP99Us = same.Series[i].E2EP99Us
	}
	writeFile(t, filepath.Join(dir, "equal-p99.html"), func(w *os.File) error { return WriteHTML(w, same, Options{}) })

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	shots := screenshotDir(t)

	pages := []struct {
		file       string
		wantCharts []string
	}{
		{FileHTML, []string{"chart-latency-connect", "chart-latency-subscribe", "chart-latency-publish_ack", "chart-latency-e2e",
			"chart-latency-time", "chart-rates", "chart-connections", "chart-problems"}},
		{"nodes.html", []string{"chart-latency-connect", "chart-latency-subscribe", "chart-latency-publish_ack", "chart-latency-e2e",
			"chart-latency-time", "chart-rates", "chart-connections", "chart-problems",
			"chart-node-rates", "chart-node-latency", "chart-node-connected"}},
		{"equal-p99.html", []string{"chart-latency-connect", "chart-latency-subscribe", "chart-latency-publish_ack", "chart-latency-e2e",
			"chart-latency-time", "chart-rates", "chart-connections", "chart-problems"}},
		{"compare.html", []string{"chart-compare-connect", "chart-compare-subscribe", "chart-compare-publish_ack", "chart-compare-e2e",
			"chart-compare-e2e-time", "chart-compare-rate-time"}},
	}
	for _, pg := range pages {
		t.Run(pg.file, func(t *testing.T) {
			base := strings.TrimSuffix(pg.file, ".html")
			states, events, png := openPage(t, browserCtx, filepath.Join(dir, pg.file), func(ctx context.Context) {
				views, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartView](chartViewJS))
				if err != nil {
					t.Fatalf("read chart options: %v", err)
				}
				checkChartViews(t, views)
				for _, v := range views {
					if v.XType == "log" { // each percentile plot
						elementShot(t, ctx, v.ID, filepath.Join(shots, base+"-"+v.ID+".png"))
					}
					if len(v.Toggle) > 0 {
						switchScale(t, ctx, v.ID, filepath.Join(shots, base+"-"+v.ID))
					}
				}
			})
			got := map[string]chartState{}
			for _, s := range states {
				got[s.ID] = s
				if !s.Rendered || s.Series == 0 || s.Points == 0 || s.Width < 200 || s.Height < 150 {
					t.Errorf("chart %s: rendered=%v series=%d points=%d size=%dx%d", s.ID, s.Rendered, s.Series, s.Points, s.Width, s.Height)
				}
			}
			for _, id := range pg.wantCharts {
				if _, ok := got[id]; !ok {
					t.Errorf("chart %s is missing (have %d charts)", id, len(states))
				}
			}
			// One line per node in each per-node chart.
			for _, id := range nodeChartIDs {
				if s, ok := got[id]; ok && s.Series != len(dist.Nodes) {
					t.Errorf("chart %s has %d series, want one per node (%d)", id, s.Series, len(dist.Nodes))
				}
			}
			if len(states) != len(pg.wantCharts) {
				t.Errorf("%d charts, want %d", len(states), len(pg.wantCharts))
			}
			shot := filepath.Join(shots, base+".png")
			if err := os.WriteFile(shot, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", shot)
			for _, p := range events.problems {
				t.Errorf("browser reported: %s", p)
			}
			for _, r := range events.requests {
				if !strings.HasPrefix(r, "file:") && !strings.HasPrefix(r, "data:") {
					t.Errorf("the page requested %s: reports must work offline", r)
				}
			}
		})
	}

	// The harness itself: a page that logs an error, throws and reaches
	// for the network must be caught on all three counts. The address is
	// loopback, so nothing would leave the machine even if the offline
	// emulation failed.
	t.Run("probe", func(t *testing.T) {
		probe := filepath.Join(dir, "probe.html")
		page := `<!DOCTYPE html><html><body><div class="chart" id="c"><svg></svg></div>` +
			`<img alt="" src="http://127.0.0.1:9/x.png"><script>console.error("probe error"); missingFunction();</script></body></html>`
		if err := os.WriteFile(probe, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		_, events, _ := openPage(t, browserCtx, probe, nil)
		all := strings.Join(events.problems, "\n")
		for _, want := range []string{"probe error", "missingFunction"} {
			if !strings.Contains(all, want) {
				t.Errorf("the harness missed %q; it saw:\n%s", want, all)
			}
		}
		if !slices.Contains(events.requests, "http://127.0.0.1:9/x.png") {
			t.Errorf("the harness missed the network request; it saw %q", events.requests)
		}
	})
}

// elementShot saves a screenshot of the card of chart id.
func elementShot(t *testing.T, ctx context.Context, id, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(fmt.Sprintf(".chart-card:has(#%s)", id))))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", id, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// switchScale clicks the linear and then the log button of chart id's
// scale switch, checks that its y axis follows, and saves a screenshot of
// each (prefix-linear.png, prefix-log.png).
func switchScale(t *testing.T, ctx context.Context, id, prefix string) {
	t.Helper()
	first, err := chromedp.Run(ctx, chromedp.Evaluate[yAxisView](fmt.Sprintf(yAxisJS, id)))
	if err != nil {
		t.Fatalf("read %s y axis: %v", id, err)
	}
	t.Logf("%s: y axis %+v", id, first)
	if first.Name == "" || len(first.Labels) < 2 || !slices.ContainsFunc(first.Labels, func(l string) bool { return strings.HasSuffix(l, "ms") }) {
		t.Errorf("%s: y axis %+v: want a name and duration labels", id, first)
	}
	for _, scale := range []string{"value", "log"} {
		button := fmt.Sprintf(`.chart-card:has(#%s) .scale-switch button[data-scale="%s"]`, id, scale)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
			t.Fatalf("click %s: %v", button, err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[yAxisView](fmt.Sprintf(yAxisJS, id)))
		if err != nil {
			t.Fatalf("read %s y axis: %v", id, err)
		}
		t.Logf("%s: y axis after clicking %s: %+v", id, scale, got)
		if got.Type != scale {
			t.Errorf("%s: y axis %q after clicking %s, want %q", id, got.Type, scale, scale)
		}
		// Switching keeps the axis's name and duration labels.
		if got.Name != first.Name || !slices.ContainsFunc(got.Labels, func(l string) bool { return strings.HasSuffix(l, "ms") }) {
			t.Errorf("%s: y axis %+v after clicking %s, was %+v", id, got, scale, first)
		}
		pressed, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute("aria-pressed")`, button)))
		if err != nil || pressed != "true" {
			t.Errorf("%s: the %s button is not pressed after a click (%q, %v)", id, scale, pressed, err)
		}
		name := map[string]string{"value": "linear", "log": "log"}[scale]
		elementShot(t, ctx, id, prefix+"-"+name+".png")
	}
}

// openPage opens a file in a new tab with networking off and returns the
// state of its charts, what the page reported while loading and a
// full-page PNG screenshot. inspect, if not nil, runs in the tab once the
// charts have drawn, before the screenshot.
func openPage(t *testing.T, browserCtx context.Context, path string, inspect func(tabCtx context.Context)) ([]chartState, *pageEvents, []byte) {
	t.Helper()
	events := &pageEvents{}
	tabCtx, cancelTab := chromedp.NewContext(browserCtx, chromedp.WithListener(events.listen))
	defer cancelTab()
	// Networking off: every request but file: and data: fails (the
	// callers fail the test if the page even tries one).
	if err := chromedp.Do(tabCtx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
				return err
			}
			if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}},
			})
			return err
		}),
		chromedp.EmulateViewport(1280, 900),
	); err != nil {
		t.Fatalf("set up tab: %v", err)
	}
	u := url.URL{Scheme: "file", Path: path}
	if err := chromedp.Do(tabCtx, chromedp.Navigate(u.String())); err != nil {
		t.Fatalf("open %s: %v", u.String(), err)
	}
	// Wait until every chart has drawn.
	if _, err := chromedp.Run(tabCtx, chromedp.Poll[bool](
		`Array.from(document.querySelectorAll('.chart')).every(function (el) { return !!el.querySelector('svg, canvas'); })`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("charts did not render: %v", err)
	}
	states, err := chromedp.Run(tabCtx, chromedp.Evaluate[[]chartState](chartStateJS))
	if err != nil {
		t.Fatalf("read chart state: %v", err)
	}
	if inspect != nil {
		inspect(tabCtx)
	}
	// The screenshot also gives pending console events time to arrive.
	png, err := chromedp.Run(tabCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	return states, &pageEvents{problems: slices.Clone(events.problems), requests: slices.Clone(events.requests)}, png
}

// writeFile creates path and writes it with write.
func writeFile(t *testing.T, path string, write func(*os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
