package reports

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// fixture configures a synthetic run. The zero value of a field means its
// default (see withDefaults).
type fixture struct {
	seed     uint64
	devices  int     // devices started, ramped up over the first 5 s
	seconds  int     // measured seconds, one snapshot each
	rate     int     // publishes per connected device per second
	fanout   int     // expected deliveries per publish
	slowdown float64 // multiplies every latency
	// spikeFrom..spikeTo is a fault window: latencies ×8, some QoS 0 loss,
	// QoS 1 duplicates, and a tenth of the devices disconnect and come
	// back.
	spikeFrom, spikeTo int
	noE2E              bool // subscribers receive nothing (every delivery lost)
	interrupted        bool
	nodes              bool // split totals over two nodes
	scenarioName       string
}

func (f fixture) withDefaults() fixture {
	if f.seed == 0 {
		f.seed = 1
	}
	if f.devices == 0 {
		f.devices = 400
	}
	if f.seconds == 0 {
		f.seconds = 30
	}
	if f.rate == 0 {
		f.rate = 2
	}
	if f.fanout == 0 {
		f.fanout = 2
	}
	if f.slowdown == 0 {
		f.slowdown = 1
	}
	if f.spikeFrom == 0 && f.spikeTo == 0 {
		f.spikeFrom, f.spikeTo = 18, 21
	}
	if f.scenarioName == "" {
		f.scenarioName = "telemetry-qos-mix"
	}
	return f
}

// fixtureStart is when every synthetic run begins.
var fixtureStart = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

const fixtureScenario = `name: telemetry-qos-mix
target: embedded
devices:
  - group: sensors
    count: 400
    qos: [0, 1, 2]
    publish:
      topic: /${pk}/${dn}/user/telemetry
      every: 500ms
      size: 256
stages:
  - ramp: 5s
  - hold: 25s
thresholds:
  - e2e.p99 < 50ms
  - loss_ratio < 0.1%
`

// lognormal draws a latency around median with the given spread (sigma of
// the underlying normal), as a duration.
func lognormal(rng *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
}

