package scenarios

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// boundsBase is a valid scenario that the bounds cases change with --set.
const boundsBase = `name: bounds
duration: 1h
devices:
  - name: g
    count: 10
    connect: {rate: 10/s, timeout: 5s}
    subscribe:
      - {topic: 'a/${index}'}
    publish:
      - {topic: 'a/${index}', rate: 1/s}
faults:
  - {at: 1s, for: 1s, latency: 10ms}
churn:
  - {fraction: 0.1, every: 1m, down: 1s}
thresholds: ['lost == 0']
`

// flowList returns "[item(0), …, item(n-1)]".
func flowList(n int, item func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// boundCase is one bounded field: the overrides just inside the bound
// (accepted) and just outside it (refused with want in the message).
type boundCase struct {
	field   string // the Bounds() field it covers
	inside  []string
	outside []string
	want    string
}

func boundCases() []boundCase {
	groups := func(n, count int) string {
		return "devices=" + flowList(n, func(i int) string { return fmt.Sprintf("{name: g%d, count: %d}", i, count) })
	}
	urls := func(n int) string {
		return "broker.url=" + flowList(n, func(i int) string { return fmt.Sprintf("'mqtt://127.0.0.1:%d'", 1000+i) })
	}
	subs := func(n int) string {
		return "devices[0].subscribe=" + flowList(n, func(i int) string { return fmt.Sprintf("{topic: 's/%d'}", i) })
	}
	pubs := func(n int) string {
		return "devices[0].publish=" + flowList(n, func(i int) string { return fmt.Sprintf("{topic: 'p/%d', rate: 1/m}", i) })
	}
	props := func(n int) string {
		return "devices[0].mqtt5.user_properties={" +
			strings.Trim(flowList(n, func(i int) string { return fmt.Sprintf("k%d: v", i) }), "[]") + "}"
	}
	stages := func(n int) string {
		return "stages=" + flowList(n, func(int) string { return "{duration: 1s, target: 10}" })
	}
	faults := func(n int) string {
		return "faults=" + flowList(n, func(int) string { return "{at: 1s, for: 1s, latency: 1ms}" })
	}
	churn := func(n int) string {
		return "churn=" + flowList(n, func(int) string { return "{fraction: 0.1, every: 1m, down: 1s}" })
	}
	thresholds := func(n int) string {
		return "thresholds=" + flowList(n, func(int) string { return "'lost == 0'" })
	}
	v5 := "devices[0].mqtt_version=5"
	slow := "devices[*].publish[*].rate=1/m" // keeps large fleets under the fleet rate
	long := func(n int) string { return strings.Repeat("t", n) }
	return []boundCase{
		{"duration", []string{"duration=720h"}, []string{"duration=720h1s"}, "duration: 720h1s exceeds the limit of 720h (30 days)"},
		{"drain", []string{"drain=1h"}, []string{"drain=1h0m1s"}, "drain: 1h0m1s exceeds the limit of 1h"},
		{"broker.url", []string{urls(MaxEndpoints)}, []string{urls(MaxEndpoints + 1)}, "broker.url: 65 URLs exceed the limit of 64"},
		{"broker.weights", []string{urls(2), "broker.weights=[1000, 1]"}, []string{urls(2), "broker.weights=[1001, 1]"},
			"broker.weights[0]: weight 1001 is out of range"},
		{"broker.source_addresses", []string{"broker.source_addresses=[127.0.0.1-127.0.15.255, 127.1.0.1]"},
			[]string{"broker.source_addresses=[127.0.0.1-127.0.15.255, 127.1.0.1, 127.1.0.2]"},
			"broker.source_addresses[2]: the source addresses number 4097 up to here, which exceeds the limit of 4096"},
		{"devices", []string{groups(MaxGroups, 1)}, []string{groups(MaxGroups+1, 1)}, "devices: 129 device groups exceed the limit of 128"},
		{"devices[].count", []string{slow, "devices[0].count=10000000"}, []string{slow, "devices[0].count=10000001"},
			"devices[0].count: 10000001 is more than the 10000000 devices a group may hold"},
		{"devices[].count", []string{groups(2, 5_000_000)}, []string{groups(2, 5_000_001)},
			"devices[1].count: the groups hold 10000002 devices up to here, which exceeds the limit of 10000000 devices in all"},
		{"devices[].name", []string{"devices[0].name=" + strings.Repeat("n", 64)}, []string{"devices[0].name=" + strings.Repeat("n", 65)},
			"is not a valid group name"},
		{"devices[].keepalive", []string{"devices[0].keepalive=30s"}, []string{"devices[0].keepalive=29s"}, "devices[0].keepalive: 29s is out of range; the SDK accepts 30s … 1200s"},
		{"devices[].keepalive", []string{"devices[0].keepalive=1200s"}, []string{"devices[0].keepalive=1201s"}, "devices[0].keepalive: 20m1s is out of range"},
		{"devices[].yield", []string{"devices[0].yield=1ms"}, []string{"devices[0].yield=999us"}, "devices[0].yield: 999us is below the limit of 1ms"},
		{"devices[].yield", []string{"devices[0].yield=1m"}, []string{"devices[0].yield=1m1ms"}, "devices[0].yield: 1m1ms exceeds the limit of 1m"},
		{"devices[].connect.rate", []string{"devices[0].connect.rate=1000000/s"}, []string{"devices[0].connect.rate=1000001/s"},
			"devices[0].connect.rate: 1000001/s exceeds the limit of 1000000/s"},
		{"devices[].connect.rate", []string{"devices[0].connect.rate=1/720h"}, []string{"devices[0].connect.rate=1/721h"},
			"devices[0].connect.rate: the period of 1/721h exceeds the limit of 720h (30 days)"},
		{"devices[].connect.timeout", []string{"devices[0].connect.timeout=10ms"}, []string{"devices[0].connect.timeout=9ms"},
			"devices[0].connect.timeout: 9ms is below the limit of 10ms"},
		{"devices[].connect.timeout", []string{"devices[0].connect.timeout=10m"}, []string{"devices[0].connect.timeout=10m1s"},
			"devices[0].connect.timeout: 10m1s exceeds the limit of 10m"},
		{"devices[].request_timeout", []string{"devices[0].request_timeout=10s"}, []string{"devices[0].request_timeout=11s"},
			"devices[0].request_timeout: 11s is out of range for sdk 3.2.0 (want 1s … 10s"},
		{"devices[].max_packet_size", []string{"devices[0].max_packet_size=268435455"}, []string{"devices[0].max_packet_size=268435456"},
			"devices[0].max_packet_size: 268435456 bytes is too large (want 16 … 268435455)"},
		{"devices[].mqtt5.session_expiry", []string{v5, "devices[0].mqtt5.session_expiry=4294967295s"}, []string{v5, "devices[0].mqtt5.session_expiry=4294967296s"},
			"devices[0].mqtt5.session_expiry: 1193046h28m16s is too long (want 0 … 4294967295s)"},
		{"devices[].mqtt5.receive_maximum", []string{v5, "devices[0].mqtt5.receive_maximum=65535"}, []string{v5, "devices[0].mqtt5.receive_maximum=65536"},
			"devices[0].mqtt5.receive_maximum: 65536 is out of range (want 0 … 65535)"},
		{"devices[].mqtt5.user_properties", []string{v5, props(MaxUserProperties)}, []string{v5, props(MaxUserProperties + 1)},
			"devices[0].mqtt5.user_properties: 65 user properties exceed the limit of 64"},
		{"devices[].subscribe", []string{subs(MaxSubscriptions)}, []string{subs(MaxSubscriptions + 1)}, "devices[0].subscribe: 65 subscriptions exceed the limit of 64"},
		{"devices[].subscribe[].topic", []string{"devices[0].subscribe[0].topic=" + long(65535)}, []string{"devices[0].subscribe[0].topic=" + long(65536)},
			"devices[0].subscribe[0].topic: the topic is up to 65536 bytes after expansion; MQTT allows 65535"},
		{"devices[].publish", []string{pubs(MaxPublishes)}, []string{pubs(MaxPublishes + 1)}, "devices[0].publish: 65 publish entries exceed the limit of 64"},
		{"devices[].publish[].topic", []string{"devices[0].publish[0].topic=" + long(65535)}, []string{"devices[0].publish[0].topic=" + long(65536)},
			"devices[0].publish[0].topic: the topic is up to 65536 bytes after expansion; MQTT allows 65535"},
		{"devices[].publish[].interval", []string{"devices[0].publish[0]={topic: a, interval: 1ms}"}, []string{"devices[0].publish[0]={topic: a, interval: 999us}"},
			"devices[0].publish[0].interval: 999µs is too short; the smallest interval is 1ms"},
		{"devices[].publish[].interval", []string{"devices[0].publish[0]={topic: a, interval: 720h}"}, []string{"devices[0].publish[0]={topic: a, interval: 720h1s}"},
			"devices[0].publish[0].interval: 720h1s exceeds the limit of 720h (30 days)"},
		{"devices[].publish[].rate", []string{"devices[0].publish[0].rate=1000/s"}, []string{"devices[0].publish[0].rate=1001/s"},
			"devices[0].publish[0].rate: 1001/s is too fast for one device; at most 1000/s per device"},
		{"devices[].publish[].rate", []string{"devices[0].publish[0].rate=1/720h"}, []string{"devices[0].publish[0].rate=1/721h"},
			"devices[0].publish[0].rate: the period of 1/721h exceeds the limit of 720h (30 days)"},
		{"devices[].publish[] (fleet)", []string{"devices[0].count=1000", "devices[0].publish[0].rate=1000/s"},
			[]string{"devices[0].count=1001", "devices[0].publish[0].rate=1000/s"},
			"devices[0].publish[0].rate: the fleet would publish 1001000 messages/s, which exceeds the limit of 1000000/s (this entry, the largest: 1001 devices × 1000/s); lower the rates or the counts (from --set devices[0].publish[0].rate=1000/s)"},
		{"devices[].publish[].count", []string{"devices[0].publish[0].count=1000000000"}, []string{"devices[0].publish[0].count=1000000001"},
			"devices[0].publish[0].count: 1000000001 exceeds the limit of 1000000000 messages per device"},
		{"devices[].publish[].start", []string{"devices[0].publish[0].start=720h"}, []string{"devices[0].publish[0].start=720h1s"},
			"devices[0].publish[0].start: 720h1s exceeds the limit of 720h (30 days)"},
		{"devices[].publish[].payload.size", []string{"devices[0].publish[0].payload.size=20"}, []string{"devices[0].publish[0].payload.size=19"},
			"devices[0].publish[0].payload.size: 19 bytes is too small (want at least 20)"},
		{"devices[].publish[].payload.size", []string{"devices[0].publish[0].payload.size=262144"}, []string{"devices[0].publish[0].payload.size=262145"},
			"devices[0].publish[0].payload.size: 262145 bytes is too large (want at most 262144, 256 KiB)"},
		{"stages", []string{stages(MaxStages)}, []string{stages(MaxStages + 1)}, "stages: 1001 stages exceed the limit of 1000"},
		{"stages", []string{"stages=[{duration: 720h, target: 10}]"}, []string{"stages=[{duration: 720h, target: 10}, {duration: 1s, target: 10}]"},
			"stages[1].duration: the stages last 720h0m1s up to here, which exceeds the limit of 720h (30 days)"},
		{"stages[].duration", []string{"stages=[{duration: 720h, target: 10}]"}, []string{"stages=[{duration: 720h1s, target: 10}]"},
			"stages[0].duration: 720h1s exceeds the limit of 720h (30 days)"},
		{"stages[].target", []string{"stages=[{duration: 1s, target: 10}]"}, []string{"stages=[{duration: 1s, target: 11}]"},
			"stages[0].target: 11 is more than the 10 devices of the scenario"},
		{"faults", []string{faults(MaxFaults)}, []string{faults(MaxFaults + 1)}, "faults: 101 faults exceed the limit of 100"},
		{"faults[].at, faults[].for", []string{"faults[0].at=59m59s"}, []string{"faults[0].at=1h"},
			"faults[0].at: the fault starts at 1h0m0s, at or after the end of the run (duration 1h0m0s)"},
		{"faults[].at, faults[].for", []string{"faults[0].for=59m59s"}, []string{"faults[0].for=1h"},
			"faults[0].for: the fault ends at 1h0m1s, after the end of the run (duration 1h0m0s)"},
		{"faults[].latency", []string{"faults[0].latency=10m"}, []string{"faults[0].latency=10m1s"}, "faults[0].latency: 10m1s exceeds the limit of 10m"},
		{"faults[].latency", []string{"faults[0].jitter=10ms"}, []string{"faults[0].jitter=11ms"}, "faults[0].jitter: jitter 11ms is more than latency 10ms"},
		{"faults[].bandwidth", []string{"faults[0].bandwidth=1000000MB/s"}, []string{"faults[0].bandwidth=1000001MB/s"}, "faults[0].bandwidth: 1000001MB/s is more than 1TB/s"},
		{"faults[].bandwidth", []string{"faults[0].bandwidth=1B/s"}, []string{"faults[0].bandwidth=0.4B/s"}, "faults[0].bandwidth: 0.4B/s is less than 1 byte per second"},
		{"faults[].fraction, churn[].fraction", []string{"faults[0].fraction=1"}, []string{"faults[0].fraction=1.01"}, "faults[0].fraction: 1.01 is out of range (want more than 0, at most 1)"},
		{"faults[].fraction, churn[].fraction", []string{"churn[0].fraction=0.001"}, []string{"churn[0].fraction=0"}, "churn[0].fraction: 0 is out of range"},
		{"churn", []string{churn(MaxChurnEntries)}, []string{churn(MaxChurnEntries + 1)}, "churn: 101 churn entries exceed the limit of 100"},
		{"churn[].every", []string{"churn[0]={fraction: 0.1, every: 10ms, down: 1ms}"}, []string{"churn[0]={fraction: 0.1, every: 9ms, down: 1ms}"},
			"churn[0].every: 9ms is below the limit of 10ms"},
		{"churn[].every", []string{"churn[0]={fraction: 0.1, every: 720h, down: 1s, start: 1s}"}, []string{"churn[0]={fraction: 0.1, every: 720h1s, down: 1s, start: 1s}"},
			"churn[0].every: 720h1s exceeds the limit of 720h (30 days)"},
		{"churn[].down", []string{"churn[0].down=59s"}, []string{"churn[0].down=1m"}, "churn[0].down: down 1m0s is not less than every 1m0s"},
		{"churn[].start", []string{"churn[0].start=59m59s"}, []string{"churn[0].start=1h"}, "churn[0].start: the first cycle starts at 1h0m0s, at or after the end of the run"},
		{"thresholds", []string{thresholds(MaxThresholds)}, []string{thresholds(MaxThresholds + 1)}, "thresholds: 257 thresholds exceed the limit of 256"},
		{"thresholds", []string{"thresholds[0]=lost == " + strings.Repeat("0", MaxThresholdLength-8)}, []string{"thresholds[0]=lost == " + strings.Repeat("0", MaxThresholdLength-7)},
			"thresholds[0]: the threshold is 1025 bytes long, which exceeds the limit of 1024"},
	}
}

// TestBounds applies, for every bounded field, a value just inside its
// bound (accepted) and one just outside (refused with the bound in the
// message, naming the field and the --set that gave it).
func TestBounds(t *testing.T) {
	apply := func(t *testing.T, sets []string) error {
		t.Helper()
		doc, err := ParseDocument("bounds.yaml", []byte(boundsBase))
		if err != nil {
			t.Fatal(err)
		}
		doc.Env = testEnv
		for _, s := range sets {
			if err := doc.ApplySetArg(s); err != nil {
				t.Fatalf("--set %.80s: %v", s, err)
			}
		}
		_, err = doc.Scenario()
		return err
	}
	covered := map[string]bool{}
	for _, c := range boundCases() {
		covered[c.field] = true
		t.Run(c.field, func(t *testing.T) {
			if err := apply(t, c.inside); err != nil {
				t.Errorf("inside the bound, %.100q refused:\n%.600s", c.inside, err)
			}
			err := apply(t, c.outside)
			if err == nil {
				t.Fatalf("outside the bound, %.100q accepted", c.outside)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("outside the bound: got\n%.600s\nwant it to contain\n%s", msg, c.want)
			}
			if !strings.HasPrefix(msg, "bounds.yaml:") || !strings.Contains(msg, "(from --set ") {
				t.Errorf("the message names no file position or no --set: %.300s", msg)
			}
		})
	}
	for _, b := range Bounds() {
		if !covered[b.Field] {
			t.Errorf("no case for the bound of %s (%s)", b.Field, b.Limit)
		}
	}
}

// TestBoundsFileAndFlag checks the message for a value from the file (its
// line and column) and from a flag (the flag named).
func TestBoundsFileAndFlag(t *testing.T) {
	src := "name: b\nduration: 100000h\ndevices: [{name: g, count: 1}]\n"
	_, err := Parse("scenario.yaml", []byte(src))
	want := "scenario.yaml:2:11: duration: 100000h exceeds the limit of 720h (30 days); a longer soak is a series of runs"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	doc, err := ParseDocument("scenario.yaml", []byte("name: b\nduration: 1m\ndevices: [{name: g, count: 1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplyFlag("--duration 721h", "duration=721h"); err != nil {
		t.Fatal(err)
	}
	_, err = doc.Scenario()
	want = "scenario.yaml:2:11: duration: 721h exceeds the limit of 720h (30 days); a longer soak is a series of runs (from --duration 721h)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestBoundsInReadme checks that the README's limits table lists every
// bound as Bounds has it.
func TestBoundsInReadme(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Skip("no README.md:", err)
	}
	readme := string(data)
	for _, b := range Bounds() {
		row := fmt.Sprintf("| `%s` | %s | %s |", b.Field, b.Limit, b.Reason)
		if !strings.Contains(readme, row) {
			t.Errorf("README.md lacks the row\n%s", row)
		}
	}
}

// TestFmtBound pins the formatting of duration bounds.
func TestFmtBound(t *testing.T) {
	for v, want := range map[time.Duration]string{
		720 * time.Hour: "720h (30 days)", time.Hour: "1h", 10 * time.Minute: "10m", 10 * time.Millisecond: "10ms",
		90 * time.Minute: "1h30m", 24 * time.Hour: "24h", 30 * time.Second: "30s",
	} {
		if got := fmtBound(v); got != want {
			t.Errorf("fmtBound(%s) = %q, want %q", v, got, want)
		}
	}
}
