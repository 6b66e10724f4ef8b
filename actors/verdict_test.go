package actors

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/badbroker"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/reports"
	"github.com/fleetbench/fleetbench/scenarios"
)

// honestScenario is n devices, each publishing m messages at QoS qos to
// the topic it subscribes to, against the broker at url.
func honestScenario(t *testing.T, url string, n, m, qos int, extra string) *scenarios.Scenario {
	t.Helper()
	text := fmt.Sprintf(`name: honest
duration: 20s
drain: 1s
%s
broker:
  url: %s
devices:
  - name: d
    count: %d
    device_name: dev-${index}
    clean_session: true
    connect:
      rate: 1000/s
      timeout: 3s
    subscribe:
      - topic: t/${deviceName}
        qos: %d
    publish:
      - topic: t/${deviceName}
        qos: %d
        interval: 20ms
        count: %d
        payload:
          size: 32
`, extra, url, n, qos, qos, m)
	sc, err := scenarios.Parse("honest.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func startBad(t *testing.T, b badbroker.Behaviour) *badbroker.Broker {
	t.Helper()
	bb, err := badbroker.Start(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	return bb
}

func runHonest(t *testing.T, sc *scenarios.Scenario, opts Options) *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// outputs renders res as every report and the terminal text, judged
// without thresholds, and returns them by file name.
func outputs(t *testing.T, res *metrics.Result) map[string]string {
	t.Helper()
	dir := t.TempDir()
	v := reports.Judge(res, nil)
	if err := reports.WriteAll(dir, res, reports.Options{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range []string{reports.FileJSON, reports.FileHTML, reports.FileJUnit, reports.FileMarkdown} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	var text strings.Builder
	if err := reports.WriteText(&text, res, v); err != nil {
		t.Fatal(err)
	}
	out["stdout"] = text.String()
	return out
}

// checkVerdict asserts the verdict of res and that every output shows it:
// its headline in each, and for a run that did not pass no success
// wording and a failing JUnit case.
func checkVerdict(t *testing.T, res *metrics.Result, want metrics.Status, code string) {
	t.Helper()
	out := outputs(t, res)
	if res.Verdict.Status != want {
		t.Fatalf("verdict %s (%s), want %s", res.Verdict.Status, res.Verdict.Line(), want)
	}
	if code != "" {
		found := false
		for _, r := range res.Verdict.Reasons {
			found = found || r.Code == code
		}
		if !found {
			t.Fatalf("verdict reasons %+v lack %s", res.Verdict.Reasons, code)
		}
	}
	saved, err := metrics.UnmarshalResult([]byte(out[reports.FileJSON]))
	if err != nil {
		t.Fatal(err)
	}
	if saved.Verdict.Status != want {
		t.Fatalf("result.json verdict %q, want %q", saved.Verdict.Status, want)
	}
	for name, text := range out {
		if name == reports.FileJSON {
			continue
		}
		if !strings.Contains(text, want.Headline()) {
			t.Errorf("%s does not say %s", name, want.Headline())
		}
		if want == metrics.StatusPassed {
			continue
		}
		for _, w := range []string{"✔", "COMPLETED", "Completed", "completed", "PASSED", "PASS ", "passed", "succeeded"} {
			if strings.Contains(text, w) {
				t.Errorf("%s of a %s run says %q", name, want, w)
			}
		}
	}
	if want != metrics.StatusPassed && !strings.Contains(out[reports.FileJUnit], "<failure") {
		t.Errorf("junit.xml of a %s run has no failing case", want)
	}
}

func TestVerdictNoBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	addr := closedAddr(t)
	sc := honestScenario(t, "mqtt://"+addr, 20, 5, 1, "")
	sc.Duration = 2 * time.Second
	res := runHonest(t, sc, Options{})
	tot := res.Totals
	if tot.ConnectOK != 0 || tot.ConnectFailed == 0 || res.ConnectFailedByReason["network"] != tot.ConnectFailed {
		t.Fatalf("connect ok %d failed %d by reason %v", tot.ConnectOK, tot.ConnectFailed, res.ConnectFailedByReason)
	}
	checkVerdict(t, res, metrics.StatusFailed, metrics.ReasonCodeNoDeviceConnected)
}

func TestVerdictHTTPServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{HTTP: true})
	sc := honestScenario(t, "mqtt://"+bb.Addr(), 10, 5, 1, "")
	sc.Duration = 2 * time.Second
	res := runHonest(t, sc, Options{})
	tot := res.Totals
	if tot.ConnectOK != 0 || res.ConnectFailedByReason["not_mqtt"] != tot.ConnectFailed || tot.ConnectFailed == 0 {
		t.Fatalf("connect ok %d failed %d by reason %v", tot.ConnectOK, tot.ConnectFailed, res.ConnectFailedByReason)
	}
	if e := res.FirstConnectErrors["not_mqtt"]; !strings.Contains(e, "HTTP/1.1 400") {
		t.Fatalf("first not_mqtt error %q does not show what the server sent", e)
	}
	// Refused at the first bytes, not after the 3 s connect timeout.
	if l := res.Latency.Connect; l.Count != 0 {
		t.Fatalf("connect latency recorded for failed connects: %+v", l.LatencyStats)
	}
	if tot.BytesOut == 0 || tot.BytesIn == 0 {
		t.Fatalf("bytes out %d in %d: the CONNECTs and the HTTP answers were not counted", tot.BytesOut, tot.BytesIn)
	}
	checkVerdict(t, res, metrics.StatusFailed, metrics.ReasonCodeNoDeviceConnected)
}

func TestVerdictConnackCode6(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{ConnackCode: 6})
	sc := honestScenario(t, "mqtt://"+bb.Addr(), 10, 5, 1, "")
	sc.Duration = 2 * time.Second
	res := runHonest(t, sc, Options{})
	tot := res.Totals
	if tot.ConnectOK != 0 || res.ConnectFailedByReason["protocol"] != tot.ConnectFailed || tot.ConnectFailed == 0 {
		t.Fatalf("CONNACK 6: connect ok %d failed %d by reason %v", tot.ConnectOK, tot.ConnectFailed, res.ConnectFailedByReason)
	}
	if e := res.FirstConnectErrors["protocol"]; !strings.Contains(e, "return code 6") {
		t.Fatalf("first protocol error %q does not name the code", e)
	}
	checkVerdict(t, res, metrics.StatusFailed, metrics.ReasonCodeNoDeviceConnected)
}