// makeResult runs the synthetic fleet through a real metrics.Recorder,
// taking one snapshot per simulated second, and builds the result with
// metrics.NewResult, as the engine does.
func makeResult(t testing.TB, f fixture) *metrics.Result {
	t.Helper()
	f = f.withDefaults()
	clock := hal.NewFakeClock(fixtureStart)
	rec, err := metrics.NewRecorder(metrics.Options{Stripes: 4, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	rng := rand.New(rand.NewPCG(f.seed, f.seed*0x9e3779b97f4a7c15+1))
	qosOf := func(dev int) int {
		switch {
		case dev%10 == 9:
			return 2
		case dev%2 == 0:
			return 1
		}
		return 0
	}
	connected := make([]bool, f.devices)
	failed := make([]bool, f.devices)
	down := map[int]bool{}
	seq := 0
	lat := func(median time.Duration, sigma float64, spike bool) time.Duration {
		d := lognormal(rng, median, sigma)
		if spike {
			d *= 8
		}
		return time.Duration(float64(d) * f.slowdown)
	}
	var lost [metrics.NumQoS]int64
	var series []metrics.SeriesPoint
	perSecond := max(1, f.devices/5)
	for sec := 0; sec < f.seconds; sec++ {
		spike := sec >= f.spikeFrom && sec < f.spikeTo
		// Ramp: connect the next batch of devices.
		for i := 0; i < perSecond; i++ {
			dev := sec*perSecond + i
			if dev >= f.devices {
				break
			}
			rec.Inc(metrics.DevicesStarted)
			switch {
			case dev%61 == 7:
				rec.ConnectFailed(metrics.ReasonTimeout)
				failed[dev] = true
				continue
			case dev%97 == 13:
				rec.ConnectFailed(metrics.ReasonRefusedAuth)
				failed[dev] = true
				continue
			}
			rec.Record(metrics.Connect, 0, dev, lat(4*time.Millisecond, 0.45, false))
			rec.Inc(metrics.ConnectOK)
			rec.Add(metrics.Connected, 1)
			rec.Record(metrics.Subscribe, qosOf(dev), dev, lat(1500*time.Microsecond, 0.4, false))
			rec.Inc(metrics.SubscribeOK)
			connected[dev] = true
		}
		// The fault: a tenth of the fleet drops at its start and
		// reconnects at its end.
		if sec == f.spikeFrom {
			for dev := 0; dev < f.devices; dev += 10 {
				if connected[dev] {
					connected[dev] = false
					down[dev] = true
					rec.Inc(metrics.Disconnects)
					rec.Add(metrics.Connected, -1)
				}
			}
		}
		if sec == f.spikeTo {
			for dev := range down {
				if dev%40 == 0 {
					rec.ConnectFailed(metrics.ReasonNetwork)
				}
				rec.Record(metrics.Connect, 0, dev, lat(4*time.Millisecond, 0.45, true))
				rec.Inc(metrics.ConnectOK)
				rec.Inc(metrics.Reconnects)
				rec.Add(metrics.Connected, 1)
				connected[dev] = true
			}
			clear(down)
		}
		// Traffic.
		for dev := 0; dev < f.devices; dev++ {
			if !connected[dev] {
				continue
			}
			q := qosOf(dev)
			for k := 0; k < f.rate; k++ {
				seq++
				rec.IncQoS(metrics.Published, q)
				rec.AddQoS(metrics.Expected, q, int64(f.fanout))
				rec.Add(metrics.BytesOut, 256+30)
				switch q {
				case 0:
					rec.Record(metrics.PublishAck, 0, dev, lat(60*time.Microsecond, 0.3, false))
				case 1:
					rec.Record(metrics.PublishAck, 1, dev, lat(1200*time.Microsecond, 0.5, spike))
				case 2:
					rec.Record(metrics.PublishAck, 2, dev, lat(2600*time.Microsecond, 0.5, spike))
				}
				rec.IncQoS(metrics.Acked, q)
				if spike && seq%53 == 0 {
					rec.Inc(metrics.Lagged)
				}
				for s := 0; s < f.fanout; s++ {
					if f.noE2E || (q == 0 && spike && rng.IntN(100) < 3) {
						lost[q]++
						continue
					}
					rec.Record(metrics.E2E, q, dev+s, lat(time.Duration(2500+700*q)*time.Microsecond, 0.55, spike))
					rec.IncQoS(metrics.Received, q)
					rec.Add(metrics.BytesIn, 256+30)
					if q == 1 && spike && rng.IntN(400) == 0 {
						rec.IncQoS(metrics.Duplicates, q)
						rec.IncQoS(metrics.Received, q)
					}
					if q == 0 && spike && rng.IntN(1000) == 0 {
						rec.IncQoS(metrics.Reordered, q)
					}
				}
			}
		}
		if spike && sec == f.spikeFrom {
			rec.Add(metrics.PublishErrors, 7)
		}
		clock.Advance(time.Second)
		snap := rec.Snapshot(true)
		series = append(series, snap.Point(fixtureStart))
	}
	for q, n := range lost {
		rec.AddQoS(metrics.Lost, q, n)
	}
	final := rec.Snapshot(false)
	res := metrics.NewResult(&final, series)
	res.Scenario = metrics.ScenarioInfo{
		Name: f.scenarioName,
		File: "scenarios/examples/telemetry.yaml",
		Text: fixtureScenario,
	}
	res.Interrupted = f.interrupted
	// The load phase: publishes were planned from 0.5 s to 0.5 s before
	// the end; the drain is the last half second.
	res.FirstPublishS, res.LastPublishS, res.DrainS = 0.5, float64(f.seconds)-0.5, 0.5
	if f.spikeTo > f.spikeFrom {
		res.Faults = []metrics.FaultWindow{{Kind: "latency 40ms, cut", FromS: float64(f.spikeFrom), ToS: float64(f.spikeTo), Target: "10% of all devices", Devices: 40}}
	}
	res.Groups = []metrics.GroupResult{
		{Name: "sensors", Devices: res.Totals.Devices - 10, ConnectOK: res.Totals.ConnectOK - 10, ConnectFailed: res.Totals.ConnectFailed, Published: res.Totals.Published, Acked: res.Totals.Acked},
		{Name: "<cloud>", Devices: 10, ConnectOK: 10, Received: res.Totals.Received},
	}
	res.Broker = &metrics.BrokerStats{
		MessagesReceived: res.Totals.Published,
		MessagesSent:     res.Totals.Received,
		MessagesDropped:  lost[0],
		ClientsMaximum:   res.Totals.Devices - res.Totals.ConnectFailed,
		Refused:          res.ConnectFailedByReason["refused_auth"],
	}
	if f.nodes {
		a, b := res.Totals, res.Totals
		for _, p := range []*int64{&a.Devices, &a.Connected, &a.ConnectOK, &a.ConnectFailed, &a.Published, &a.Received, &a.Expected, &a.Lost} {
			*p /= 2
		}
		for _, p := range []*int64{&b.Devices, &b.Connected, &b.ConnectOK, &b.ConnectFailed, &b.Published, &b.Received, &b.Expected, &b.Lost} {
			*p -= *p / 2
		}
		res.Nodes = []metrics.NodeResult{{Name: "node-a", Totals: a}, {Name: "node-b", Totals: b}}
	}
	return res
}

// roundTrip encodes and decodes a result, as a saved result.json would be
// read back.
func roundTrip(t testing.TB, res *metrics.Result) *metrics.Result {
	t.Helper()
	data, err := res.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	out, err := metrics.UnmarshalResult(data)
	if err != nil {
		t.Fatalf("UnmarshalResult: %v", err)
	}
	return out
}

func TestFixtureIsRealistic(t *testing.T) {
	t.Parallel()
	res := makeResult(t, fixture{})
	if got := len(res.Series); got != 30 {
		t.Errorf("series has %d points, want 30", got)
	}
	if res.Totals.Received == 0 || res.Latency.E2E.Count == 0 {
		t.Fatalf("no e2e data: %+v", res.Totals)
	}
	if res.Latency.E2E.P99 <= res.Latency.E2E.P50 {
		t.Errorf("e2e p99 %d <= p50 %d: no tail", res.Latency.E2E.P99, res.Latency.E2E.P50)
	}
	if res.Totals.Lost == 0 || res.Totals.Duplicates == 0 || res.Totals.Disconnects == 0 {
		t.Errorf("the fault left no trace: %+v", res.Totals)
	}
	if d := res.EndedAt.Sub(res.StartedAt); d != 30*time.Second {
		t.Errorf("duration %v, want 30s", d)
	}
}
