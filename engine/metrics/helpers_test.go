package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
)

// testStart is when the fake clocks of the tests start.
var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newTestRecorder(t testing.TB, stripes int, clock *hal.FakeClock) *Recorder {
	t.Helper()
	opts := Options{Stripes: stripes}
	if clock != nil {
		opts.Now = clock.Now
	}
	r, err := NewRecorder(opts)
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	return r
}

// latency draws a log-normal latency around 2 ms with a long tail.
func latency(rng *rand.Rand) time.Duration {
	us := math.Exp(math.Log(2000) + rng.NormFloat64())
	return time.Duration(us * float64(time.Microsecond))
}

// event is one thing a device might record.
type event struct {
	kind   Kind
	qos    int
	stripe int
	d      time.Duration
}

func randomEvents(seed uint64, n int) []event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]event, n)
	for i := range out {
		out[i] = event{
			kind:   Kind(rng.IntN(int(NumKinds))),
			qos:    rng.IntN(NumQoS),
			stripe: rng.IntN(1 << 20),
			d:      latency(rng),
		}
	}
	return out
}

// apply records e and bumps counters derived from it, so counters differ
// between events.
func apply(r *Recorder, e event) {
	r.Record(e.kind, e.qos, e.stripe, e.d)
	switch e.kind {
	case Connect:
		r.Inc(DevicesStarted)
		r.Inc(ConnectOK)
		r.Add(Connected, 1)
		if e.stripe%7 == 0 {
			r.ConnectFailed(FailReason(e.stripe % int(NumFailReasons)))
		}
	case Subscribe:
		r.Inc(SubscribeOK)
	case PublishAck:
		r.IncQoS(Published, e.qos)
		r.IncQoS(Acked, e.qos)
		r.AddQoS(Expected, e.qos, 2)
		r.Add(BytesOut, 128)
	case E2E:
		r.IncQoS(Received, e.qos)
		r.Add(BytesIn, 128)
		if e.stripe%11 == 0 {
			r.IncQoS(Duplicates, e.qos)
		}
	}
}
