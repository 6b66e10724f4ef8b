package metrics

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// EndpointCounters are the counters and latencies of one broker endpoint
// on a node (a run against several brokers, or a cluster's nodes): the
// same counters as the Recorder's, counted through a Tally that carries
// the endpoint the device is connected to (Tally.WithEndpoint), so the
// endpoint lines add up to the totals exactly; plus the connect and
// publish-ack latencies recorded at that endpoint, the devices assigned
// to it and the failovers from it. The zero value is ready to use (it
// counts no failovers; see NewEndpointCounters).
type EndpointCounters struct {
	set      counterSet
	assigned atomic.Int64

	mu      sync.Mutex // guards the histograms
	connect Histogram
	ack     Histogram

	failovers []atomic.Int64 // by target endpoint index
}

// NewEndpointCounters returns the counters of n endpoints, each able to
// count failovers to any of the n.
func NewEndpointCounters(n int) []EndpointCounters {
	out := make([]EndpointCounters, n)
	for i := range out {
		out[i].failovers = make([]atomic.Int64, n)
	}
	return out
}

// Assign counts one device whose own endpoint this is (its first
// connect goes here).
func (e *EndpointCounters) Assign() { e.assigned.Add(1) }

// Failover counts one device that left this endpoint and connected to
// endpoint to instead.
func (e *EndpointCounters) Failover(to int) {
	if to >= 0 && to < len(e.failovers) {
		e.failovers[to].Add(1)
	}
}

// record adds a latency of kind (Connect and PublishAck only; others are
// ignored), clamped like Recorder.Record.
func (e *EndpointCounters) record(kind Kind, d time.Duration) {
	var h *Histogram
	switch kind {
	case Connect:
		h = &e.connect
	case PublishAck:
		h = &e.ack
	default:
		return
	}
	us := min(max(d.Microseconds(), 0), HighestUs)
	e.mu.Lock()
	_ = h.Record(us) // within 0..HighestUs: cannot fail
	e.mu.Unlock()
}

// Result reads the endpoint's line; urls names every endpoint of the run
// (for the failover targets), url is this one's.
func (e *EndpointCounters) Result(url string, urls []string) EndpointResult {
	c := e.set.load()
	r := EndpointResult{
		URL:           url,
		Devices:       e.assigned.Load(),
		ConnectOK:     c.Get(ConnectOK),
		ConnectFailed: c.ConnectFailedTotal(),
		Disconnects:   c.Get(Disconnects),
		Reconnects:    c.Get(Reconnects),
		Published:     c.Sum(Published),
		Acked:         c.Sum(Acked),
		Received:      c.Sum(Received),
		PublishErrors: c.Get(PublishErrors),
	}
	for i, n := range c.ConnectFailed {
		if n != 0 {
			if r.ConnectFailedByReason == nil {
				r.ConnectFailedByReason = make(map[string]int64)
			}
			r.ConnectFailedByReason[FailReason(i).String()] = n
		}
	}
	for i := range e.failovers {
		if n := e.failovers[i].Load(); n != 0 && i < len(urls) {
			if r.Failovers == nil {
				r.Failovers = make(map[string]int64)
			}
			r.Failovers[urls[i]] += n
		}
	}
	e.mu.Lock()
	r.Connect = Summarize(e.connect.Clone())
	r.PublishAck = Summarize(e.ack.Clone())
	e.mu.Unlock()
	return r
}

// EndpointResults reads the lines of every endpoint, in the order of
// urls (the run's broker endpoints).
func EndpointResults(es []EndpointCounters, urls []string) []EndpointResult {
	if len(es) != len(urls) {
		return nil
	}
	out := make([]EndpointResult, len(es))
	for i := range es {
		out[i] = es[i].Result(urls[i], urls)
	}
	return out
}

// EndpointResult is one broker endpoint's line of a result: the devices
// whose own endpoint it is, what happened on connections to it, and its
// connect and publish-ack latencies, so that a slow or failing node of a
// cluster stands out. A device's events count at the endpoint it was
// connected to (or trying) at the time: with failover a device counts in
// Devices at its own endpoint and its later connects, publishes and
// deliveries at the one it moved to. Every count but Devices and
// Failovers adds up over the endpoints to the Totals column of the same
// JSON name.
type EndpointResult struct {
	// URL is the endpoint's broker URL as written in the scenario (secrets
	// redacted).
	URL string `json:"url"`
	// Devices is the number of devices assigned to the endpoint.
	Devices       int64 `json:"devices"`
	ConnectOK     int64 `json:"connect_ok"`
	ConnectFailed int64 `json:"connect_failed"`
	// ConnectFailedByReason splits ConnectFailed by FailReason name.
	ConnectFailedByReason map[string]int64 `json:"connect_failed_by_reason,omitempty"`
	Disconnects           int64            `json:"disconnects"`
	Reconnects            int64            `json:"reconnects"`
	Published             int64            `json:"published"`
	Acked                 int64            `json:"acked"`
	// Received counts deliveries to subscribers connected to this
	// endpoint (the subscriber's endpoint, not the publisher's).
	Received      int64 `json:"received"`
	PublishErrors int64 `json:"publish_errors"`
	// Failovers counts devices that left this endpoint for another
	// (failover: next), by the URL they connected to.
	Failovers map[string]int64 `json:"failovers,omitempty"`
	// Connect and PublishAck are the latencies measured at the endpoint.
	Connect    LatencySummary `json:"connect"`
	PublishAck LatencySummary `json:"publish_ack"`
}

// FailoversTotal is the sum of Failovers.
func (e *EndpointResult) FailoversTotal() int64 {
	var n int64
	for _, v := range e.Failovers {
		n += v
	}
	return n
}

// Add adds o (the same endpoint measured elsewhere: another node) to e:
// counters add, histograms merge exactly. The URL stays e's.
func (e *EndpointResult) Add(o *EndpointResult) error {
	e.Devices += o.Devices
	e.ConnectOK += o.ConnectOK
	e.ConnectFailed += o.ConnectFailed
	e.Disconnects += o.Disconnects
	e.Reconnects += o.Reconnects
	e.Published += o.Published
	e.Acked += o.Acked
	e.Received += o.Received
	e.PublishErrors += o.PublishErrors
	e.ConnectFailedByReason = addCounts(e.ConnectFailedByReason, o.ConnectFailedByReason)
	e.Failovers = addCounts(e.Failovers, o.Failovers)
	if err := e.Connect.merge(&o.Connect); err != nil {
		return fmt.Errorf("metrics: endpoint %s: connect: %w", e.URL, err)
	}
	if err := e.PublishAck.merge(&o.PublishAck); err != nil {
		return fmt.Errorf("metrics: endpoint %s: publish_ack: %w", e.URL, err)
	}
	return nil
}

// addCounts adds b into a copy of a.
func addCounts(a, b map[string]int64) map[string]int64 {
	if len(b) == 0 {
		return a
	}
	out := make(map[string]int64, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

// MergeEndpoints adds b's endpoint lines into a copy of a's, by URL,
// keeping a's order.
func MergeEndpoints(a, b []EndpointResult) ([]EndpointResult, error) {
	out := append([]EndpointResult(nil), a...)
next:
	for i := range b {
		for j := range out {
			if out[j].URL == b[i].URL {
				if err := out[j].Add(&b[i]); err != nil {
					return nil, err
				}
				continue next
			}
		}
		out = append(out, b[i])
	}
	return out, nil
}
