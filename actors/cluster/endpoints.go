package cluster

import (
	"fmt"

	"github.com/fleetbench/fleetbench/actors/remotepb"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// toWireEndpoints encodes a node's endpoint lines (see
// actors.Endpoints.Results) for its NodeReport.
func toWireEndpoints(es []metrics.EndpointResult) ([]*remotepb.EndpointCounts, error) {
	if len(es) == 0 {
		return nil, nil
	}
	out := make([]*remotepb.EndpointCounts, len(es))
	for i := range es {
		e := &es[i]
		w := &remotepb.EndpointCounts{
			Url: e.URL, Devices: e.Devices, ConnectOk: e.ConnectOK, ConnectFailed: e.ConnectFailed,
			Disconnects: e.Disconnects, Reconnects: e.Reconnects, Published: e.Published, Acked: e.Acked,
			Received: e.Received, PublishErrors: e.PublishErrors,
			ConnectFailedByReason: e.ConnectFailedByReason, Failovers: e.Failovers,
		}
		var err error
		if w.ConnectHdr, err = e.Connect.Histogram.Encode(); err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", e.URL, err)
		}
		if w.PublishAckHdr, err = e.PublishAck.Histogram.Encode(); err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", e.URL, err)
		}
		out[i] = w
	}
	return out, nil
}

// fromWireEndpoint decodes one endpoint line shipped by a node.
func fromWireEndpoint(w *remotepb.EndpointCounts) (metrics.EndpointResult, error) {
	e := metrics.EndpointResult{
		URL: w.Url, Devices: w.Devices, ConnectOK: w.ConnectOk, ConnectFailed: w.ConnectFailed,
		Disconnects: w.Disconnects, Reconnects: w.Reconnects, Published: w.Published, Acked: w.Acked,
		Received: w.Received, PublishErrors: w.PublishErrors,
		ConnectFailedByReason: w.ConnectFailedByReason, Failovers: w.Failovers,
	}
	connect, err := metrics.DecodeHistogram(w.ConnectHdr)
	if err != nil {
		return e, fmt.Errorf("endpoint %s: connect: %w", w.Url, err)
	}
	ack, err := metrics.DecodeHistogram(w.PublishAckHdr)
	if err != nil {
		return e, fmt.Errorf("endpoint %s: publish_ack: %w", w.Url, err)
	}
	e.Connect, e.PublishAck = metrics.Summarize(connect), metrics.Summarize(ack)
	return e, nil
}

// mergeEndpoints adds up the nodes' last endpoint lines, endpoint by
// endpoint (every node lists the run's endpoints in the same order).
func mergeEndpoints(nodes []*clusterNode) ([]metrics.EndpointResult, error) {
	var out []metrics.EndpointResult
	for _, n := range nodes {
		var lines []metrics.EndpointResult
		for _, w := range n.endpoints {
			e, err := fromWireEndpoint(w)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			lines = append(lines, e)
		}
		var err error
		if out, err = metrics.MergeEndpoints(out, lines); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return out, nil
}
