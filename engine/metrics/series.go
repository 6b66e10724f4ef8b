package metrics

import (
	"fmt"
	"slices"
)

// SeriesPoint is one entry of a result's time series: what happened during
// one interval (normally one second). Counts are for the interval, rates
// are per second, latencies are of the interval, in µs.
//
// A point built by Snapshot.Point also keeps its interval histograms in
// memory, so merging points of several nodes gives exact percentiles. Those
// histograms are not written to JSON (they would dominate result.json); when
// a point without them is merged, each percentile becomes the larger of the
// two — an upper bound of the true value — and Approximate is set.
type SeriesPoint struct {
	// T is the end of the interval, in whole seconds since the run start.
	T int64 `json:"t"`
	// Seconds is the length of the interval.
	Seconds float64 `json:"dt"`
	// Connected is the connected-devices gauge at the end of the interval.
	Connected int64 `json:"connected"`
	// Published, Received and Acked count messages during the interval.
	Published int64 `json:"published"`
	Received  int64 `json:"received"`
	Acked     int64 `json:"acked"`
	// ConnectOK and ConnectFailed count connects during the interval.
	ConnectOK     int64 `json:"connect_ok"`
	ConnectFailed int64 `json:"connect_failed"`
	// Disconnects, Reconnects and PublishErrors during the interval.
	Disconnects   int64 `json:"disconnects"`
	Reconnects    int64 `json:"reconnects"`
	PublishErrors int64 `json:"publish_errors"`
	// The rates are the interval counts divided by Seconds.
	PublishRate float64 `json:"publish_rate"`
	ReceiveRate float64 `json:"receive_rate"`
	AckRate     float64 `json:"ack_rate"`
	ConnectRate float64 `json:"connect_rate"`
	// Latency percentiles of the interval, over all QoS levels.
	E2EP50Us        int64 `json:"e2e_p50_us"`
	E2EP99Us        int64 `json:"e2e_p99_us"`
	PublishAckP99Us int64 `json:"publish_ack_p99_us"`
	// Approximate is set when the percentiles come from merging points
	// without histograms and so are upper bounds.
	Approximate bool `json:"approximate,omitempty"`
	// Tool is what the fleetbench process itself used in the interval, so
	// a soak report shows whether the tool or the broker drifted.
	Tool ProcessSample `json:"tool"`

	e2e, ack *Histogram // interval histograms; nil after JSON decoding
}

func (p *SeriesPoint) setRates() {
	if p.Seconds <= 0 {
		p.PublishRate, p.ReceiveRate, p.AckRate, p.ConnectRate = 0, 0, 0, 0
		return
	}
	p.PublishRate = float64(p.Published) / p.Seconds
	p.ReceiveRate = float64(p.Received) / p.Seconds
	p.AckRate = float64(p.Acked) / p.Seconds
	p.ConnectRate = float64(p.ConnectOK) / p.Seconds
}

func (p *SeriesPoint) setPercentiles() {
	e := p.e2e.Percentiles(50, 99)
	p.E2EP50Us, p.E2EP99Us = e[0], e[1]
	p.PublishAckP99Us = p.ack.Percentile(99)
}

// E2E returns the point's interval e2e histogram, or nil when the point was
// decoded from JSON. Do not modify it.
func (p *SeriesPoint) E2E() *Histogram { return p.e2e }

// PublishAck returns the point's interval publish-ack histogram, or nil when
// the point was decoded from JSON. Do not modify it.
func (p *SeriesPoint) PublishAck() *Histogram { return p.ack }

// merge adds o, a point of the same T, to p.
func (p *SeriesPoint) merge(o *SeriesPoint) error {
	p.Seconds = max(p.Seconds, o.Seconds)
	p.Connected += o.Connected
	p.Published += o.Published
	p.Received += o.Received
	p.Acked += o.Acked
	p.ConnectOK += o.ConnectOK
	p.ConnectFailed += o.ConnectFailed
	p.Disconnects += o.Disconnects
	p.Reconnects += o.Reconnects
	p.PublishErrors += o.PublishErrors
	p.Tool.add(&o.Tool)
	// Each node's rate is over its own interval length, so rates add.
	p.PublishRate += o.PublishRate
	p.ReceiveRate += o.ReceiveRate
	p.AckRate += o.AckRate
	p.ConnectRate += o.ConnectRate
	if p.e2e != nil && o.e2e != nil && p.ack != nil && o.ack != nil && !p.Approximate && !o.Approximate {
		e2e, ack := p.e2e.Clone(), p.ack.Clone()
		if err := e2e.Merge(o.e2e); err != nil {
			return fmt.Errorf("metrics: merge series point t=%d: %w", p.T, err)
		}
		if err := ack.Merge(o.ack); err != nil {
			return fmt.Errorf("metrics: merge series point t=%d: %w", p.T, err)
		}
		p.e2e, p.ack = e2e, ack
		p.setPercentiles()
		return nil
	}
	// The quantile of a mixture never exceeds the largest quantile of its
	// parts: max is a sound upper bound.
	p.e2e, p.ack = nil, nil
	p.E2EP50Us = max(p.E2EP50Us, o.E2EP50Us)
	p.E2EP99Us = max(p.E2EP99Us, o.E2EP99Us)
	p.PublishAckP99Us = max(p.PublishAckP99Us, o.PublishAckP99Us)
	p.Approximate = true
	return nil
}

// MergeSeries merges two time series by time offset: points with the same T
// are combined (counts and rates add, percentiles merge exactly when both
// carry histograms), others are kept. The result is sorted by T; a and b are
// not modified.
func MergeSeries(a, b []SeriesPoint) ([]SeriesPoint, error) {
	out := make([]SeriesPoint, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.SortStableFunc(out, func(x, y SeriesPoint) int {
		switch {
		case x.T < y.T:
			return -1
		case x.T > y.T:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for i := range out {
		if n := len(merged); n > 0 && merged[n-1].T == out[i].T {
			if err := merged[n-1].merge(&out[i]); err != nil {
				return nil, err
			}
			continue
		}
		merged = append(merged, out[i])
	}
	return merged, nil
}

// Compact drops the point's interval histograms, keeping its percentiles.
// A single-node run that will never merge its series calls it on every
// point, so a long soak does not hold one histogram pair per second.
func (p *SeriesPoint) Compact() { p.e2e, p.ack = nil, nil }
