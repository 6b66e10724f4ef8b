package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// Schema identifies the result document format.
const Schema = "fleetbench.result/v1"

// Result is the outcome of a run, written as result.json. NewResult builds
// it from the final snapshot; the engine fills Scenario, the times and
// Interrupted. Results decode (UnmarshalResult) with their histograms, so a
// saved result can be rendered again and merged (MergeResults).
type Result struct {
	// Schema is always the Schema constant.
	Schema string `json:"schema"`
	// Scenario identifies what was run.
	Scenario ScenarioInfo `json:"scenario"`
	// Meta describes the run's circumstances: tool version, machine, target.
	Meta Meta `json:"meta"`
	// StartedAt and EndedAt bound the measured run.
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool `json:"interrupted"`
	// PlannedDevices is how many devices the scenario's ramp asks for at
	// its peak (0 in results of older versions): a run that started fewer
	// (the ramp fell behind: a slow broker or a loaded machine) does not
	// stand for its scenario (see Failures).
	PlannedDevices int64 `json:"planned_devices,omitempty"`
	// Partial marks a result written while the run was still going
	// (result.partial.json): everything measured up to EndedAt.
	Partial bool `json:"partial,omitempty"`
	// Verdict is the run's outcome, computed once (see Result.Judge) and
	// rendered by every output; the exit code derives from it.
	Verdict Verdict `json:"verdict"`
	// FirstPublishS and LastPublishS bound the load phase: the intended
	// times of the first and last publish, in seconds since StartedAt
	// (both 0 when nothing was published). DrainS is how long the drain
	// after the load lasted.
	FirstPublishS float64 `json:"first_publish_s,omitempty"`
	LastPublishS  float64 `json:"last_publish_s,omitempty"`
	DrainS        float64 `json:"drain_s,omitempty"`
	// QoSMismatch counts stamped deliveries that arrived at another QoS
	// than the plan's delivery QoS, by MismatchKey ("1->0": expected at
	// QoS 1, delivered at QoS 0). They count as received at the expected
	// QoS, never as lost: a finding about the broker, not loss.
	QoSMismatch map[string]int64 `json:"qos_mismatch,omitempty"`
	// ReasonCodes counts the MQTT reason codes brokers answered with, by
	// "<packet>:<name>" ("connack:not_authorized", "puback:quota_exceeded",
	// "suback:not_authorized", "disconnect:server_busy", …): the why of
	// refusals, nacks and disconnects.
	ReasonCodes map[string]int64 `json:"reason_codes,omitempty"`
	// Groups breaks the main counters down per device group.
	Groups []GroupResult `json:"groups,omitempty"`
	// Endpoints breaks connects, traffic, errors and latency down per
	// broker endpoint, in the order of broker.url (present when the run
	// had more than one endpoint).
	Endpoints []EndpointResult `json:"endpoints,omitempty"`
	// Faults lists the fault windows the scenario injected (for shading
	// the time series).
	Faults []FaultWindow `json:"faults,omitempty"`
	// Totals holds the whole-run counters.
	Totals Totals `json:"totals"`
	// ConnectFailedByReason splits Totals.ConnectFailed by FailReason name.
	ConnectFailedByReason map[string]int64 `json:"connect_failed_by_reason"`
	// FirstConnectErrors holds the first error message of each failure
	// reason, so a failed run says why.
	FirstConnectErrors map[string]string `json:"first_connect_errors,omitempty"`
	// ByQoS splits the message counters by QoS level ("0", "1", "2").
	ByQoS map[string]QoSTotals `json:"by_qos"`
	// Latency holds the whole-run latencies over all QoS levels.
	Latency LatencyReport `json:"latency"`
	// LatencyByQoS holds the whole-run latencies per QoS level.
	LatencyByQoS map[string]QoSLatency `json:"latency_by_qos"`
	// Series holds one point per interval (normally per second).
	Series []SeriesPoint `json:"series"`
	// Broker holds the embedded broker's own counters (absent for an
	// external broker). Its drops are broker-side loss, reported apart
	// from network loss.
	Broker *BrokerStats `json:"broker,omitempty"`
	// Nodes breaks the totals down per node of a distributed run.
	Nodes []NodeResult `json:"nodes,omitempty"`
	// ClockBoundUs bounds the clock error of cross-node latencies (the
	// largest sum of two nodes' offset uncertainties), in microseconds;
	// 0 for a single-node run.
	ClockBoundUs int64 `json:"clock_bound_us,omitempty"`
}

