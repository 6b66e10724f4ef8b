package actors

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// Endpoints are the broker endpoints of a run against several brokers
// (broker.url as a list) as the devices of one node reach them: which
// endpoint each device starts on, where it goes when its endpoint is
// lost (broker.failover), and the per-endpoint counters its events count
// into. A run against one broker has none (Env.Endpoints is nil).
type Endpoints struct {
	// List holds the endpoints in the order of broker.url; URLs their
	// URLs as the result shows them (secrets redacted).
	List []hal.Endpoint
	URLs []string
	// Counters holds one set of counters per endpoint.
	Counters []metrics.EndpointCounters

	broker scenarios.Broker
	// moved keeps the state of the devices that left their own endpoint,
	// by global index, so that a device actor restarted after a failed
	// connect resumes where it was rather than on its own endpoint.
	moved sync.Map // int → *deviceEndpoint
}

// Results reads the endpoint lines (nil for a nil e).
func (e *Endpoints) Results() []metrics.EndpointResult {
	if e == nil {
		return nil
	}
	return metrics.EndpointResults(e.Counters, e.URLs)
}

// assign counts the device of a global index, spawned, at its own endpoint.
func (e *Endpoints) assign(globalIndex int) {
	if e == nil {
		return
	}
	e.Counters[e.broker.EndpointOf(globalIndex)].Assign()
}

// UseExternalEndpoints points the node's devices at the scenario's broker:
// env.Endpoint is the first URL; with several URLs env.Endpoints spreads
// the devices over them and env.Dialer routes each connection to the
// endpoint's own dialer (its TLS configuration, verified against its own
// host, and its own source-address pool: every endpoint has the ephemeral
// port range of each source address to itself). dialer is the node's
// dialer (NewNodeEnv); with one URL it is the only one, as before.
func UseExternalEndpoints(sc *scenarios.Scenario, env *Env, dialer *hal.NetDialer) error {
	eps := sc.Broker.Endpoints
	if len(eps) <= 1 {
		ep, err := ExternalEndpoint(sc, dialer)
		env.Endpoint = ep
		return err
	}
	set := &Endpoints{broker: sc.Broker, Counters: metrics.NewEndpointCounters(len(eps))}
	routes := make(map[string]*hal.NetDialer, len(eps))
	for i, e := range eps {
		d := &hal.NetDialer{Timeout: dialer.Timeout, Resolver: dialer.Resolver, RefreshInterval: dialer.RefreshInterval, Clock: dialer.Clock}
		if len(sc.Broker.SourceAddresses) > 0 {
			pool, err := hal.NewSourcePool(sc.Broker.SourceAddresses)
			if err != nil {
				return fmt.Errorf("actors: broker.url[%d]: %w", i, err)
			}
			d.Sources = pool
		}
		ep, err := endpointOf(sc, e, d)
		if err != nil {
			return fmt.Errorf("actors: broker.url[%d]: %w", i, err)
		}
		set.List = append(set.List, ep)
		set.URLs = append(set.URLs, sc.Redact(e.URL))
		routes[routeKey(ep)] = d
	}
	env.Endpoint = set.List[0]
	env.Endpoints = set
	env.Dialer = hal.DialerFunc(func(ctx context.Context, ep hal.Endpoint) (net.Conn, error) {
		d, ok := routes[routeKey(ep)]
		if !ok {
			return nil, fmt.Errorf("actors: no dialer for broker endpoint %s", ep)
		}
		return d.Establish(ctx, ep)
	})
	return nil
}

// CheckEndpoints loads the TLS configuration of every endpoint of the
// scenario's broker (what run would refuse), and returns the first.
func CheckEndpoints(sc *scenarios.Scenario) (hal.Endpoint, error) {
	if len(sc.Broker.Endpoints) <= 1 {
		return ExternalEndpoint(sc, &hal.NetDialer{})
	}
	var first hal.Endpoint
	for i, e := range sc.Broker.Endpoints {
		ep, err := endpointOf(sc, e, &hal.NetDialer{})
		if err != nil {
			return first, fmt.Errorf("actors: broker.url[%d]: %w", i, err)
		}
		if i == 0 {
			first = ep
		}
	}
	return first, nil
}

