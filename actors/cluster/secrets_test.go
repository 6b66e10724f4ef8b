package cluster

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/hal"
)

// A worker learns the secrets of the scenario a coordinator sends (from
// the file and from --set overrides) before it runs anything, so that its
// own output can hide them (fleetbench worker registers them with its
// redaction).
func TestSetupNodeReportsSecrets(t *testing.T) {
	src := []byte(`name: s
duration: 5s
devices:
  - name: d
    count: 2
    auth: password
    username: u-${index}
    password: file-secret-7c1
`)
	var got []string
	p := &remotepb.Prepare{
		NodeName: "w1", File: "s.yaml", Source: src,
		Sets:     []string{"devices[d].password=set-secret-9f2"},
		Endpoint: &remotepb.Endpoint{Transport: "tcp", Host: "127.0.0.1", Port: 1},
	}
	_, err := setupNode(p, hal.NewSystemClock(), slog.New(slog.DiscardHandler), func(v ...string) { got = append(got, v...) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "set-secret-9f2") {
		t.Fatalf("secrets %q lack the --set password", got)
	}
}
