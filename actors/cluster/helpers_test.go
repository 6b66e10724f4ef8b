package cluster

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// loadExample loads a shipped example with --set overrides.
func loadExample(t *testing.T, name string, sets ...string) *scenarios.Scenario {
	t.Helper()
	doc, err := scenarios.ReadFile(filepath.Join("..", "..", "scenarios", "examples", name))
	if err == nil {
		for _, s := range sets {
			if err = doc.ApplySetArg(s); err != nil {
				break
			}
		}
	}
	var sc *scenarios.Scenario
	if err == nil {
		sc, err = doc.Scenario()
	}
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// runSingle runs sc on this machine alone, the baseline a distributed run
// is compared with.
func runSingle(t *testing.T, sc *scenarios.Scenario) *metrics.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := actors.Run(ctx, sc, actors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
