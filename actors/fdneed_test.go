package actors

import (
	"fmt"
	"strings"
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

// What validate says when the fleet needs more open files than the hard
// limit: against an external broker, the local workers run will start.
func TestFDWarning(t *testing.T) {
	parse := func(broker string, count int) *scenarios.Scenario {
		sc, err := scenarios.Parse("fd.yaml", []byte(fmt.Sprintf("name: fd\nduration: 10s\n%sdevices:\n  - name: d\n    count: %d\n", broker, count)))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	external := "broker:\n  url: mqtt://127.0.0.1:1883\n"
	for _, tc := range []struct {
		name   string
		sc     *scenarios.Scenario
		memory bool
		want   string
	}{
		{"fits", parse(external, 19000), false, ""},
		{"external, three workers", parse(external, 50000), false, "spreads the 50000 devices over 3 local worker processes"},
		{"embedded over TCP", parse("", 12000), false, "run with --memory (in-memory pipes hold no file)"},
		{"embedded in memory", parse("", 100000), true, ""},
	} {
		got := fdWarning(tc.sc, tc.memory, 20000)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