// FaultWindow is one injected fault: what, when (seconds since the run
// start) and on which devices.
type FaultWindow struct {
	Kind   string  `json:"kind"`
	FromS  float64 `json:"from_s"`
	ToS    float64 `json:"to_s"`
	Target string  `json:"target"`
	// Devices is how many devices the fault selected (0 for the broker).
	Devices int `json:"devices,omitempty"`
}

// Meta describes where and how a result was produced.
type Meta struct {
	// Version is the fleetbench version; Go the Go runtime version.
	Version string `json:"version,omitempty"`
	Go      string `json:"go,omitempty"`
	// Host, Platform ("linux/amd64") and CPUs describe the machine.
	Host     string `json:"host,omitempty"`
	Platform string `json:"platform,omitempty"`
	CPUs     int    `json:"cpus,omitempty"`
	// Broker is the target: a URL (without credentials) or "embedded …".
	Broker string `json:"broker,omitempty"`
	// Command is the command line (secrets redacted).
	Command string `json:"command,omitempty"`
	// Seed is the scenario seed (device selection for faults and churn).
	Seed int64 `json:"seed,omitempty"`
	// Thresholds are the threshold expressions the run was judged by, so a
	// re-rendered report reaches the same verdict.
	Thresholds []string `json:"thresholds,omitempty"`
}

// BrokerStats are the embedded broker's counters at the end of a run.
type BrokerStats struct {
	// MessagesReceived and MessagesSent count PUBLISH packets in and out.
	MessagesReceived int64 `json:"messages_received"`
	MessagesSent     int64 `json:"messages_sent"`
	// MessagesDropped counts deliveries dropped because a subscriber's
	// outbound queue was full (a slow subscriber).
	MessagesDropped int64 `json:"messages_dropped"`
	// InflightDropped counts QoS 1/2 deliveries not attempted because the
	// subscriber's inflight window was full.
	InflightDropped int64 `json:"inflight_dropped"`
	// QosDropped counts QoS 1/2 flows abandoned after they started.
	QosDropped int64 `json:"qos_dropped"`
	// ClientsMaximum is the highest number of connected clients.
	ClientsMaximum int64 `json:"clients_maximum"`
	// Refused counts refused CONNECTs; PublishDenied and SubscribeDenied
	// count ACL refusals.
	Refused         int64 `json:"connect_refused"`
	PublishDenied   int64 `json:"publish_denied"`
	SubscribeDenied int64 `json:"subscribe_denied"`
}

// ScenarioInfo identifies the scenario a result comes from.
type ScenarioInfo struct {
	// Name is the scenario's name.
	Name string `json:"name"`
	// File is the path the scenario was loaded from.
	File string `json:"file,omitempty"`
	// Text is the scenario source, when it is kept for reproducibility.
	Text string `json:"text,omitempty"`
}

