// Package actors is the fleet runtime, the floor above the device
// connection engine (engine/...): Run starts the target (the embedded
// broker unless the scenario names one), the actor system and the
// coordinator; one device actor per simulated device owns an iot.Handle
// and runs the SDK lifecycle (sign, construct, subscribe, publish on a
// schedule, yield when data is ready or the session has something due,
// destroy); the coordinator spawns devices along the scenario's ramp,
// applies faults and churn, snapshots the metrics every second, ends the
// load when every count is sent, drains in-flight messages and builds the
// result. Package actors/cluster runs the same coordinator on several
// machines.
package actors

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fleetbench/fleetbench/engine/devsign"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// Env is what every device actor of a node shares.
type Env struct {
	// Recorder receives every measurement of the node.
	Recorder *metrics.Recorder
	// Dialer establishes device transports; Endpoint is the broker.
	Dialer hal.Dialer
	// Faults, when set, wraps every device's transport for the scenario's
	// fault timeline.
	Faults   *hal.Injector
	Endpoint hal.Endpoint
	// Endpoints, in a run against several brokers (broker.url as a list),
	// spreads the devices over them; Endpoint is then the first. nil for
	// one broker.
	Endpoints *Endpoints
	// Clock stamps time; Epoch is the node's run epoch, from which payload
	// stamps count. In a distributed run every node's Epoch is the same
	// instant, the coordinator's epoch moved onto the node's clock by its
	// measured offset, so stamps compare across nodes.
	Clock hal.Clock
	Epoch time.Time
	// Index says, for every published topic, how many subscriptions of the
	// plan match it (expected deliveries).
	Index *iot.TopicIndex
	// StampKeys are the JSON members that carry stamps in the scenario's
	// payload templates (tried in order on JSON payloads).
	StampKeys []metrics.JSONStampKeys
	// Topics selects SDK or plain MQTT topic validation.
	Topics iot.TopicRules
	// Groups holds per-group counters, indexed like Scenario.Groups (may
	// be nil). Devices count into them through Recorder.Tally, one call
	// per event for the fleet and the group.
	Groups []metrics.GroupCounters
	// FirstErrors keeps the first connect error of each reason.
	FirstErrors *metrics.FirstErrors
	// Logger receives device-level logs.
	Logger *slog.Logger
	// Distributed is set on the nodes of a distributed run (nil for a
	// single-node run).
	Distributed *NodeMap
	// SignOptions are passed to devsign.Sign for auth: alibaba groups.
	SignOptions devsign.Options
	// PublishQoS returns the QoS of publish entry stream of the device of
	// a global index (ok false if there is none): how a receiver knows the
	// QoS a stamped delivery was planned at. nil disables QoS-mismatch
	// findings.
	PublishQoS func(globalIndex, stream int) (qos int, ok bool)
}

// countBytes adds live transport traffic to the node's counters.
func (e *Env) countBytes(in, out int64) {
	if in != 0 {
		e.Recorder.Add(metrics.BytesIn, in)
	}
	if out != 0 {
		e.Recorder.Add(metrics.BytesOut, out)
	}
}

// NodeMap tells a node of a distributed run where every device runs, and
// counts its deliveries by the node of their publisher.
type NodeMap struct {
	// Self is this node's index.
	Self int
	// NodeOf returns the index of the node that runs the device of a
	// global index (-1 if none).
	NodeOf func(globalIndex int) int
	// ReceivedFrom counts unique deliveries by publisher node and QoS,
	// indexed [node*metrics.NumQoS + qos].
	ReceivedFrom []atomic.Int64
}

// received counts one unique delivery from the publisher of a global
// index; it reports whether the publisher runs on another node.
func (m *NodeMap) received(publisher, qos int) (crossNode bool) {
	n := m.NodeOf(publisher)
	if n < 0 {
		return false
	}
	if i := n*metrics.NumQoS + qos; i < len(m.ReceivedFrom) {
		m.ReceivedFrom[i].Add(1)
	}
	return n != m.Self
}

// failReason classifies a connect error for the connect_failed counters.
func failReason(err error) metrics.FailReason {
	var lenErr *devsign.LengthError
	switch {
	case errors.Is(err, iot.ErrNotAuthorized), errors.As(err, &lenErr):
		return metrics.ReasonRefusedAuth
	case errors.Is(err, iot.ErrConnectRefused):
		return metrics.ReasonRefusedOther
	case errors.Is(err, iot.ErrNotMQTT):
		return metrics.ReasonNotMQTT
	case errors.Is(err, iot.ErrProtocol):
		return metrics.ReasonProtocol
	case errors.Is(err, iot.ErrConnectTimeout), isTimeout(err):
		return metrics.ReasonTimeout
	case isTLS(err):
		return metrics.ReasonTLS
	case isDNS(err):
		return metrics.ReasonDNS
	case isNetwork(err):
		return metrics.ReasonNetwork
	}
	return metrics.ReasonOther
}