func TestVerdictNeverSuback(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{NoSuback: true})
	const n = 10
	sc := honestScenario(t, "mqtt://"+bb.Addr(), n, 5, 1, "")
	sc.Duration = 5 * time.Second
	res := runHonest(t, sc, Options{})
	tot := res.Totals
	if tot.ConnectOK != n || tot.SubscribeOK != 0 || tot.SubscribeFailed != n || tot.SubscribeTimeout != n {
		t.Fatalf("connect ok %d, subscribe ok %d failed %d timeout %d; want %d connected and %d timed out",
			tot.ConnectOK, tot.SubscribeOK, tot.SubscribeFailed, tot.SubscribeTimeout, n, n)
	}
	checkVerdict(t, res, metrics.StatusFailed, metrics.ReasonCodeSubscribeFailedAll)
}

func TestAccountingLoseEverySecond(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{DropEvery: 2})
	const n, m = 10, 20
	res := runHonest(t, honestScenario(t, "mqtt://"+bb.Addr(), n, m, 1, ""), Options{})
	tot, st := res.Totals, bb.Stats()
	if tot.Published != n*m || tot.Expected != n*m || st.Dropped != n*m/2 {
		t.Fatalf("published %d expected %d, broker dropped %d; want %d, %d, %d", tot.Published, tot.Expected, st.Dropped, n*m, n*m, n*m/2)
	}
	if tot.Received != st.Delivered || tot.Lost != st.Dropped || tot.Duplicates != 0 {
		t.Fatalf("received %d lost %d duplicates %d; broker delivered %d dropped %d", tot.Received, tot.Lost, tot.Duplicates, st.Delivered, st.Dropped)
	}
	checkVerdict(t, res, metrics.StatusPassed, "")
	// A loss gate sees the loss.
	v := reports.Judge(res, mustGates(t, "lost == 0"))
	if v.Passed() || res.Verdict.Status != metrics.StatusThresholdsFailed {
		t.Fatalf("lost == 0 passed with %d lost (verdict %s)", tot.Lost, res.Verdict.Status)
	}
}

func TestAccountingForeignAndLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{DropEvery: 2, ForeignEvery: 1})
	const n, m = 10, 20
	res := runHonest(t, honestScenario(t, "mqtt://"+bb.Addr(), n, m, 1, ""), Options{})
	tot, st := res.Totals, bb.Stats()
	if st.Foreign == 0 {
		t.Fatal("the broker injected no foreign messages")
	}
	if tot.Foreign != st.Foreign || tot.Received != st.Delivered || tot.Received > tot.Expected {
		t.Fatalf("foreign %d received %d expected %d; broker foreign %d delivered %d", tot.Foreign, tot.Received, tot.Expected, st.Foreign, st.Delivered)
	}
	if tot.Lost != st.Dropped || tot.Lost != n*m/2 {
		t.Fatalf("lost %d, broker dropped %d: foreign traffic hid loss", tot.Lost, st.Dropped)
	}
	if g := res.Groups[0]; g.Received != tot.Received {
		t.Fatalf("group received %d, fleet %d", g.Received, tot.Received)
	}
}

func TestAccountingQoSMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	zero := byte(0)
	bb := startBad(t, badbroker.Behaviour{DeliverQoS: &zero})
	const n, m = 4, 20
	res := runHonest(t, honestScenario(t, "mqtt://"+bb.Addr(), n, m, 1, ""), Options{})
	q1, q0 := res.ByQoS["1"], res.ByQoS["0"]
	publishedAsPlanned(t, res.Totals, n*m)
	pub := res.Totals.Published
	if q1.Expected != pub || q1.Received != pub || q1.Lost != 0 || q0.Received != 0 || res.Totals.Lost != 0 {
		t.Fatalf("QoS 1 expected %d received %d lost %d, QoS 0 received %d (published %d): a downgrade counted as loss", q1.Expected, q1.Received, q1.Lost, q0.Received, pub)
	}
	if res.QoSMismatch["1->0"] != pub || res.Totals.QoSMismatch != pub {
		t.Fatalf("qos mismatch %v (total %d), want 1->0: %d", res.QoSMismatch, res.Totals.QoSMismatch, pub)
	}
	out := outputs(t, res)
	for _, f := range []string{"stdout", reports.FileMarkdown, reports.FileHTML} {
		if !strings.Contains(out[f], "1->0") && !strings.Contains(out[f], "1-&gt;0") {
			t.Errorf("%s does not show the 1->0 QoS mismatch", f)
		}
	}
}

func TestAccountingOldDuplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{RedeliverAfter: 100})
	const n, m = 3, 150
	sc := honestScenario(t, "mqtt://"+bb.Addr(), n, m, 1, "")
	sc.Groups[0].Publish[0].Interval = 5 * time.Millisecond
	res := runHonest(t, sc, Options{})
	tot, st := res.Totals, bb.Stats()
	if st.Redelivered != n {
		t.Fatalf("broker redelivered %d, want %d", st.Redelivered, n)
	}
	// Sequence number 0 again, ~100 numbers later: a duplicate, not a
	// late first arrival.
	publishedAsPlanned(t, tot, n*m)
	if tot.Duplicates != n || tot.Reordered != 0 || tot.Lost != 0 || tot.Received != tot.Published+n {
		t.Fatalf("duplicates %d reordered %d lost %d received %d; want %d, 0, 0, %d", tot.Duplicates, tot.Reordered, tot.Lost, tot.Received, n, tot.Published+n)
	}
}

