package badbroker

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// idleTimeout closes a connection that sends nothing for this long.
	idleTimeout = 60 * time.Second
	// writeTimeout closes a connection whose peer does not take a packet in time.
	writeTimeout = 10 * time.Second
	// lingerTimeout bounds the wait for the peer's close after the broker
	// has written its last bytes (HTTP mode, unsupported protocol version).
	lingerTimeout = 5 * time.Second
	// maxRemaining is the largest remaining length the broker reads.
	maxRemaining = 1 << 20
)

// Behaviour says how the broker misbehaves. The zero value is a correct,
// minimal MQTT 3.1.1 broker (see the package comment). Fields may be
// combined; the connection-level ones are checked in the order HTTP,
// NoConnack, Garbage, ConnackCode, OversizeLength.
type Behaviour struct {
	// ConnackCode, when non-zero, is the return code of every CONNACK
	// (e.g. 5 not authorized, or 6..255 which MQTT 3.1.1 does not define).
	// The broker keeps the connection open after a non-zero code and goes
	// on serving it as if it had been accepted, so a client that wrongly
	// treats the code as success is visibly connected.
	ConnackCode byte
	// NoConnack reads CONNECT and never answers; the broker keeps reading
	// (and ignoring) bytes until the client closes the connection.
	NoConnack bool
	// HTTP answers the first bytes of every connection as an HTTP server
	// answers garbage: it writes "HTTP/1.1 400 Bad Request\r\nContent-Type:
	// text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	// and closes the connection.
	HTTP bool
	// Garbage, when not empty, is written raw after CONNECT instead of a
	// CONNACK; the broker then keeps reading (and ignoring) bytes until the
	// client closes the connection.
	Garbage []byte
	// NoSuback never answers SUBSCRIBE; the subscription still takes
	// effect, as if the SUBACK had been lost.
	NoSuback bool
	// NoUnsuback never answers UNSUBSCRIBE; the unsubscription still takes
	// effect.
	NoUnsuback bool
	// GrantQoS, when not nil, is the return code of every filter of every
	// SUBACK instead of the requested QoS. 0x80 (or any value from 0x80
	// up) is a refusal and the filter is not subscribed; other values are
	// sent as they are and deliveries use at most QoS 2.
	GrantQoS *byte
	// DeliverQoS, when not nil, is the QoS of every delivery to a
	// subscriber (e.g. 0 on a QoS 1 subscription), whatever the granted and
	// published QoS. Values above 2 make malformed PUBLISH packets.
	DeliverQoS *byte
	// DropEvery, when > 0, silently drops every n-th delivery (counting
	// deliveries to subscribers broker-wide, 1-based: n, 2n, …; foreign
	// messages and redeliveries are not counted). The publisher still gets
	// its PUBACK.
	DropEvery int
	// ForeignEvery, when > 0, after every n-th message delivered (to at
	// least one subscriber) also sends each subscriber of that topic an
	// extra PUBLISH on the same topic whose payload is not a fleetbench
	// stamp: "foreign-<k>" in plain ASCII, k counting foreign messages
	// broker-wide from 1, at the QoS granted to the subscription (at most 2).
	ForeignEvery int
	// RedeliverAfter, when > 0: right after the RedeliverAfter-th delivery
	// to a given subscriber, the broker delivers once more, as a fresh
	// PUBLISH (DUP clear, same topic, payload and QoS, new packet id), the
	// first message it ever delivered to that subscriber: an old duplicate.
	// This happens once per connection.
	RedeliverAfter int
	// OversizeLength, when > 0, makes the broker send, right after the
	// CONNACK, a PUBLISH fixed header announcing this remaining length
	// (e.g. 256<<20, which even needs a fifth length byte) followed by a few
	// bytes only; it then keeps the connection open, reading and ignoring
	// bytes, until the client closes it.
	OversizeLength int
	// UnknownPuback answers each QoS 1 PUBLISH with a PUBACK for packet id
	// id+1000 (modulo 65536) instead of id.
	UnknownPuback bool
}