// Totals holds the whole-run counters of a result. Each field is a Column:
// a counter of counterTable (by its total name), a per-QoS counter summed
// over the levels, or a derivedColumns entry, joined by JSON name; Add and
// TotalsFrom walk the columns.
type Totals struct {
	// Devices is the number of devices started.
	Devices int64 `json:"devices"`
	// Connected is the connected-devices gauge at the end of the run
	// (normally 0: the devices disconnect when the run ends).
	Connected int64 `json:"connected"`
	// ConnectedPeak is the highest connected-devices gauge seen at the
	// one-second samples of the run.
	ConnectedPeak int64 `json:"connected_peak"`
	// ConnectOK and ConnectFailed count connect attempts by outcome.
	ConnectOK     int64 `json:"connect_ok"`
	ConnectFailed int64 `json:"connect_failed"`
	// SubscribeOK and SubscribeFailed count subscriptions by outcome.
	SubscribeOK     int64 `json:"subscribe_ok"`
	SubscribeFailed int64 `json:"subscribe_failed"`
	// Published … Reordered are the message counters over all QoS levels
	// (see QoSCounter).
	Published  int64 `json:"published"`
	Acked      int64 `json:"acked"`
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Reordered  int64 `json:"reordered"`
	// Foreign … LatencyDropped are the node-wide counters of the same name
	// (see Counter).
	Foreign          int64 `json:"foreign"`
	Lagged           int64 `json:"lagged"`
	Disconnects      int64 `json:"disconnects"`
	Reconnects       int64 `json:"reconnects"`
	BytesOut         int64 `json:"bytes_out"`
	BytesIn          int64 `json:"bytes_in"`
	PublishErrors    int64 `json:"publish_errors"`
	LatencySaturated int64 `json:"latency_saturated"`
	LatencyNegative  int64 `json:"latency_negative"`
	LatencyDropped   int64 `json:"latency_dropped"`
	// CrossNodeReceived counts deliveries whose publisher ran on another
	// node (distributed runs only).
	CrossNodeReceived int64 `json:"cross_node_received,omitempty"`
	// SubscribeTimeout is the part of SubscribeFailed that was never
	// acknowledged within the request timeout.
	SubscribeTimeout int64 `json:"subscribe_timeout"`
	// ProtocolErrors counts broker packets that broke the protocol on an
	// established connection.
	ProtocolErrors int64 `json:"protocol_errors"`
	// ThingPosts … RRPCFailed are the thing-model and RRPC counters of
	// the same name (see Counter); absent when zero.
	ThingPosts        int64 `json:"thing_posts,omitempty"`
	ThingReplyMissing int64 `json:"thing_reply_missing,omitempty"`
	RRPCCalls         int64 `json:"rrpc_calls,omitempty"`
	RRPCTimeouts      int64 `json:"rrpc_timeouts,omitempty"`
	RRPCFailed        int64 `json:"rrpc_failed,omitempty"`
	// QoSMismatch counts stamped deliveries at another QoS than planned
	// (in Received; see Result.QoSMismatch for the pairs).
	QoSMismatch int64 `json:"qos_mismatch"`
}

// Add adds o to t column by column (the Connected gauges of several nodes
// add up as well).
func (t *Totals) Add(o *Totals) {
	dst, src := reflect.ValueOf(t).Elem(), reflect.ValueOf(o).Elem()
	for _, c := range columns {
		f := dst.Field(c.total)
		f.SetInt(f.Int() + src.Field(c.total).Int())
	}
}

// TotalsFrom maps counters to result totals, column by column.
func TotalsFrom(c *Counts) Totals {
	var t Totals
	v := reflect.ValueOf(&t).Elem()
	for _, col := range columns {
		v.Field(col.total).SetInt(col.from(c))
	}
	return t
}

// QoSTotals holds the message counters of one QoS level; each field is the
// QoSCounter of the same JSON name (see qosCounterTable).
type QoSTotals struct {
	Published  int64 `json:"published"`
	Acked      int64 `json:"acked"`
	Expected   int64 `json:"expected"`
	Received   int64 `json:"received"`
	Lost       int64 `json:"lost"`
	Duplicates int64 `json:"duplicates"`
	Reordered  int64 `json:"reordered"`
}

func (t *QoSTotals) add(o *QoSTotals) {
	dst, src := reflect.ValueOf(t).Elem(), reflect.ValueOf(o).Elem()
	for _, c := range columns {
		if c.PerQoS {
			f := dst.Field(c.qos)
			f.SetInt(f.Int() + src.Field(c.qos).Int())
		}
	}
}

// qosTotalsFrom reads the per-QoS counters of one level.
func qosTotalsFrom(c *Counts, q int) QoSTotals {
	var t QoSTotals
	v := reflect.ValueOf(&t).Elem()
	for _, col := range columns {
		if col.PerQoS {
			v.Field(col.qos).SetInt(c.GetQoS(col.qk, q))
		}
	}
	return t
}

// LatencySummary is the statistics of one latency distribution plus the
// distribution itself, which makes it mergeable. In JSON the statistics are
// inline and the histogram is "hdr", the base64 HDR V2 compressed encoding
// (omitted when empty).
type LatencySummary struct {
	LatencyStats
	// Histogram is the distribution; nil or empty when Count is 0.
	Histogram *Histogram `json:"hdr,omitempty"`
}

// IsZero reports whether nothing was recorded (such summaries are left
// out of result.json where optional).
func (s LatencySummary) IsZero() bool { return s.Count == 0 }

