package metrics

import (
	"fmt"
	"sort"
	"strings"
)

// Status is the outcome of a run, from the best to the worst news.
type Status string

// The run outcomes. Only StatusPassed is a success.
const (
	// StatusPassed: the run measured what it was asked to, and every
	// threshold (if any) held.
	StatusPassed Status = "passed"
	// StatusThresholdsFailed: the run measured what it was asked to, and
	// at least one threshold failed.
	StatusThresholdsFailed Status = "thresholds_failed"
	// StatusFailed: the run could not measure what it was asked to (no
	// device connected, every subscription failed, a node was lost, …);
	// Verdict.Reasons says why.
	StatusFailed Status = "failed"
	// StatusInterrupted: the run was stopped before its end (Ctrl-C); the
	// numbers cover only the part that ran.
	StatusInterrupted Status = "interrupted"
	// StatusPartial: a result written while the run was still going
	// (result.partial.json), not a finished run.
	StatusPartial Status = "partial"
)

// Headline is the status in capitals, as every output shows it: PASSED,
// THRESHOLDS FAILED, FAILED, INTERRUPTED, PARTIAL.
func (s Status) Headline() string {
	if s == "" {
		return "NOT JUDGED"
	}
	return strings.ToUpper(strings.ReplaceAll(string(s), "_", " "))
}

// OK reports whether the status is a success (StatusPassed).
func (s Status) OK() bool { return s == StatusPassed }

// Reason is one reason a run failed: a stable code for tools and a
// sentence for people.
type Reason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Reason codes of a failed run.
const (
	ReasonCodeNoDevices          = "no_devices"
	ReasonCodeNoDeviceConnected  = "no_device_connected"
	ReasonCodeSubscribeFailedAll = "every_subscribe_failed"
	ReasonCodeNothingPublished   = "nothing_published"
	ReasonCodeNothingReceived    = "nothing_received"
	ReasonCodeNodeLost           = "node_lost"
	ReasonCodeFleetShort         = "fleet_short"
)

// ThresholdOutcome is one threshold's outcome as the result keeps it.
type ThresholdOutcome struct {
	// Expr is the threshold as written.
	Expr string `json:"expr"`
	// Passed reports whether it held.
	Passed bool `json:"passed"`
	// Message is one line for people: "e2e.p99 = 63.2ms, limit < 50ms".
	Message string `json:"message"`
}

// Verdict is the one judgement of a run (see Result.Judge). Every output
// renders it; nothing else decides whether a run is shown as passed.
type Verdict struct {
	// Status is the outcome.
	Status Status `json:"status"`
	// Reasons lists why the run failed (empty unless something could not
	// be measured; kept for interrupted and partial runs as well).
	Reasons []Reason `json:"reasons,omitempty"`
	// Thresholds holds the outcome of every threshold, in order.
	Thresholds []ThresholdOutcome `json:"thresholds,omitempty"`
}

// ThresholdsFailed returns how many thresholds failed.
func (v *Verdict) ThresholdsFailed() int {
	n := 0
	for _, t := range v.Thresholds {
		if !t.Passed {
			n++
		}
	}
	return n
}

// Line says the verdict in one line: the headline and the first reason
// or the threshold count, e.g. "FAILED: no device connected (100 connect
// attempts failed: 100 network)".
func (v *Verdict) Line() string {
	s := v.Status.Headline()
	var parts []string
	for _, r := range v.Reasons {
		parts = append(parts, r.Message)
	}
	if n := len(v.Thresholds); n > 0 {
		if f := v.ThresholdsFailed(); f > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d thresholds failed", f, n))
		} else {
			parts = append(parts, fmt.Sprintf("%d of %d thresholds passed", n, n))
		}
	} else if v.Status == StatusPassed {
		parts = append(parts, "no thresholds set")
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, "; ")
	}
	return s
}

// Failures lists what the result could not measure that its run was
// asked to: no device started or connected, every subscription failed,
// nothing published although the plan publishes, nothing delivered
// although deliveries were expected, nodes lost. An empty list means the
// numbers stand for what the scenario asked.
func (r *Result) Failures() []Reason {
	t := &r.Totals
	var out []Reason
	add := func(code, format string, args ...any) {
		out = append(out, Reason{Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case t.Devices == 0:
		add(ReasonCodeNoDevices, "no device was started")
	case t.ConnectOK == 0:
		add(ReasonCodeNoDeviceConnected, "no device connected (%s failed%s)",
			plural(t.ConnectFailed, "connect attempt"), reasonList(r.ConnectFailedByReason))
	default:
		if t.SubscribeOK == 0 && t.SubscribeFailed > 0 {
			how := ""
			if t.SubscribeTimeout > 0 {
				how = fmt.Sprintf(": %d never acknowledged", t.SubscribeTimeout)
			}
			add(ReasonCodeSubscribeFailedAll, "every subscription failed (%s%s)", plural(t.SubscribeFailed, "subscription"), how)
		}
		if t.Published == 0 && t.PublishErrors > 0 {
			add(ReasonCodeNothingPublished, "nothing was published (%d publish errors)", t.PublishErrors)
		}
		if t.Expected > 0 && t.Received == 0 {
			add(ReasonCodeNothingReceived, "none of the %d expected deliveries arrived", t.Expected)
		}
		if r.PlannedDevices > 0 && t.Devices < r.PlannedDevices && !r.Interrupted && !r.Partial {
			add(ReasonCodeFleetShort, "the fleet never reached its planned size: %d of %d devices started (the ramp fell behind its connect rate or stages)",
				t.Devices, r.PlannedDevices)
		}
	}
	for _, n := range r.Nodes {
		if n.Lost {
			add(ReasonCodeNodeLost, "node %s lost at %.1f s (%d devices): %s", n.Name, n.LostAtS, n.Devices, n.LostReason)
		}
	}
	return out
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// reasonList writes ": 3 network, 1 timeout" for the non-zero reasons, the
// largest first.
func reasonList(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		if v > 0 {
			l = append(l, kv{k, v})
		}
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var b strings.Builder
	for i, e := range l {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", e.v, e.k)
	}
	return b.String()
}

// Judge sets r.Verdict from the result itself and the outcomes of its
// thresholds, and returns it. The status is, in this order: partial (a
// result of a run still going), interrupted, failed (Failures is not
// empty), thresholds failed, passed.
func (r *Result) Judge(thresholds []ThresholdOutcome) Verdict {
	v := Verdict{Reasons: r.Failures(), Thresholds: append([]ThresholdOutcome(nil), thresholds...)}
	switch {
	case r.Partial:
		v.Status = StatusPartial
	case r.Interrupted:
		v.Status = StatusInterrupted
	case len(v.Reasons) > 0:
		v.Status = StatusFailed
	case v.ThresholdsFailed() > 0:
		v.Status = StatusThresholdsFailed
	default:
		v.Status = StatusPassed
	}
	r.Verdict = v
	return v
}
