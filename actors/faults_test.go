package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// faultScenario is a self round trip of n devices at QoS 1 every 100 ms
// for the given duration, with extra top-level YAML (faults:, churn:).
func faultScenario(t *testing.T, url string, n int, duration, extra string) *scenarios.Scenario {
	t.Helper()
	broker := ""
	if url != "" {
		broker = "broker:\n  url: " + url + "\n"
	}
	text := fmt.Sprintf(`name: faults
seed: 7
duration: %s
drain: 2s
%sdevices:
  - name: d
    count: %d
    product_key: pk
    clean_session: true
    connect:
      rate: 1000/s
    subscribe:
      - topic: /pk/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /pk/${deviceName}/user/get
        qos: 1
        interval: 100ms
%s`, duration, broker, n, extra)
	sc, err := scenarios.Parse("faults.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func run(t *testing.T, sc *scenarios.Scenario, opts Options) *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runAsync starts Run in the background and returns a function that waits
// for its result; the run is cancelled if the test ends first.
func runAsync(t *testing.T, sc *scenarios.Scenario, opts Options) func() *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	type outcome struct {
		res *metrics.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(ctx, sc, opts)
		done <- outcome{res, err}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() *metrics.Result {
		t.Helper()
		o := <-done
		done <- o // for the cleanup
		if o.err != nil {
			t.Fatal(o.err)
		}
		return o.res
	}
}

// publishedAsPlanned checks that every planned publish was made: those
// sent and those the client refused locally add up to the plan exactly.
// A refusal is the SDK's bounded QoS 1 queue (Profile.QoS1Queue, 10–20
// awaiting PUBACK) being full, which a loaded machine's slow
// acknowledgements cause at short intervals; so the number sent is exact
// only together with the refusals, and at least 90 % must have gone out.
func publishedAsPlanned(t *testing.T, tot metrics.Totals, planned int64) {
	t.Helper()
	if tot.Published+tot.PublishErrors != planned || tot.Published < planned*9/10 {
		t.Fatalf("published %d and refused %d of %d planned publishes; want them to add up, at least 90 %% published",
			tot.Published, tot.PublishErrors, planned)
	}
	if tot.PublishErrors > 0 {
		t.Logf("%d of %d publishes refused by the client (QoS 1 queue full: slow acknowledgements)", tot.PublishErrors, planned)
	}
}

// accountsExactly checks the loss identity that makes "lost" exact.
func accountsExactly(t *testing.T, tot metrics.Totals) {
	t.Helper()
	if tot.Expected-(tot.Received-tot.Duplicates) != tot.Lost || tot.Lost < 0 {
		t.Fatalf("expected %d received %d duplicates %d lost %d: lost ≠ expected − unique received", tot.Expected, tot.Received, tot.Duplicates, tot.Lost)
	}
}

func TestFaultLatencyWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	sc := faultScenario(t, "", 10, "6s", "faults:\n  - at: 2s\n    for: 2s\n    latency: 150ms\n")
	res := run(t, sc, Options{})
	if len(res.Faults) != 1 || res.Faults[0].FromS != 2 || res.Faults[0].ToS != 4 || res.Faults[0].Devices != 10 {
		t.Fatalf("fault windows %+v", res.Faults)
	}
	// 150 ms each way: a round trip through the broker takes ≥ 300 ms.
	e2e := res.Latency.Get(metrics.E2E)
	if e2e.P99 < 300_000 || e2e.P50 > 100_000 {
		t.Fatalf("e2e p50 %dµs p99 %dµs: want p50 unaffected and p99 ≥ 300 ms", e2e.P50, e2e.P99)
	}
	if res.Totals.Lost != 0 || res.Totals.Disconnects != 0 {
		t.Fatalf("latency alone lost %d messages, %d disconnects", res.Totals.Lost, res.Totals.Disconnects)
	}
	var slow bool
	for _, p := range res.Series {
		if p.T >= 3 && p.T <= 5 && p.E2EP99Us >= 300_000 {
			slow = true
		}
	}
	if !slow {
		t.Fatal("the time series does not show the latency window")
	}
}

func TestFaultCutAndRefuse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	// Half the devices are cut at 2 s and refused until 4 s: they reconnect
	// on the SDK backoff (1 s, 2 s …) once refusals end.
	sc := faultScenario(t, "", 20, "8s", "faults:\n  - at: 2s\n    for: 2s\n    fraction: 0.5\n    cut: true\n    refuse: true\n")
	res := run(t, sc, Options{})
	tot := res.Totals
	picked := res.Faults[0].Devices
	if picked < 5 || picked > 15 {
		t.Fatalf("fraction 0.5 of 20 picked %d devices", picked)
	}
	if tot.Disconnects != int64(picked) || tot.Reconnects != int64(picked) {
		t.Fatalf("disconnects %d reconnects %d, want %d each", tot.Disconnects, tot.Reconnects, picked)
	}
	accountsExactly(t, tot)
	if tot.PublishErrors == 0 {
		t.Fatal("no publish failed while devices were offline")
	}
}

func TestFaultBrokerOutageEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	sc := faultScenario(t, "", 10, "9s", "faults:\n  - at: 2s\n    for: 2s\n    broker_outage: true\n")
	res := run(t, sc, Options{})
	tot := res.Totals
	if tot.Disconnects != 10 || tot.Reconnects != 10 {
		t.Fatalf("disconnects %d reconnects %d, want 10 each", tot.Disconnects, tot.Reconnects)
	}
	if res.Faults[0].Kind != "broker_outage" {
		t.Fatalf("fault window %+v", res.Faults[0])
	}
	accountsExactly(t, tot)
	var down bool
	for _, p := range res.Series {
		if p.T >= 3 && p.T <= 4 && p.Connected == 0 {
			down = true
		}
	}
	if !down {
		t.Fatal("the series does not show the outage (connected = 0)")
	}
}

// TestBrokerOutageMosquitto kills mosquitto mid-run and restarts it: every
// device reports the disconnect, reconnects on the SDK backoff, subscribes
// again (clean session), and loss is exactly what was expected but never
// delivered. The kill waits until every device has subscribed, the restart
// until every device has seen the broker die (both from the run's progress).
func TestBrokerOutageMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	mq := mosquitto.Start(t, mosquitto.Options{})
	sc := faultScenario(t, mq.URL(), 10, "10s", "")
	var latest atomic.Pointer[metrics.Totals]
	totals := func() metrics.Totals {
		if p := latest.Load(); p != nil {
			return *p
		}
		return metrics.Totals{}
	}
	wait := runAsync(t, sc, Options{Progress: func(p Progress) { tot := p.Totals; latest.Store(&tot) }})
	waitFor(t, 30*time.Second, func() bool { return totals().SubscribeOK >= 10 }, "all 10 devices subscribed before the kill")
	mq.Kill()
	waitFor(t, 30*time.Second, func() bool { return totals().Disconnects >= 10 }, "all 10 devices to report the dead broker")
	mq.Restart()
	res := wait()
	tot := res.Totals
	if tot.Disconnects != 10 || tot.Reconnects != 10 || tot.SubscribeOK != 20 {
		t.Fatalf("disconnects %d reconnects %d subscribe_ok %d; want 10, 10, 20", tot.Disconnects, tot.Reconnects, tot.SubscribeOK)
	}
	accountsExactly(t, tot)
	// Messages published after the restart arrive: received keeps growing.
	var after int64
	for _, p := range res.Series {
		if p.T >= 8 {
			after += p.Received
		}
	}
	if after == 0 {
		t.Fatal("nothing received after the broker came back")
	}
}

func TestChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	sc := faultScenario(t, "", 20, "11s", "churn:\n  - fraction: 0.5\n    every: 3s\n    down: 1s\n    start: 2s\n")
	res := run(t, sc, Options{})
	tot := res.Totals
	// Three cycles (2 s, 5 s and 8 s), about half the fleet each.
	if tot.Disconnects < 15 || tot.Disconnects > 45 || tot.Disconnects != tot.Reconnects {
		t.Fatalf("disconnects %d reconnects %d for three cycles of half of 20 devices", tot.Disconnects, tot.Reconnects)
	}
	if tot.ConnectOK != 20+tot.Reconnects {
		t.Fatalf("connect_ok %d, want %d", tot.ConnectOK, 20+tot.Reconnects)
	}
	accountsExactly(t, tot)
}