// Summarize returns the summary of h, which it keeps (not a copy).
func Summarize(h *Histogram) LatencySummary {
	if h.Count() == 0 {
		return LatencySummary{}
	}
	return LatencySummary{LatencyStats: h.Stats(), Histogram: h}
}

// UnmarshalJSON decodes a summary and recomputes its statistics from the
// histogram, the source of truth. A histogram whose count disagrees with
// "count" is an error.
func (s *LatencySummary) UnmarshalJSON(data []byte) error {
	type plain LatencySummary // no methods: no recursion
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	if p.Histogram.Count() != p.Count {
		return fmt.Errorf("metrics: latency summary: count %d but hdr holds %d values", p.Count, p.Histogram.Count())
	}
	if p.Histogram.Count() > 0 {
		p.LatencyStats = p.Histogram.Stats()
	} else {
		p.Histogram = nil
	}
	*s = LatencySummary(p)
	return nil
}

func (s *LatencySummary) merge(o *LatencySummary) error {
	if s.Count != s.Histogram.Count() || o.Count != o.Histogram.Count() {
		return errors.New("a summary without its histogram cannot be merged exactly")
	}
	if o.Count == 0 {
		return nil
	}
	h := s.Histogram.Clone()
	if err := h.Merge(o.Histogram); err != nil {
		return err
	}
	*s = Summarize(h)
	return nil
}

// LatencyReport holds the summaries of every latency kind, each over all QoS
// levels.
type LatencyReport struct {
	Connect    LatencySummary `json:"connect"`
	Subscribe  LatencySummary `json:"subscribe"`
	PublishAck LatencySummary `json:"publish_ack"`
	E2E        LatencySummary `json:"e2e"`
	RoundTrip  LatencySummary `json:"round_trip"`
	// E2ECrossNode is present for distributed runs only.
	E2ECrossNode LatencySummary `json:"e2e_cross_node,omitzero"`
	// ThingReply is present for runs with thing-model posts only.
	ThingReply LatencySummary `json:"thing_reply,omitzero"`
	// RRPC is present for runs with cloud-side RRPC calls only.
	RRPC LatencySummary `json:"rrpc,omitzero"`
}

// Get returns the summary of one kind (nil for an invalid kind).
func (r *LatencyReport) Get(k Kind) *LatencySummary {
	switch k {
	case Connect:
		return &r.Connect
	case Subscribe:
		return &r.Subscribe
	case PublishAck:
		return &r.PublishAck
	case E2E:
		return &r.E2E
	case RoundTrip:
		return &r.RoundTrip
	case E2ECrossNode:
		return &r.E2ECrossNode
	case ThingReply:
		return &r.ThingReply
	case RRPC:
		return &r.RRPC
	}
	return nil
}

// QoSLatency holds the summaries of the per-QoS latency kinds at one QoS
// level.
type QoSLatency struct {
	Subscribe  LatencySummary `json:"subscribe"`
	PublishAck LatencySummary `json:"publish_ack"`
	E2E        LatencySummary `json:"e2e"`
	RoundTrip  LatencySummary `json:"round_trip"`
	// E2ECrossNode is present for distributed runs only.
	E2ECrossNode LatencySummary `json:"e2e_cross_node,omitzero"`
	// ThingReply is present for runs with thing-model posts only.
	ThingReply LatencySummary `json:"thing_reply,omitzero"`
	// RRPC is present for runs with cloud-side RRPC calls only.
	RRPC LatencySummary `json:"rrpc,omitzero"`
}

// Get returns the summary of one kind (nil for Connect or an invalid kind).
func (q *QoSLatency) Get(k Kind) *LatencySummary {
	switch k {
	case Subscribe:
		return &q.Subscribe
	case PublishAck:
		return &q.PublishAck
	case E2E:
		return &q.E2E
	case RoundTrip:
		return &q.RoundTrip
	case E2ECrossNode:
		return &q.E2ECrossNode
	case ThingReply:
		return &q.ThingReply
	case RRPC:
		return &q.RRPC
	}
	return nil
}

