package actors

import (
	"context"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// connectClock is an embedded-broker hook that records when the first
// device connected.
type connectClock struct {
	mqtt.HookBase
	mu    sync.Mutex
	first time.Time
}

func (h *connectClock) ID() string { return "test-connect-clock" }

func (h *connectClock) Provides(b byte) bool { return b == mqtt.OnConnect }

func (h *connectClock) OnConnect(*mqtt.Client, packets.Packet) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.first.IsZero() {
		h.first = time.Now()
	}
	return nil
}

func (h *connectClock) firstConnect() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first
}

// TestFirstPartialSoonAfterConnect checks that the first partial result
// comes at the first snapshot after the first connect (well within 2 s,
// not at the first PartialEvery) and carries the connected device, and
// that the next ones follow every PartialEvery from there.
func TestFirstPartialSoonAfterConnect(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 7 s run")
	}
	const every = 3 * time.Second
	sc, err := scenarios.Parse("partial.yaml", []byte(`name: partial
duration: 7s
drain: 1s
devices:
  - name: d
    count: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	sc.Hold = true
	type partial struct {
		at  time.Time
		res *metrics.Result
	}
	var mu sync.Mutex
	var partials []partial
	hook := &connectClock{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, sc, Options{
		BrokerHooks:  []mqtt.Hook{hook},
		PartialEvery: every,
		Partial: func(r *metrics.Result) {
			mu.Lock()
			defer mu.Unlock()
			partials = append(partials, partial{time.Now(), r})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Totals.ConnectOK == 0 {
		t.Fatalf("no device connected: %+v", res.Totals)
	}
	mu.Lock()
	defer mu.Unlock()
	first := hook.firstConnect()
	if first.IsZero() || len(partials) == 0 {
		t.Fatalf("first connect %v, %d partial results", first, len(partials))
	}
	for i, p := range partials {
		t.Logf("partial %d at %v after the start, %v after the first connect (%v after the start): connect_ok %d, connected %d, partial %t",
			i, p.at.Sub(start), p.at.Sub(first), first.Sub(start), p.res.Totals.ConnectOK, p.res.Totals.Connected, p.res.Partial)
	}
	p0 := partials[0]
	if lag := p0.at.Sub(first); lag > 2*time.Second {
		t.Errorf("first partial result %v after the first connect, want ≤ 2s", lag)
	}
	if !p0.res.Partial || p0.res.Totals.ConnectOK < 1 || p0.res.Totals.Connected < 1 {
		t.Errorf("first partial result: partial %t, connect_ok %d, connected %d; want a partial result with a connected device",
			p0.res.Partial, p0.res.Totals.ConnectOK, p0.res.Totals.Connected)
	}
	if len(partials) < 2 {
		t.Fatalf("%d partial results in a 7 s run with PartialEvery %v, want ≥ 2", len(partials), every)
	}
	// The second is due PartialEvery after the first; the coordinator's
	// latency may delay it but never bring it forward by more than a
	// snapshot's jitter.
	if gap := partials[1].at.Sub(p0.at); gap < every-500*time.Millisecond || gap > every+2*time.Second {
		t.Errorf("second partial result %v after the first, want about %v", gap, every)
	}
}
