package actors

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// harness runs a scenario on an embedded broker with a coordinator the
// test can talk to.
type harness struct {
	sys   *actor.ActorSystem
	coord *actor.PID
	rec   *metrics.Recorder
	done  chan *metrics.Result
}

func start(t *testing.T, text string) *harness {
	t.Helper()
	sc, err := scenarios.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rec, err := metrics.NewRecorder(metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	index := &iot.TopicIndex{}
	for _, p := range sc.Devices() {
		for _, s := range p.Subscriptions {
			index.Add(s.Filter, iot.QoS(s.QoS))
		}
	}
	clock := hal.NewSystemClock()
	env := &Env{
		Recorder: rec, Dialer: &hal.NetDialer{Broker: b}, Endpoint: hal.Endpoint{Transport: hal.Memory},
		Clock: clock, Epoch: clock.Now(), Index: index, Topics: iot.MQTTTopics, Logger: slog.New(slog.DiscardHandler),
	}
	h := &harness{sys: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	})), rec: rec, done: make(chan *metrics.Result, 1)}
	t.Cleanup(h.sys.Shutdown)
	h.coord = h.sys.Root.Spawn(NewCoordinatorProps(Config{Scenario: sc, Env: env, Done: func(r *metrics.Result) { h.done <- r }}))
	return h
}

func (h *harness) wait(t *testing.T) *metrics.Result {
	t.Helper()
	select {
	case r := <-h.done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("run did not finish")
		return nil
	}
}

const stallScenario = `name: stall
duration: 3s
drain: 1s
devices:
  - name: d
    count: 1
    clean_session: true
    subscribe:
      - topic: /pk/d/user/get
        qos: 1
    publish:
      - topic: /pk/d/user/get
        qos: 1
        interval: 100ms
        payload:
          size: 32
`

// TestStalledDeviceShowsAsLatency: a device whose actor hangs for 1 s
// publishes late; latency counts from the intended send times, so the
// stall shows in e2e p99 (no coordinated omission) and as lagged publishes.
func TestStalledDeviceShowsAsLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	h := start(t, stallScenario)
	// Stall once the device is connected, subscribed and its messages
	// come back: mid-run, whatever the machine's load.
	waitFor(t, 10*time.Second, func() bool { return h.rec.GetQoS(metrics.Received, 1) >= 3 }, "three round trips before the stall")
	h.sys.Root.Send(h.coord, StallDevices{For: time.Second})
	res := h.wait(t)
	e2e := res.Latency.Get(metrics.E2E)
	if e2e.P99 < time.Second.Microseconds() {
		t.Fatalf("e2e p99 = %dµs after a 1 s stall, want ≥ 1 s (coordinated omission?)", e2e.P99)
	}
	if res.Totals.Lagged == 0 {
		t.Fatal("lagged = 0 after a 1 s stall")
	}
	// The stalled slots were published late, not skipped: one publish for
	// every 100 ms slot between the first and the last intended time (the
	// slots are exact; how many fit in the 3 s depends on when the device
	// got connected, so the count is not fixed).
	slots := int64(math.Round((res.LastPublishS-res.FirstPublishS)/0.1)) + 1
	if res.Totals.Published != slots || slots < 15 {
		t.Fatalf("published %d for %d slots of 100 ms (%.3f s to %.3f s): stalled slots must be sent late, not dropped",
			res.Totals.Published, slots, res.FirstPublishS, res.LastPublishS)
	}
	if res.Totals.Lost != 0 || res.Totals.Received != res.Totals.Published {
		t.Fatalf("received %d of %d, lost %d", res.Totals.Received, res.Totals.Published, res.Totals.Lost)
	}
	t.Logf("e2e p50 %dµs p99 %dµs max %dµs, lagged %d, published %d", e2e.P50, e2e.P99, e2e.Max, res.Totals.Lagged, res.Totals.Published)
}

// TestShareAddsUp: whatever the ramp's target, the nodes' shares of a
// group add up to it exactly and never exceed a node's range.
func TestShareAddsUp(t *testing.T) {
	sc := &scenarios.Scenario{Groups: []*scenarios.Group{{Name: "g", Count: 1001}}}
	spans := []Span{{0, 250}, {250, 751}, {751, 1001}}
	for target := 0; target <= 1001; target++ {
		sum := 0
		for _, s := range spans {
			c := &coordinator{sc: sc, cfg: Config{Share: []Span{s}}}
			n := c.share(0, target)
			if n < 0 || n > s.Len() {
				t.Fatalf("target %d: span %v gets %d", target, s, n)
			}
			sum += n
		}
		if sum != target {
			t.Fatalf("target %d: shares add up to %d", target, sum)
		}
	}
}
