package scenarios

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Limits of a broker list.
const (
	// MaxEndpoints bounds the URLs of broker.url (a cluster's nodes, or
	// the listeners behind its load balancers).
	MaxEndpoints = 64
	// MaxEndpointWeight bounds one entry of broker.weights.
	MaxEndpointWeight = 1000
)

// Failover is what a device does when its broker endpoint is lost
// ("broker.failover:").
type Failover string

// Failover modes.
const (
	// FailoverNone (the default): a device reconnects to its own endpoint.
	FailoverNone Failover = "none"
	// FailoverNext: after a failed reconnect attempt a device tries the
	// next endpoint of the list, round robin.
	FailoverNext Failover = "next"
)

// Endpoint is one broker URL of broker.url.
type Endpoint struct {
	// URL is the URL as written (with ${env:...} resolved).
	URL string
	// Transport is TCP for mqtt:// and tcp://, TLS for mqtts://, ssl://
	// and tls://, WS for ws://, WSS for wss://. Broker.TLS applies to the
	// TLS and WSS endpoints.
	Transport Transport
	// Host and Port come from the URL (default port 1883 for TCP, 8883
	// for TLS, 80 for WS, 443 for WSS).
	Host string
	Port int
	// Path is the HTTP path of a ws:// or wss:// URL (empty: /mqtt).
	Path string
	// Weight is the endpoint's share of the devices (broker.weights; 1
	// when not written).
	Weight int
}

// Addr returns "host:port".
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// EndpointOf returns the index in Endpoints of the endpoint the device of
// a global index connects to first (0 for the embedded broker). Without
// weights it is round robin by index (i mod n); with weights the sequence
// of endpoint slots repeats, each endpoint taking as many consecutive
// slots as its weight (weights [2,1,1]: a, a, b, c, a, a, b, c, …). It
// depends on the global index only, so every node of a distributed run
// spreads its share of the fleet the same way one process would.
func (b Broker) EndpointOf(globalIndex int) int {
	n := len(b.Endpoints)
	if n <= 1 || globalIndex < 0 {
		return 0
	}
	if len(b.slots) == 0 {
		return globalIndex % n
	}
	return b.slots[globalIndex%len(b.slots)]
}

// NextEndpoint returns the endpoint a device on endpoint i tries after a
// failed reconnect attempt: i itself without failover, the next one of
// the list (round robin) with failover: next.
func (b Broker) NextEndpoint(i int) int {
	n := len(b.Endpoints)
	if n <= 1 || b.Failover != FailoverNext {
		return i
	}
	return (i + 1) % n
}

// decodeBrokerURLs decodes broker.url, a string or a list of strings,
// into b.Endpoints; the first endpoint is also b.URL, Transport, Host and
// Port. Errors of a list name the index (broker.url[2]).
func (d *decoder) decodeBrokerURLs(un *node, b *Broker) {
	one := func(n *node, path string) {
		t, ok := d.template(n, path, phEnvOnly, "broker.url")
		if !ok {
			return
		}
		raw, _ := t.literal()
		eb := Broker{Platform: b.Platform}
		if msg, hint := parseBrokerURL(raw, &eb); msg != "" {
			d.errh(n, path, hint, "%s", msg)
			return
		}
		platformPort(raw, &eb)
		for i, prev := range b.Endpoints {
			if strings.EqualFold(prev.Addr(), eb.Addr()) && prev.Transport == eb.Transport {
				d.errh(n, path, "each endpoint is listed once; use broker.weights to give one more devices",
					"%s is listed twice (also broker.url[%d])", raw, i)
				return
			}
		}
		b.Endpoints = append(b.Endpoints, Endpoint{URL: eb.URL, Transport: eb.Transport, Host: eb.Host, Port: eb.Port, Path: eb.Path, Weight: 1})
	}
	if un.kind != kindSeq {
		one(un, "broker.url")
	} else {
		if len(un.items) == 0 {
			d.errh(un, "broker.url", "give at least one URL, or remove broker.url to use the embedded broker", "the list is empty")
			return
		}
		if len(un.items) > MaxEndpoints {
			d.errh(un, "broker.url", "", "%d URLs exceed the limit of %d", len(un.items), MaxEndpoints)
			return
		}
		for i, it := range un.items {
			one(it, index("broker.url", i))
		}
	}
	if len(b.Endpoints) > 0 && len(b.Endpoints) == max(1, len(un.items)) {
		e := b.Endpoints[0]
		b.URL, b.Transport, b.Host, b.Port, b.Path = e.URL, e.Transport, e.Host, e.Port, e.Path
	}
}

// decodeBrokerSpread decodes broker.weights and broker.failover, once
// the URLs are known.
func (d *decoder) decodeBrokerSpread(n *node, b *Broker) {
	urls := n.get("url")
	if fn := n.get("failover"); fn != nil {
		if v, ok := d.str(fn, "broker.failover"); ok {
			switch Failover(v) {
			case FailoverNone, FailoverNext:
				b.Failover = Failover(v)
			default:
				d.errh(fn, "broker.failover", "none (reconnect to the device's own endpoint) or next (try the next endpoint of broker.url)",
					"unknown failover %q", v)
			}
		}
		if urls == nil {
			d.errh(fn, "broker.failover", "list the endpoints in broker.url", "failover needs broker URLs; the embedded broker is one endpoint")
		}
	}
	if b.Failover == "" {
		b.Failover = FailoverNone
	}
	wn := n.get("weights")
	if wn == nil {
		return
	}
	items := d.list(wn, "broker.weights", "positive integers")
	if wn.kind != kindSeq {
		return
	}
	want := 0
	if urls != nil && urls.kind == kindSeq {
		want = len(urls.items)
	} else if urls != nil {
		want = 1
	}
	if urls == nil {
		d.errh(wn, "broker.weights", "list the endpoints in broker.url", "weights need broker URLs; the embedded broker is one endpoint")
		return
	}
	if len(items) != want {
		d.errh(wn, "broker.weights", "one weight per URL of broker.url, in the same order",
			"%d weights for %d URLs", len(items), want)
		return
	}
	weights := make([]int, 0, len(items))
	total := 0
	for i, it := range items {
		p := index("broker.weights", i)
		v, ok := d.integer(it, p)
		if !ok {
			return
		}
		if v < 1 || v > MaxEndpointWeight {
			d.errh(it, p, fmt.Sprintf("a positive integer up to %d: the endpoint's share of the devices", MaxEndpointWeight),
				"weight %d is out of range", v)
			return
		}
		weights = append(weights, int(v))
		total += int(v)
	}
	if len(weights) != len(b.Endpoints) {
		return // a URL was rejected: its error is enough
	}
	b.slots = make([]int, 0, total)
	for i, w := range weights {
		b.Endpoints[i].Weight = w
		for range w {
			b.slots = append(b.slots, i)
		}
	}
}

// anyTLS reports whether one of the endpoints uses TLS.
func (b Broker) anyTLS() bool {
	for _, e := range b.Endpoints {
		if e.Transport.Secure() {
			return true
		}
	}
	return b.Transport.Secure()
}
