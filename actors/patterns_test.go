package actors

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// loadExample loads a shipped example with overrides (field=value).
func loadExample(t *testing.T, name string, sets ...string) *scenarios.Scenario {
	t.Helper()
	doc, err := scenarios.ReadFile(filepath.Join("..", "scenarios", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets {
		if err := doc.ApplySetArg(s); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runScenario(t *testing.T, sc *scenarios.Scenario, opts Options) *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Totals.ConnectFailed != 0 || res.Totals.Foreign != 0 || res.Totals.PublishErrors != 0 {
		t.Fatalf("connect_failed %d foreign %d publish_errors %d", res.Totals.ConnectFailed, res.Totals.Foreign, res.Totals.PublishErrors)
	}
	return res
}

// TestTrafficPatterns runs each pattern example, shortened, and checks the
// accounting each pattern implies (all template payloads: the JSON stamp
// path).
func TestTrafficPatterns(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	short := []string{"duration=5s", "drain=2s"}
	t.Run("fan-in", func(t *testing.T) {
		sc := loadExample(t, "fan-in.yaml", append(short, "devices[devices].count=100")...)
		tot := runScenario(t, sc, Options{Memory: true}).Totals
		if tot.Published == 0 || tot.Expected != 2*tot.Published || tot.Received != tot.Expected || tot.Lost != 0 {
			t.Fatalf("published %d expected %d received %d lost %d; want received = expected = 2 × published", tot.Published, tot.Expected, tot.Received, tot.Lost)
		}
	})
	t.Run("fan-in-shared", func(t *testing.T) {
		sc := loadExample(t, "fan-in-shared.yaml", append(short, "devices[devices].count=100")...)
		tot := runScenario(t, sc, Options{Memory: true}).Totals
		if tot.Published == 0 || tot.Expected != tot.Published || tot.Received != tot.Expected || tot.Lost != 0 {
			t.Fatalf("published %d expected %d received %d lost %d; want received = expected = published", tot.Published, tot.Expected, tot.Received, tot.Lost)
		}
	})
	t.Run("fan-out", func(t *testing.T) {
		sc := loadExample(t, "fan-out.yaml", append(short, "devices[devices].count=100")...)
		tot := runScenario(t, sc, Options{Memory: true}).Totals
		if tot.Published == 0 || tot.Expected != 100*tot.Published || tot.Received != tot.Expected || tot.Lost != 0 || tot.Reordered != 0 {
			t.Fatalf("published %d expected %d received %d lost %d reordered %d; want received = expected = 100 × published",
				tot.Published, tot.Expected, tot.Received, tot.Lost, tot.Reordered)
		}
	})
	t.Run("c2d", func(t *testing.T) {
		sc := loadExample(t, "c2d.yaml", append(short, "devices[devices].count=50")...)
		tot := runScenario(t, sc, Options{Memory: true}).Totals
		if tot.Published < 100 || tot.Expected != tot.Published || tot.Received != tot.Expected || tot.Lost != 0 || tot.Reordered != 0 {
			t.Fatalf("published %d expected %d received %d lost %d reordered %d; want received = expected = published",
				tot.Published, tot.Expected, tot.Received, tot.Lost, tot.Reordered)
		}
	})
	t.Run("request-response", func(t *testing.T) {
		sc := loadExample(t, "request-response.yaml", append(short, "devices[devices].count=20")...)
		res := runScenario(t, sc, Options{Memory: true})
		tot := res.Totals
		rt := res.Latency.Get(metrics.RoundTrip)
		// Every request reaches one responder and every reply its requester.
		requests := tot.Published / 2
		if tot.Published == 0 || tot.Published%2 != 0 || tot.Received != tot.Published || tot.Expected != tot.Published || tot.Lost != 0 {
			t.Fatalf("published %d expected %d received %d lost %d", tot.Published, tot.Expected, tot.Received, tot.Lost)
		}
		if rt.Count != requests || rt.P50 <= 0 {
			t.Fatalf("round_trip count %d (want %d), p50 %dµs", rt.Count, requests, rt.P50)
		}
		if e2e := res.Latency.Get(metrics.E2E); e2e.Count != requests {
			t.Fatalf("e2e count %d, want %d (the requests' one-way legs)", e2e.Count, requests)
		}
	})
}
