package actors

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// connHook counts the CONNECTs a broker accepted, by client id.
type connHook struct {
	mqtt.HookBase
	mu  sync.Mutex
	ids map[string]int
	n   atomic.Int64
}

func (h *connHook) ID() string           { return "test-conns" }
func (h *connHook) Provides(b byte) bool { return b == mqtt.OnSessionEstablished }
func (h *connHook) count() int64         { return h.n.Load() }
func (h *connHook) has(id string) bool   { h.mu.Lock(); defer h.mu.Unlock(); return h.ids[id] > 0 }
func (h *connHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.mu.Lock()
	if h.ids == nil {
		h.ids = make(map[string]int)
	}
	h.ids[cl.ID]++
	h.mu.Unlock()
	h.n.Add(1)
}

// startBrokers starts n embedded brokers on loopback, each with a hook
// counting its sessions.
func startBrokers(t *testing.T, n int) ([]*broker.Broker, []*connHook, []string) {
	t.Helper()
	var bs []*broker.Broker
	var hooks []*connHook
	var urls []string
	for range n {
		h := &connHook{}
		b, err := broker.New(broker.Options{Hooks: []mqtt.Hook{h}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs, hooks, urls = append(bs, b), append(hooks, h), append(urls, "mqtt://"+b.Addr())
	}
	return bs, hooks, urls
}

// endpointScenario is n devices spread over urls, each publishing m
// messages at QoS 1 to the topic it subscribes to (a count-driven
// schedule: the counts are exact).
func endpointScenario(t *testing.T, urls []string, extra string, n, m int, interval string) *scenarios.Scenario {
	t.Helper()
	text := fmt.Sprintf(`name: endpoints
duration: 30s
drain: 1s
broker:
  url: [%s]
%sdevices:
  - name: d
    count: %d
    auth: none
    client_id: dev-${index}
    clean_session: true
    connect:
      rate: 1000/s
    subscribe:
      - topic: t/${index}
        qos: 1
    publish:
      - topic: t/${index}
        qos: 1
        interval: %s
        count: %d
        payload:
          size: 48
`, strings.Join(urls, ", "), extra, n, interval, m)
	sc, err := scenarios.Parse("endpoints.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// checkEndpointSums checks that the endpoint lines add up exactly to the
// totals.
func checkEndpointSums(t *testing.T, res *metrics.Result) {
	t.Helper()
	var s metrics.EndpointResult
	for i := range res.Endpoints {
		if err := s.Add(&res.Endpoints[i]); err != nil {
			t.Fatal(err)
		}
	}
	tot := res.Totals
	if s.Devices != tot.Devices || s.ConnectOK != tot.ConnectOK || s.ConnectFailed != tot.ConnectFailed ||
		s.Disconnects != tot.Disconnects || s.Reconnects != tot.Reconnects || s.Published != tot.Published ||
		s.Acked != tot.Acked || s.Received != tot.Received || s.PublishErrors != tot.PublishErrors {
		t.Errorf("endpoint sums %+v\ndo not add up to the totals %+v", s, tot)
	}
	if s.Connect.Count != res.Latency.Connect.Count || s.PublishAck.Count != res.Latency.PublishAck.Count {
		t.Errorf("endpoint latencies: connect %d publish_ack %d samples, totals %d and %d",
			s.Connect.Count, s.PublishAck.Count, res.Latency.Connect.Count, res.Latency.PublishAck.Count)
	}
}

// TestThreeEndpointsExactCounts runs 60 devices over three brokers with
// weights [3,2,1]: each broker serves exactly its devices, and the
// per-endpoint counts are exact and add up to the totals.
func TestThreeEndpointsExactCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a fleet run against three brokers")
	}
	const n, m = 60, 10
	_, hooks, urls := startBrokers(t, 3)
	sc := endpointScenario(t, urls, "  weights: [3, 2, 1]\n", n, m, "50ms")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	if tot.Published != n*m || tot.Received != n*m || tot.Lost != 0 || tot.ConnectFailed != 0 {
		t.Fatalf("totals %+v", tot)
	}
	if len(res.Endpoints) != 3 {
		t.Fatalf("endpoints = %+v", res.Endpoints)
	}
	for i, want := range []int64{30, 20, 10} {
		e := res.Endpoints[i]
		if e.URL != urls[i] || e.Devices != want || e.ConnectOK != want || e.Published != want*m || e.Acked != want*m ||
			e.Received != want*m || e.Connect.Count != want || e.PublishAck.Count != want*m || e.ConnectFailed != 0 || e.FailoversTotal() != 0 {
			t.Errorf("endpoint %d = %+v, want %d devices, %d messages", i, e, want, want*m)
		}
		if got := hooks[i].count(); got != want {
			t.Errorf("broker %d saw %d sessions, want %d", i, got, want)
		}
	}
	// The spread by global index: slots a,a,a,b,b,c repeated.
	for i := range n {
		want := []int{0, 0, 0, 1, 1, 2}[i%6]
		if !hooks[want].has(fmt.Sprintf("dev-%d", i)) {
			t.Errorf("dev-%d did not connect to broker %d", i, want)
		}
	}
	checkEndpointSums(t, res)
	if !strings.Contains(res.Meta.Broker, urls[2]) {
		t.Errorf("meta broker %q does not list the endpoints", res.Meta.Broker)
	}
}

// TestEndpointFailover stops one of three brokers once every device is
// connected. With failover: next its devices reconnect to the next
// endpoint, and the failovers are counted from the one to the other; with
// failover: none they keep reconnecting to their own endpoint, and come
// back when a broker listens there again.
func TestEndpointFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a fleet run with a broker stopped mid-run")
	}
	for _, mode := range []string{"next", "none"} {
		t.Run(mode, func(t *testing.T) {
			const n = 30
			bs, hooks, urls := startBrokers(t, 3)
			sc := endpointScenario(t, urls, "  failover: "+mode+"\n", n, 1000, "200ms")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			connected, back := make(chan struct{}), make(chan struct{})
			var once1, once2 sync.Once
			var stopped atomic.Bool
			opts := Options{Progress: func(p Progress) {
				c := &p.Snapshot.Counts
				if c.Get(metrics.Connected) == n && c.Get(metrics.SubscribeOK) >= n {
					once1.Do(func() { close(connected) })
				}
				// Endpoint 1 held n/3 devices: all of them reconnected.
				if stopped.Load() && c.Get(metrics.Reconnects) >= n/3 && c.Get(metrics.Connected) == n {
					once2.Do(func() { close(back) })
				}
			}}
			done := make(chan *metrics.Result, 1)
			go func() {
				res, err := Run(ctx, sc, opts)
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			wait := func(ch <-chan struct{}, what string) {
				t.Helper()
				select {
				case <-ch:
				case <-ctx.Done():
					t.Fatalf("timed out waiting until %s", what)
				}
			}
			wait(connected, "every device is connected")
			addr := bs[1].Addr()
			if err := bs[1].Close(); err != nil {
				t.Fatal(err)
			}
			stopped.Store(true)
			var again *connHook
			if mode == "none" {
				// A broker listens on endpoint 1 again: its devices, which
				// only ever try their own endpoint, come back to it.
				again = &connHook{}
				b, err := broker.New(broker.Options{Addr: addr, Hooks: []mqtt.Hook{again}})
				if err != nil {
					t.Fatal(err)
				}
				if err := b.Start(context.Background()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
			}
			wait(back, "the devices of the stopped broker reconnected")
			cancel()
			res := <-done
			if res == nil {
				t.Fatal("no result")
			}
			checkEndpointSums(t, res)
			e1, e2 := res.Endpoints[1], res.Endpoints[2]
			if e1.Devices != n/3 || e1.Disconnects != n/3 {
				t.Fatalf("endpoint 1 = %+v", e1)
			}
			switch mode {
			case "next":
				if e1.Failovers[urls[2]] != n/3 || len(e1.Failovers) != 1 {
					t.Errorf("failovers from endpoint 1 = %v, want %d to %s", e1.Failovers, n/3, urls[2])
				}
				// broker 2 served its own devices and those of broker 1
				if got := hooks[2].count(); got != 2*n/3 {
					t.Errorf("broker 2 saw %d sessions, want %d", got, 2*n/3)
				}
				if e2.ConnectOK != n/3 || e2.Reconnects != n/3 || e1.ConnectOK != n/3 || e1.Reconnects != 0 {
					t.Errorf("endpoint 1 %+v\nendpoint 2 %+v", e1, e2)
				}
			case "none":
				if e1.FailoversTotal() != 0 || hooks[2].count() != n/3 || again.count() != n/3 || e1.Reconnects != n/3 {
					t.Errorf("failover none: failovers %v, broker 2 saw %d sessions, broker 1 again %d, endpoint 1 %+v",
						e1.Failovers, hooks[2].count(), again.count(), e1)
				}
			}
			for i, e := range res.Endpoints {
				if i != 1 && e.FailoversTotal() != 0 {
					t.Errorf("endpoint %d counts failovers %v", i, e.Failovers)
				}
			}
		})
	}
}