// NodeResult is the share of one node in a multi-node result.
type NodeResult struct {
	// Name identifies the node ("local" for the coordinator's own share,
	// else the worker's address).
	Name string `json:"name"`
	// Address is the node's Proto.Actor remote address.
	Address string `json:"address,omitempty"`
	// Devices is how many devices the node was given, and Ranges which
	// ones ("group[lo,hi)" of the groups' device indices).
	Devices int64    `json:"devices"`
	Ranges  []string `json:"ranges,omitempty"`
	// ClockOffsetUs is the node's clock minus the coordinator's, and
	// ClockUncertaintyUs the half round trip of the best sample: the
	// offset is known to ±ClockUncertaintyUs.
	ClockOffsetUs      int64 `json:"clock_offset_us"`
	ClockUncertaintyUs int64 `json:"clock_uncertainty_us"`
	// Lost is set when the node died or was cut off mid-run: LostAtS is
	// when (seconds since the run start) and LostReason why. Its counters
	// hold what it reported before that.
	Lost       bool    `json:"lost,omitempty"`
	LostAtS    float64 `json:"lost_at_s,omitempty"`
	LostReason string  `json:"lost_reason,omitempty"`
	// UnreportedDeliveries counts deliveries, seen by the other nodes, of
	// messages a lost node published after its last report: they are in
	// the run's expected and received, though the node never reported
	// publishing them.
	UnreportedDeliveries int64 `json:"unreported_deliveries,omitempty"`
	// Totals holds the node's counters.
	Totals Totals `json:"totals"`
	// Series is the node's own time series (to spot a node that lags):
	// one point per interval, or per several seconds for runs of many
	// nodes.
	Series []NodePoint `json:"series,omitempty"`
}

// NodePoint is one interval of one node of a distributed run.
type NodePoint struct {
	// T is the end of the interval, in whole seconds since the run start.
	T int64 `json:"t"`
	// Connected is the node's connected devices at the end.
	Connected int64 `json:"connected"`
	// PublishRate and ReceiveRate are messages per second in the interval.
	PublishRate float64 `json:"publish_rate"`
	ReceiveRate float64 `json:"receive_rate"`
	// E2EP99Us is the 99th percentile of the e2e latencies the node's
	// receivers recorded in the interval (0 without samples).
	E2EP99Us int64 `json:"e2e_p99_us"`
}

// qosKey is the map key of a QoS level in result.json.
func qosKey(q int) string { return strconv.Itoa(q) }

// mismatchMap lists the non-zero QoS mismatch pairs of c (nil if none).
func mismatchMap(c *Counts) map[string]int64 {
	var m map[string]int64
	for e := range c.QoSMismatch {
		for g, v := range c.QoSMismatch[e] {
			if v != 0 {
				if m == nil {
					m = make(map[string]int64)
				}
				m[MismatchKey(e, g)] = v
			}
		}
	}
	return m
}

// LoadSeconds returns the length of the load phase: from the first to the
// last intended publish (0 when fewer than two publishes were planned
// apart in time).
func (r *Result) LoadSeconds() float64 {
	return max(0, r.LastPublishS-r.FirstPublishS)
}

// PublishRate returns the messages published per second of the load
// phase (first to last intended publish), so the drain and the ramp
// before the first publish do not dilute it. ok is false when the load
// phase has no length (nothing or everything at one instant published);
// results of older versions without the load phase fall back to the whole
// run.
func (r *Result) PublishRate() (rate float64, ok bool) {
	if span := r.LoadSeconds(); span > 0 {
		return float64(r.Totals.Published) / span, true
	}
	if r.FirstPublishS == 0 && r.LastPublishS == 0 && r.Totals.Published > 0 {
		if d := r.EndedAt.Sub(r.StartedAt).Seconds(); d > 0 {
			return float64(r.Totals.Published) / d, true
		}
	}
	return 0, false
}