// endpointOf is one endpoint of the scenario's broker, with d's TLS
// configuration loaded for a TLS endpoint.
func endpointOf(sc *scenarios.Scenario, e scenarios.Endpoint, d *hal.NetDialer) (hal.Endpoint, error) {
	one := *sc
	one.Broker.URL, one.Broker.Transport, one.Broker.Host, one.Broker.Port, one.Broker.Path = e.URL, e.Transport, e.Host, e.Port, e.Path
	return ExternalEndpoint(&one, d)
}

func routeKey(ep hal.Endpoint) string {
	return string(ep.Transport) + "://" + strings.ToLower(ep.Address())
}

// deviceEndpoint is where one device connects: it dials its current
// endpoint, and with failover: next moves on to the next endpoint after a
// connection that could not be established. It is the device's dialer
// (Establish runs on the session's goroutines, hence the atomics).
type deviceEndpoint struct {
	set    *Endpoints
	inner  hal.Dialer
	global int
	// next is the endpoint the next dial goes to, last the one the last
	// dial went to, on the one of the device's last session (its own
	// endpoint before the first).
	next, last, on atomic.Int32
}

// Establish implements hal.Dialer: it dials the device's endpoint,
// whatever ep says.
func (de *deviceEndpoint) Establish(ctx context.Context, _ hal.Endpoint) (net.Conn, error) {
	i := int(de.next.Load())
	de.last.Store(int32(i))
	c, err := de.inner.Establish(ctx, de.set.List[i])
	if err != nil {
		if n := de.set.broker.NextEndpoint(i); n != i && de.next.CompareAndSwap(int32(i), int32(n)) {
			de.set.moved.Store(de.global, de)
		}
	}
	return c, err
}

// current returns the endpoint the device dials next.
func (de *deviceEndpoint) current() hal.Endpoint { return de.set.List[de.next.Load()] }

// attachEndpoint makes the device dial through its endpoint (a run against
// several brokers only) and count at the endpoint of its last dial.
func (d *device) attachEndpoint() {
	set := d.env.Endpoints
	if set == nil {
		return
	}
	if d.ep == nil {
		if v, ok := set.moved.Load(d.plan.GlobalIndex); ok {
			d.ep = v.(*deviceEndpoint)
		} else {
			d.ep = &deviceEndpoint{set: set, global: d.plan.GlobalIndex}
			home := int32(set.broker.EndpointOf(d.plan.GlobalIndex))
			d.ep.next.Store(home)
			d.ep.last.Store(home)
			d.ep.on.Store(home)
		}
		d.ep.inner = d.dialer
		d.dialer = d.ep
	}
	d.rec = d.rec.WithEndpoint(&set.Counters[d.ep.last.Load()])
}

// endpoint is the endpoint the device connects to.
func (d *device) endpoint() hal.Endpoint {
	if d.ep == nil {
		return d.env.Endpoint
	}
	return d.ep.current()
}

// sessionOnEndpoint is called when a session is up (first connect or
// reconnect): the device counts at the endpoint it reached from now on,
// and a session on another endpoint than the device's last one is a
// failover from that one.
func (d *device) sessionOnEndpoint() {
	if d.ep == nil {
		return
	}
	now := d.ep.last.Load()
	if was := d.ep.on.Swap(now); was != now {
		d.ep.set.Counters[was].Failover(int(now))
	}
	d.rec = d.rec.WithEndpoint(&d.ep.set.Counters[now])
}

// onEndpointEvent keeps the device's endpoint counters in step with its
// session before the event is counted.
func (d *device) onEndpointEvent(ev *iot.Event) {
	if ev.Type == iot.EventReconnect {
		d.sessionOnEndpoint()
	}
}

// endpointsMeta lists a broker list's endpoints for the result's meta
// ("" for one endpoint).
func endpointsMeta(sc *scenarios.Scenario) string {
	if len(sc.Broker.Endpoints) <= 1 {
		return ""
	}
	parts := make([]string, len(sc.Broker.Endpoints))
	for i, e := range sc.Broker.Endpoints {
		parts[i] = sc.Redact(e.URL)
	}
	return strings.Join(parts, ", ")
}
