package actors

import (
	"log/slog"
	"reflect"
	"time"

	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// The parts of a run's life cycle that the single-node coordinator and a
// distributed run's cluster coordinator share: their own timers, the
// stage lookup, loss closure, broker outages and the result's frame.

// Timers are an actor's own pending timers, one per kind of message:
// arming a kind that is pending replaces its timer, so a recurring tick
// holds one timer however long the run, and Stop ends them all. Use from
// the actor's goroutine only.
type Timers struct {
	send    func(msg any)
	pending map[any]*time.Timer
}

// NewTimers returns timers that deliver their messages with send (which
// must be safe to call from any goroutine, as actor.RootContext.Send is).
func NewTimers(send func(msg any)) *Timers { return &Timers{send: send} }

// After delivers msg after d, replacing the pending timer of msg's type.
func (t *Timers) After(d time.Duration, msg any) { t.AfterKey(reflect.TypeOf(msg), d, msg) }

// AfterKey delivers msg after d, replacing the pending timer of key.
func (t *Timers) AfterKey(key any, d time.Duration, msg any) {
	if t.pending == nil {
		t.pending = make(map[any]*time.Timer)
	}
	if old := t.pending[key]; old != nil {
		old.Stop()
	}
	send := t.send
	t.pending[key] = time.AfterFunc(d, func() { send(msg) })
}

// Stop stops every pending timer.
func (t *Timers) Stop() {
	for _, tm := range t.pending {
		tm.Stop()
	}
	t.pending = nil
}

// StageAt returns the 1-based index of the stage running elapsed into the
// run, or 0 without stages or after the last one.
func StageAt(sc *scenarios.Scenario, elapsed time.Duration) int {
	var at time.Duration
	for i, st := range sc.Stages {
		at += st.Duration
		if elapsed < at {
			return i + 1
		}
	}
	return 0
}

// CloseLoss closes loss accounting once nothing more can arrive: lost =
// expected − (received − duplicates), per QoS, never negative.
func CloseLoss(c *metrics.Counts) {
	for q := 0; q < metrics.NumQoS; q++ {
		unique := c.QoS[metrics.Received][q] - c.QoS[metrics.Duplicates][q]
		c.QoS[metrics.Lost][q] = max(0, c.QoS[metrics.Expected][q]-unique)
	}
}

// Outage starts (start true) or ends a broker_outage fault described by
// w on the broker ctl controls, and returns the window to record (ok
// false at the end of an outage, which adds no window). Without control
// of the broker the window is kept, marked not applied.
func Outage(ctl BrokerControl, w metrics.FaultWindow, start bool, log *slog.Logger) (window metrics.FaultWindow, ok bool) {
	if ctl == nil {
		if start {
			log.Warn("broker_outage fault skipped: fleetbench does not control this broker")
			w.Kind += " (not applied)"
		}
		return w, start
	}
	if !start {
		if err := ctl.StartBroker(); err != nil {
			log.Warn("broker_outage: restarting the broker failed", "err", err)
		}
		return w, false
	}
	if err := ctl.StopBroker(); err != nil {
		log.Warn("broker_outage: stopping the broker failed", "err", err)
	}
	return w, true
}

// Frame sets what a coordinator knows of a result beyond the
// measurements: when the run started, whether it was interrupted, which
// scenario it ran and its fault windows.
func Frame(res *metrics.Result, sc *scenarios.Scenario, started time.Time, interrupted bool, windows []metrics.FaultWindow) {
	res.StartedAt = started
	res.Interrupted = interrupted
	res.PlannedDevices = int64(PlannedDevices(sc))
	res.Scenario = metrics.ScenarioInfo{Name: sc.Name, File: sc.File}
	res.Faults = append(res.Faults[:0:0], windows...)
}

// PlannedDevices is the largest fleet the scenario's ramp asks for up to
// a second before the end of the run (a device due in the run's last
// instant may not be started by then, and that is no shortfall): the
// connect-rate ramp's target then, or the highest stage target reached by
// then (capped at the fleet).
func PlannedDevices(sc *scenarios.Scenario) int {
	end := max(0, sc.Duration-time.Second)
	peak := sc.TargetAt(end)
	var at time.Duration
	for _, st := range sc.Stages {
		if at += st.Duration; at <= end {
			peak = max(peak, st.Target)
		}
	}
	return min(peak, sc.Total())
}