func TestRunEndsWhenEverythingSent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{})
	const n, m = 20, 50 // 1 s of publishing at 20 ms
	sc := honestScenario(t, "mqtt://"+bb.Addr(), n, m, 1, "")
	sc.Duration = 60 * time.Second
	var mid metrics.Totals
	res := runHonest(t, sc, Options{Progress: func(p Progress) {
		if p.Totals.Published > 0 && mid.Published == 0 {
			mid = p.Totals
		}
	}})
	tot := res.Totals
	publishedAsPlanned(t, tot, n*m)
	if tot.Received != tot.Published || tot.Lost != 0 {
		t.Fatalf("published %d received %d lost %d", tot.Published, tot.Received, tot.Lost)
	}
	if took := res.EndedAt.Sub(res.StartedAt); took > 30*time.Second {
		t.Fatalf("the run took %v of its 60 s: it waited out the duration after the last publish", took)
	}
	if res.DrainS < 0.9 {
		t.Fatalf("drain %.2f s, want the scenario's 1 s", res.DrainS)
	}
	// The load phase is first to last intended publish: (m−1) × 20 ms per
	// device, and the publish rate is over it.
	if span := res.LoadSeconds(); span < 0.95 || span > 3 {
		t.Fatalf("load phase %.3f s (%.3f … %.3f), want about 1 s", span, res.FirstPublishS, res.LastPublishS)
	}
	if rate, ok := res.PublishRate(); !ok || rate < 700 || rate > 1100 {
		t.Fatalf("publish rate %.0f/s (ok %v), want about %d/s", rate, ok, n*50)
	}
	if tot.ConnectedPeak != n || tot.Connected != 0 {
		t.Fatalf("connected peak %d at end %d, want %d and 0", tot.ConnectedPeak, tot.Connected, n)
	}
	// Live numbers come from the same counters: bytes are counted as they
	// go, not when a device disconnects.
	if mid.BytesOut == 0 || mid.BytesIn == 0 {
		t.Fatalf("mid-run totals %+v have no bytes", mid)
	}
}

func TestRunHoldKeepsConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	bb := startBad(t, badbroker.Behaviour{})
	sc := honestScenario(t, "mqtt://"+bb.Addr(), 5, 5, 1, "hold: true")
	sc.Duration = 3 * time.Second
	res := runHonest(t, sc, Options{})
	if took := res.EndedAt.Sub(res.StartedAt); took < 3*time.Second {
		t.Fatalf("hold: true run took %v, less than its 3 s duration", took)
	}
	if res.Totals.Published != 25 || res.Totals.Lost != 0 {
		t.Fatalf("published %d lost %d", res.Totals.Published, res.Totals.Lost)
	}
}

func mustGates(t *testing.T, exprs ...string) []reports.Threshold {
	t.Helper()
	gates, err := reports.ParseThresholds(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return gates
}

// TestFailFastWhenNothingConnects: against a port where nothing listens,
// the run stops once the connect timeout and the first backoff have
// passed, not after its whole duration; with NoFailFast it goes on.
func TestFailFastWhenNothingConnects(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	addr := closedAddr(t)
	sc := honestScenario(t, "mqtt://"+addr, 5, 5, 1, "")
	sc.Duration = 15 * time.Second
	sc.Groups[0].Connect.Timeout = time.Second
	res := runHonest(t, sc, Options{})
	if took := res.EndedAt.Sub(res.StartedAt); took > 10*time.Second {
		t.Fatalf("the run took %v of its 15 s although no device could connect (failures %v)", took, res.ConnectFailedByReason)
	}
	checkVerdict(t, res, metrics.StatusFailed, metrics.ReasonCodeNoDeviceConnected)
	sc.Duration = 4 * time.Second
	res = runHonest(t, sc, Options{NoFailFast: true})
	if took := res.EndedAt.Sub(res.StartedAt); took < 4*time.Second {
		t.Fatalf("with NoFailFast the run took %v, less than its 4 s", took)
	}
}

// closedAddr returns a loopback address where nothing listens (a port
// just freed).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPlannedDevices: the fleet a run must reach to stand for its
// scenario is the ramp's target a second before the end.
func TestPlannedDevices(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       int
	}{
		{"connect rate done", "duration: 10s\ndevices:\n  - name: d\n    count: 100\n    connect: {rate: 50/s}\n", 100},
		{"connect rate too slow for the duration", "duration: 3s\ndevices:\n  - name: d\n    count: 200\n    connect: {rate: 20/s}\n", 40},
		{"stages up and down", "duration: 30s\nstages:\n  - {duration: 10s, target: 50}\n  - {duration: 10s, target: 80}\n  - {duration: 10s, target: 0}\ndevices:\n  - name: d\n    count: 100\n", 80},
		{"ramp ending with the run", "duration: 10s\nstages:\n  - {duration: 10s, target: 100}\ndevices:\n  - name: d\n    count: 100\n", 90},
	} {
		sc, err := scenarios.Parse("p.yaml", []byte("name: p\n"+tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := PlannedDevices(sc); got != tc.want {
			t.Errorf("%s: PlannedDevices = %d, want %d", tc.name, got, tc.want)
		}
	}
}