// NewResult builds a result from the final snapshot (its Total latencies and
// Counts) and the time series. StartedAt and EndedAt default to the
// snapshot's Began and Taken. The result shares histograms with final and
// series; clone final first if it will be modified.
func NewResult(final *Snapshot, series []SeriesPoint) *Result {
	r := &Result{
		Schema:                Schema,
		StartedAt:             final.Began,
		EndedAt:               final.Taken,
		Totals:                TotalsFrom(&final.Counts),
		ConnectFailedByReason: make(map[string]int64, NumFailReasons),
		ByQoS:                 make(map[string]QoSTotals, NumQoS),
		LatencyByQoS:          make(map[string]QoSLatency, NumQoS),
		Series:                append([]SeriesPoint{}, series...),
	}
	for i, v := range final.Counts.ConnectFailed {
		r.ConnectFailedByReason[FailReason(i).String()] = v
	}
	c := &final.Counts
	r.QoSMismatch = mismatchMap(c)
	for _, pt := range series {
		r.Totals.ConnectedPeak = max(r.Totals.ConnectedPeak, pt.Connected)
	}
	for q := 0; q < NumQoS; q++ {
		r.ByQoS[qosKey(q)] = qosTotalsFrom(c, q)
		var ql QoSLatency
		for _, k := range []Kind{Subscribe, PublishAck, E2E, RoundTrip, E2ECrossNode, ThingReply, RRPC} {
			*ql.Get(k) = Summarize(final.Total.Get(k, q))
		}
		r.LatencyByQoS[qosKey(q)] = ql
	}
	for k := Connect; k < NumKinds; k++ {
		*r.Latency.Get(k) = Summarize(final.Total.Kind(k))
	}
	return r
}

// Merge adds o to r: totals and per-QoS counters add, histograms merge
// exactly (statistics are recomputed), series merge by time offset, nodes
// are concatenated, the time span covers both and Interrupted is true if
// either was. r keeps its scenario (o's if r has none).
func (r *Result) Merge(o *Result) error {
	if r.Scenario == (ScenarioInfo{}) {
		r.Scenario = o.Scenario
	}
	r.StartedAt = earlier(r.StartedAt, o.StartedAt)
	r.EndedAt = later(r.EndedAt, o.EndedAt)
	r.Interrupted = r.Interrupted || o.Interrupted
	r.Partial = r.Partial || o.Partial
	r.Totals.Add(&o.Totals)
	for k, v := range o.ReasonCodes {
		if r.ReasonCodes == nil {
			r.ReasonCodes = make(map[string]int64, len(o.ReasonCodes))
		}
		r.ReasonCodes[k] += v
	}
	for k, v := range o.QoSMismatch {
		if r.QoSMismatch == nil {
			r.QoSMismatch = make(map[string]int64, len(o.QoSMismatch))
		}
		r.QoSMismatch[k] += v
	}
	r.Groups = mergeGroups(r.Groups, o.Groups)
	endpoints, err := MergeEndpoints(r.Endpoints, o.Endpoints)
	if err != nil {
		return fmt.Errorf("metrics: merge results: %w", err)
	}
	r.Endpoints = endpoints
	if r.ConnectFailedByReason == nil {
		r.ConnectFailedByReason = make(map[string]int64, len(o.ConnectFailedByReason))
	}
	for k, v := range o.ConnectFailedByReason {
		r.ConnectFailedByReason[k] += v
	}
	if r.ByQoS == nil {
		r.ByQoS = make(map[string]QoSTotals, len(o.ByQoS))
	}
	for k, v := range o.ByQoS {
		t := r.ByQoS[k]
		t.add(&v)
		r.ByQoS[k] = t
	}
	for k := Connect; k < NumKinds; k++ {
		if err := r.Latency.Get(k).merge(o.Latency.Get(k)); err != nil {
			return fmt.Errorf("metrics: merge results: latency %s: %w", k, err)
		}
	}
	if r.LatencyByQoS == nil {
		r.LatencyByQoS = make(map[string]QoSLatency, len(o.LatencyByQoS))
	}
	for q, ol := range o.LatencyByQoS {
		l := r.LatencyByQoS[q]
		for _, k := range []Kind{Subscribe, PublishAck, E2E, RoundTrip, E2ECrossNode, ThingReply, RRPC} {
			if err := l.Get(k).merge(ol.Get(k)); err != nil {
				return fmt.Errorf("metrics: merge results: latency %s QoS %s: %w", k, q, err)
			}
		}
		r.LatencyByQoS[q] = l
	}
	series, err := MergeSeries(r.Series, o.Series)
	if err != nil {
		return fmt.Errorf("metrics: merge results: %w", err)
	}
	r.Series = series
	if len(series) > 0 { // the peak of the sum, not the sum of the peaks
		r.Totals.ConnectedPeak = 0
		for _, pt := range series {
			r.Totals.ConnectedPeak = max(r.Totals.ConnectedPeak, pt.Connected)
		}
	}
	r.Nodes = append(r.Nodes, o.Nodes...)
	r.Verdict = Verdict{} // judge the merged result again
	return nil
}