// Stats is what a broker did, counted exactly. Each PUBLISH the broker sends
// is counted just before it is written (so a client that has read it sees it
// counted) and uncounted if the write fails. Fields are read one by one, so a
// Stats taken while traffic flows is not a consistent snapshot across fields.
type Stats struct {
	// Connects counts CONNECT packets read.
	Connects int64
	// Subscribes counts SUBSCRIBE packets read, answered or not.
	Subscribes int64
	// Published counts PUBLISH packets received from clients, duplicates
	// included.
	Published int64
	// Delivered counts PUBLISH packets sent to subscribers for received
	// messages; drops, foreign messages and redeliveries are excluded.
	Delivered int64
	// Dropped counts deliveries dropped by DropEvery.
	Dropped int64
	// Foreign counts foreign PUBLISH packets sent (ForeignEvery).
	Foreign int64
	// Redelivered counts old duplicates sent (RedeliverAfter).
	Redelivered int64
}

// Broker is a running bad broker on a loopback TCP port.
type Broker struct {
	beh  Behaviour
	ln   net.Listener
	wg   sync.WaitGroup
	done chan struct{}

	connsMu sync.Mutex // guards conns and closed
	conns   map[*conn]struct{}
	closed  bool

	// routeMu guards the subscriptions and delivery state of every
	// connection and the broker-wide counters below; it is held while a
	// message is written to its subscribers, so routing is serial.
	routeMu     sync.Mutex
	subscribers []*conn // connections with subscriptions, in subscription order
	attempts    int     // deliveries decided, for DropEvery
	routed      int     // messages delivered to at least one subscriber, for ForeignEvery
	foreignSeq  int     // foreign messages sent, for their payloads

	connects, subscribes, published, delivered, dropped, foreign, redelivered atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// Start listens on 127.0.0.1:0 and serves b until Close. It fails only if it
// cannot listen.
func Start(b Behaviour) (*Broker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	br := &Broker{beh: b, ln: ln, done: make(chan struct{}), conns: make(map[*conn]struct{})}
	br.wg.Add(1)
	go br.accept()
	return br, nil
}

// Addr returns the listening address, "127.0.0.1:PORT".
func (b *Broker) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port()))
}

// Port returns the listening port.
func (b *Broker) Port() int {
	return b.ln.Addr().(*net.TCPAddr).Port
}

// Close stops listening, closes every connection and waits for every
// goroutine of the broker to end. Calling it again only waits.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closeErr = b.ln.Close()
		close(b.done)
		b.connsMu.Lock()
		b.closed = true
		for c := range b.conns {
			c.nc.Close()
		}
		b.connsMu.Unlock()
	})
	b.wg.Wait()
	return b.closeErr
}

// Stats returns what the broker has done so far.
func (b *Broker) Stats() Stats {
	return Stats{
		Connects:    b.connects.Load(),
		Subscribes:  b.subscribes.Load(),
		Published:   b.published.Load(),
		Delivered:   b.delivered.Load(),
		Dropped:     b.dropped.Load(),
		Foreign:     b.foreign.Load(),
		Redelivered: b.redelivered.Load(),
	}
}

// accept serves new connections until the listener is closed.
func (b *Broker) accept() {
	defer b.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: retry after a pause.
			t := time.NewTimer(backoff)
			select {
			case <-b.done:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		c := newConn(b, nc)
		b.connsMu.Lock()
		if b.closed {
			b.connsMu.Unlock()
			nc.Close()
			continue
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.connsMu.Unlock()
		go c.serve()
	}
}

// remove forgets c: its subscriptions and its place among the connections.
func (b *Broker) remove(c *conn) {
	c.nc.Close()
	b.routeMu.Lock()
	c.subs = nil
	for i, s := range b.subscribers {
		if s == c {
			b.subscribers = append(b.subscribers[:i], b.subscribers[i+1:]...)
			break
		}
	}
	b.routeMu.Unlock()
	b.connsMu.Lock()
	delete(b.conns, c)
	b.connsMu.Unlock()
}
