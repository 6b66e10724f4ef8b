package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/actors"
	"github.com/fleetbench/fleetbench/engine/enginetest"
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

// waitFor is enginetest.WaitFor: poll cond until it holds, or fail naming
// what was awaited.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	enginetest.WaitFor(t, timeout, cond, what)
}

// waitPartial waits until the partial result a coordinator child writes
// (see coordSpec.PartialEvery) exists and satisfies cond, and returns it.
func waitPartial(t testing.TB, path string, cond func(*metrics.Result) bool, what string) *metrics.Result {
	t.Helper()
	var res *metrics.Result
	waitFor(t, 60*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		r, err := metrics.UnmarshalResult(b)
		if err != nil {
			return false
		}
		res = r
		return cond(r)
	}, what+" (in "+filepath.Base(path)+")")
	return res
}

// everyNode reports whether the result has n nodes and each satisfies ok.
func everyNode(r *metrics.Result, n int, ok func(metrics.NodeResult) bool) bool {
	if len(r.Nodes) != n {
		return false
	}
	for _, node := range r.Nodes {
		if !ok(node) {
			return false
		}
	}
	return true
}
