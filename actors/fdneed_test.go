package actors

import (
	"testing"

	"github.com/fleetbench/fleetbench/scenarios"
)

// Open files a single-node run needs: two per device against the embedded
// broker over TCP, one against an external broker, none over in-memory
// pipes (beyond the fixed room).
func TestFDNeed(t *testing.T) {
	parse := func(broker string) *scenarios.Scenario {
		sc, err := scenarios.Parse("fd.yaml", []byte("name: fd\nduration: 10s\n"+broker+"devices:\n  - name: d\n    count: 100000\n"))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	for _, tc := range []struct {
		name   string
		sc     *scenarios.Scenario
		memory bool
		want   uint64
	}{
		{"embedded over TCP", parse(""), false, 200512},
		{"embedded in memory", parse(""), true, 512},
		{"external broker", parse("broker:\n  url: mqtt://127.0.0.1:1883\n"), false, 100512},
	} {
		if got := fdNeed(tc.sc, tc.memory); got != tc.want {
			t.Errorf("%s: fdNeed = %d, want %d", tc.name, got, tc.want)
		}
	}
}