// MergeResults returns the merge of a and b (see Result.Merge) without
// modifying either.
func MergeResults(a, b *Result) (*Result, error) {
	out := a.clone()
	if err := out.Merge(b); err != nil {
		return nil, err
	}
	return out, nil
}

// clone copies r deeply enough that merging into the copy leaves r alone:
// maps and slices are copied; histograms are shared but never modified by
// Merge, which merges into fresh clones.
func (r *Result) clone() *Result {
	c := *r
	c.ConnectFailedByReason = make(map[string]int64, len(r.ConnectFailedByReason))
	for k, v := range r.ConnectFailedByReason {
		c.ConnectFailedByReason[k] = v
	}
	c.ByQoS = make(map[string]QoSTotals, len(r.ByQoS))
	for k, v := range r.ByQoS {
		c.ByQoS[k] = v
	}
	c.LatencyByQoS = make(map[string]QoSLatency, len(r.LatencyByQoS))
	for k, v := range r.LatencyByQoS {
		c.LatencyByQoS[k] = v
	}
	c.Series = append([]SeriesPoint(nil), r.Series...)
	if r.ReasonCodes != nil {
		c.ReasonCodes = make(map[string]int64, len(r.ReasonCodes))
		for k, v := range r.ReasonCodes {
			c.ReasonCodes[k] = v
		}
	}
	if r.QoSMismatch != nil {
		c.QoSMismatch = make(map[string]int64, len(r.QoSMismatch))
		for k, v := range r.QoSMismatch {
			c.QoSMismatch[k] = v
		}
	}
	c.Verdict.Reasons = append([]Reason(nil), r.Verdict.Reasons...)
	c.Verdict.Thresholds = append([]ThresholdOutcome(nil), r.Verdict.Thresholds...)
	c.Nodes = append([]NodeResult(nil), r.Nodes...)
	c.Meta.Thresholds = append([]string(nil), r.Meta.Thresholds...)
	c.Faults = append([]FaultWindow(nil), r.Faults...)
	c.Groups = append([]GroupResult(nil), r.Groups...)
	return &c
}

// Encode writes r as indented JSON.
func (r *Result) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("metrics: encode result: %w", err)
	}
	return nil
}

// Marshal returns r as indented JSON.
func (r *Result) Marshal() ([]byte, error) {
	var b bytes.Buffer
	if err := r.Encode(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalResult decodes a result.json document, restoring every histogram
// from its "hdr". The schema must be Schema. Every counter is validated:
// non-negative (but clock offsets and the seed), at most MaxCounter, and
// the sums over every list and map within int64; the error names the
// field, so a hostile or corrupt file fails cleanly. Missing maps and QoS levels are
// filled with zero values so the result is ready to render and merge.
func UnmarshalResult(data []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("metrics: decode result: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("metrics: decode result: schema %q, want %q", r.Schema, Schema)
	}
	if r.ConnectFailedByReason == nil {
		r.ConnectFailedByReason = make(map[string]int64, NumFailReasons)
	}
	if r.ByQoS == nil {
		r.ByQoS = make(map[string]QoSTotals, NumQoS)
	}
	if r.LatencyByQoS == nil {
		r.LatencyByQoS = make(map[string]QoSLatency, NumQoS)
	}
	if err := validateCounters(&r); err != nil {
		return nil, fmt.Errorf("metrics: decode result: %w", err)
	}
	for q := 0; q < NumQoS; q++ {
		if _, ok := r.ByQoS[qosKey(q)]; !ok {
			r.ByQoS[qosKey(q)] = QoSTotals{}
		}
		if _, ok := r.LatencyByQoS[qosKey(q)]; !ok {
			r.LatencyByQoS[qosKey(q)] = QoSLatency{}
		}
	}
	return &r, nil
}

// DecodeResult reads and decodes a result.json document (see
// UnmarshalResult). It reads at most MaxResultSize bytes: a larger input
// (or an endless one, /dev/zero) is an error, not an allocation.
func DecodeResult(rd io.Reader) (*Result, error) {
	return decodeResult(rd, MaxResultSize)
}

func decodeResult(rd io.Reader, limit int64) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, fmt.Errorf("metrics: read result: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("metrics: read result: larger than the limit of %d MiB", limit>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("metrics: decode result: empty input")
	}
	return UnmarshalResult(data)
}
