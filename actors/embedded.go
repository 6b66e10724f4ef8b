package actors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// Embedded is the embedded broker as the run sees it: one address that
// outlives restarts (broker_outage), in-memory connections routed to the
// current instance, and counters summed over every instance.
type Embedded struct {
	opts broker.Options
	mu   sync.Mutex
	cur  *broker.Broker // nil while stopped
	past []broker.Stats // counters of stopped instances
	addr string
}

func startEmbeddedBroker(ctx context.Context, opts broker.Options) (*Embedded, error) {
	e := &Embedded{opts: opts}
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	e.addr = e.cur.Addr()
	e.opts.Addr = e.addr // restarts listen on the same port
	return e, nil
}

func (e *Embedded) start(ctx context.Context) error {
	b, err := broker.New(e.opts)
	if err != nil {
		return fmt.Errorf("actors: embedded broker: %w", err)
	}
	// The broker lives until the run closes it, not until ctx ends: an
	// interrupted run still drains through it.
	if err := b.Start(context.WithoutCancel(ctx)); err != nil {
		return errors.Join(fmt.Errorf("actors: embedded broker: %w", err), b.Close())
	}
	e.mu.Lock()
	e.cur = b
	e.mu.Unlock()
	return nil
}

// StopBroker implements BrokerControl: every connection drops.
func (e *Embedded) StopBroker() error {
	e.mu.Lock()
	b := e.cur
	e.cur = nil
	e.mu.Unlock()
	if b == nil {
		return nil
	}
	err := b.Close()
	e.mu.Lock()
	e.past = append(e.past, b.Stats())
	e.mu.Unlock()
	return err
}

// StartBroker implements BrokerControl.
func (e *Embedded) StartBroker() error {
	e.mu.Lock()
	running := e.cur != nil
	e.mu.Unlock()
	if running {
		return nil
	}
	return e.start(context.Background())
}

// AcceptConn implements hal.ConnAcceptor for the in-memory transport.
func (e *Embedded) AcceptConn(c net.Conn) error {
	e.mu.Lock()
	b := e.cur
	e.mu.Unlock()
	if b == nil {
		return broker.ErrClosed
	}
	return b.AcceptConn(c)
}

// Port is the TCP port devices connect to.
func (e *Embedded) Port() int {
	_, p, _ := net.SplitHostPort(e.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// Broker returns the running instance (nil while stopped).
func (e *Embedded) Broker() *broker.Broker {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// Close stops the broker for good.
func (e *Embedded) Close() error { return e.StopBroker() }

// stats sums the counters of every instance the run used.
func (e *Embedded) stats() *metrics.BrokerStats {
	e.mu.Lock()
	all := append([]broker.Stats(nil), e.past...)
	if e.cur != nil {
		all = append(all, e.cur.Stats())
	}
	e.mu.Unlock()
	out := &metrics.BrokerStats{}
	for _, s := range all {
		out.MessagesReceived += s.MessagesReceived
		out.MessagesSent += s.MessagesSent
		out.MessagesDropped += s.MessagesDropped
		out.InflightDropped += s.InflightDropped
		out.QosDropped += s.QosDropped
		out.ClientsMaximum = max(out.ClientsMaximum, s.ClientsMaximum)
		out.Refused += s.Refused()
		out.PublishDenied += s.PublishDenied
		out.SubscribeDenied += s.SubscribeDenied
	}
	return out
}
