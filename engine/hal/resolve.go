package hal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Resolver looks up the IP addresses of a host name. *net.Resolver
// implements it; NetDialer uses net.DefaultResolver unless given another
// (tests give one that answers without DNS).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DefaultRefreshInterval is the shortest time between two look-ups of one
// host name by a NetDialer whose RefreshInterval is zero.
const DefaultRefreshInterval = 5 * time.Second

// hostCache holds the resolved addresses of the host names a NetDialer has
// dialed, for the dialer's lifetime.
type hostCache struct {
	mu sync.Mutex
	m  map[string]*hostAddrs
}

// entry returns the cache entry of host, creating an empty one.
func (c *hostCache) entry(host string) *hostAddrs {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[host]
	if e == nil {
		if c.m == nil {
			c.m = make(map[string]*hostAddrs)
		}
		e = &hostAddrs{}
		c.m[host] = e
	}
	return e
}

// hostAddrs is what one host name resolved to. gen counts the look-ups
// done: a dialer that failed on the addresses of generation g asks for a
// newer one, and of many devices that fail together only the first looks
// the name up again; the others wait for its answer.
type hostAddrs struct {
	mu       sync.Mutex
	inflight chan struct{} // closed when the look-up in progress ends; nil when none is
	addrs    []netip.Addr  // never modified once published: a new look-up stores a new slice
	err      error         // the last look-up's error when it found no addresses and none were known
	gen      uint64        // look-ups completed
	at       time.Time     // when the last look-up started
	next     atomic.Uint64 // rotates the first address tried over the devices
}

func (d *NetDialer) now() time.Time {
	if d.Clock != nil {
		return d.Clock.Now()
	}
	return time.Now()
}

func (d *NetDialer) refreshInterval() time.Duration {
	if d.RefreshInterval > 0 {
		return d.RefreshInterval
	}
	return DefaultRefreshInterval
}

func (d *NetDialer) resolver() Resolver {
	if d.Resolver != nil {
		return d.Resolver
	}
	return net.DefaultResolver
}

// lookup returns the addresses of host and their generation. With stale 0
// it returns the cached answer, looking host up only if it never was (or
// the last look-up failed and the refresh interval has passed). With the
// generation of addresses that all failed to connect it returns a newer
// answer: one that another device got meanwhile, or a new look-up if the
// last one is older than the refresh interval; otherwise the same answer
// again. Concurrent callers share one look-up.
func (d *NetDialer) lookup(ctx context.Context, host string, stale uint64) ([]netip.Addr, uint64, error) {
	e := d.hosts.entry(host)
	e.mu.Lock()
	for e.inflight != nil {
		ch := e.inflight
		e.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("hal: resolve %s: %w", host, context.Cause(ctx))
		}
		e.mu.Lock()
	}
	want := e.gen == 0 || e.gen == stale || len(e.addrs) == 0
	if !want || e.gen > 0 && d.now().Sub(e.at) < d.refreshInterval() {
		addrs, gen, err := e.addrs, e.gen, e.err
		e.mu.Unlock()
		return addrs, gen, err
	}
	ch := make(chan struct{})
	e.inflight, e.at = ch, d.now()
	e.mu.Unlock()

	// The look-up serves every device waiting for it: it is not cut short
	// when the device that started it gives up.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout())
	found, err := d.resolver().LookupNetIP(lctx, "ip", host)
	cancel()
	addrs := make([]netip.Addr, 0, len(found))
	for _, a := range found {
		if a = a.Unmap(); a.IsValid() && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err == nil:
		e.addrs, e.err = addrs, nil
	case len(e.addrs) == 0:
		e.err = fmt.Errorf("hal: resolve %s: %w", host, err)
	}
	// A failed refresh keeps the addresses known before: the broker may
	// come back on them.
	e.gen++
	e.inflight = nil
	close(ch)
	return e.addrs, e.gen, e.err
}

// dialHost connects to host (a name, not an IP literal) on port: it dials
// the cached addresses of host and, when every one fails with a network
// error, looks the name up again (at most once per refresh interval per
// host, however many devices fail) and dials the new addresses if they
// differ.
func (d *NetDialer) dialHost(ctx context.Context, nd *net.Dialer, host string, port uint16) (net.Conn, error) {
	addrs, gen, err := d.lookup(ctx, host, 0)
	if err != nil {
		return nil, err
	}
	c, err := d.dialAddrs(ctx, nd, host, addrs, port)
	if err == nil || errors.Is(ctx.Err(), context.Canceled) || !isNetError(err) {
		return c, err
	}
	// Even when the deadline has passed the look-up is worth doing: the
	// device's next attempt dials what it finds.
	fresh, fgen, ferr := d.lookup(context.WithoutCancel(ctx), host, gen)
	if ferr != nil || fgen == gen || slices.Equal(fresh, addrs) || ctx.Err() != nil {
		return nil, err
	}
	return d.dialAddrs(ctx, nd, host, fresh, port)
}

// dialAddrs dials addrs one after another, starting at the next address in
// rotation so that devices spread over the addresses of a name the way
// per-device look-ups of a round-robin DNS name would. Each attempt gets
// an equal share of the time left, as net.Dialer does.
func (d *NetDialer) dialAddrs(ctx context.Context, nd *net.Dialer, host string, addrs []netip.Addr, port uint16) (net.Conn, error) {
	if nd.LocalAddr != nil {
		addrs = sameFamily(addrs, nd.LocalAddr.(*net.TCPAddr).IP.To4() != nil)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("hal: %s has no address of the source address's family", host)
	}
	first := int(d.hosts.entry(host).next.Add(1)-1) % len(addrs)
	var firstErr error
	for k := range addrs {
		a := addrs[(first+k)%len(addrs)]
		actx, cancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok && len(addrs)-k > 1 {
			share := time.Until(dl) / time.Duration(len(addrs)-k)
			actx, cancel = context.WithTimeout(ctx, max(share, 2*time.Second))
		}
		c, err := nd.DialContext(actx, "tcp", netip.AddrPortFrom(a, port).String())
		cancel()
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// sameFamily returns the IPv4 (v4) or IPv6 addresses of addrs, or addrs
// itself when it has none of that family.
func sameFamily(addrs []netip.Addr, v4 bool) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if a.Is4() == v4 {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return addrs
	}
	return out
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}
