package iot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/hal"
)

// target is a broker a test runs against.
type target struct {
	name     string
	endpoint hal.Endpoint
	dialer   hal.Dialer
	client   string // ClientNative or ClientPaho
}

// clients are the implementations every conformance test runs on.
var clients = []string{ClientNative, ClientPaho}

// onClients returns one copy of each target per client, named
// "<client>/<target>".
func onClients(ts []target) []target {
	var out []target
	for _, c := range clients {
		for _, tg := range ts {
			tg.client = c
			tg.name = c + "/" + tg.name
			out = append(out, tg)
		}
	}
	return out
}

func tcpEndpoint(t testing.TB, addr string) hal.Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return hal.Endpoint{Transport: hal.TCP, Host: host, Port: uint16(p)}
}

func mosquittoTarget(t testing.TB) target {
	b := mosquitto.Start(t, mosquitto.Options{})
	return target{name: "mosquitto", endpoint: tcpEndpoint(t, b.Addr()), dialer: &hal.NetDialer{}}
}

// targets returns every broker the round-trip tests run against: the
// embedded broker over TCP and in memory, and mosquitto.
func targets(t *testing.T) []target {
	t.Helper()
	return onClients(append(embeddedTargets(t), mosquittoTarget(t)))
}

// recorder collects events delivered by Yield.
type recorder struct {
	mu     sync.Mutex
	events []Event
	msgs   []TopicInfo
}

func (r *recorder) handler(_ *Handle, ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Type == EventPublishReceived {
		m := *ev.Message
		m.Payload = bytes.Clone(m.Payload)
		r.msgs = append(r.msgs, m)
		return
	}
	r.events = append(r.events, *ev)
}

func (r *recorder) count(typ EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func (r *recorder) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// yieldUntil yields until cond holds or the timeout passes.
func yieldUntil(t *testing.T, h *Handle, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		if err := h.Yield(20 * time.Millisecond); err != nil {
			t.Fatalf("Yield: %v", err)
		}
	}
}

func construct(t *testing.T, tg target, id string, mod func(*Params)) (*Handle, *recorder) {
	t.Helper()
	rec := &recorder{}
	p := Params{Endpoint: tg.endpoint, Dialer: tg.dialer, ClientID: id, CleanSession: true, EventHandler: rec.handler, Client: tg.client}
	if mod != nil {
		mod(&p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := Construct(ctx, p)
	if err != nil {
		t.Fatalf("Construct on %s: %v", tg.name, err)
	}
	t.Cleanup(func() { h.Destroy() })
	return h, rec
}

func TestRoundTrip(t *testing.T) {
	for _, tg := range targets(t) {
		for _, qos := range []QoS{QoS0, QoS1, QoS2} {
			t.Run(fmt.Sprintf("%s/qos%d", tg.name, qos), func(t *testing.T) { testRoundTrip(t, tg, qos) })
		}
	}
}

// testRoundTrip publishes 20 messages at qos to a subscription of the same
// handle and checks that each arrives once, in order, and is acknowledged.
func testRoundTrip(t *testing.T, tg target, qos QoS) {
	id := fmt.Sprintf("rt-%s-%d", tg.name, qos)
	h, rec := construct(t, tg, id, nil)
	if !h.CheckStateNormal() {
		t.Fatal("CheckStateNormal = false after Construct")
	}
	topic := "/pk/" + id + "/user/get"
	var handled atomic.Int64
	var lastArrived time.Time
	sub := &recorder{}
	if _, err := h.SubscribeSync(topic, qos, func(h *Handle, ev *Event) {
		handled.Add(1)
		if ev.Message.Arrived.IsZero() || ev.Message.Arrived.After(time.Now()) {
			t.Errorf("arrival stamp %v is not a past time", ev.Message.Arrived)
		}
		lastArrived = ev.Message.Arrived
		sub.handler(h, ev)
	}, 5*time.Second); err != nil {
		t.Fatalf("SubscribeSync: %v", err)
	}
	if rec.count(EventSubscribeSuccess) != 1 {
		t.Fatalf("subscribe_success events = %d, want 1", rec.count(EventSubscribeSuccess))
	}
	const n = 20
	sent := time.Now()
	for i := 0; i < n; i++ {
		pid, err := h.Publish(topic, &TopicInfo{QoS: qos, Payload: []byte("msg-" + strconv.Itoa(i))})
		if errors.Is(err, ErrQueueFull) {
			// The SDK's QoS 1 queue (10 on 3.2.0): wait for an ack.
			acked := rec.count(EventPublishSuccess)
			yieldUntil(t, h, 5*time.Second, "an ack", func() bool { return rec.count(EventPublishSuccess) > acked })
			pid, err = h.Publish(topic, &TopicInfo{QoS: qos, Payload: []byte("msg-" + strconv.Itoa(i))})
		}
		if err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		if (qos == QoS0) != (pid == 0) {
			t.Fatalf("Publish QoS %d returned packet id %d", qos, pid)
		}
	}
	yieldUntil(t, h, 10*time.Second, "all messages", func() bool { return sub.received() == n })
	if qos > QoS0 {
		yieldUntil(t, h, 10*time.Second, "all acks", func() bool { return rec.count(EventPublishSuccess) == n })
	}
	// Nothing more arrives: no duplicates.
	h.Yield(100 * time.Millisecond)
	if got := sub.received(); got != n {
		t.Fatalf("received %d messages, want %d", got, n)
	}
	for i, m := range sub.msgs {
		if want := "msg-" + strconv.Itoa(i); string(m.Payload) != want || m.Topic != topic || m.QoS != qos {
			t.Fatalf("message %d = %q on %q QoS %d, want %q on %q QoS %d", i, m.Payload, m.Topic, m.QoS, want, topic, qos)
		}
	}
	for _, e := range rec.events {
		if e.Type != EventPublishSuccess {
			continue
		}
		if e.QoS != qos || e.Sent.Before(sent) || e.At.Before(e.Sent) || e.Latency() <= 0 || e.Latency() > 10*time.Second {
			t.Fatalf("publish_success %d: sent %v at %v latency %v", e.PacketID, e.Sent, e.At, e.Latency())
		}
	}
	if qos == QoS0 && rec.count(EventPublishSuccess) != 0 {
		t.Fatal("QoS 0 publish produced publish_success events")
	}
	if st := h.Stats(); st.Inflight != 0 || st.BytesIn == 0 || st.BytesOut == 0 || st.ArrivalMisses != 0 {
		t.Fatalf("stats after the run: %+v", st)
	}
	_ = lastArrived
	if err := h.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := h.Destroy(); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("second Destroy = %v, want ErrDestroyed", err)
	}
	if _, err := h.PublishSimple(topic, qos, []byte("x")); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Publish after Destroy = %v", err)
	}
}

func TestWildcardParentAndUnsubscribe(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			h, _ := construct(t, tg, "wild-"+tg.name, nil)
			base := "/pk/wild-" + tg.name
			wild, exact := &recorder{}, &recorder{}
			if _, err := h.SubscribeSync(base+"/#", QoS1, wild.handler, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := h.SubscribeSync(base+"/user/get", QoS1, exact.handler, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			// "/a/#" matches "/a" (MQTT 3.1.1), and both handlers see a message
			// that both filters match.
			h.PublishSimple(base, QoS1, []byte("parent"))
			h.PublishSimple(base+"/user/get", QoS1, []byte("both"))
			yieldUntil(t, h, 5*time.Second, "wildcard deliveries", func() bool { return wild.received() == 2 && exact.received() == 1 })
			if string(wild.msgs[0].Payload) != "parent" {
				t.Fatalf("wildcard got %q first", wild.msgs[0].Payload)
			}
			rec := &recorder{}
			setEventHandler(h, rec.handler)
			if _, err := h.Unsubscribe(base + "/user/get"); err != nil {
				t.Fatal(err)
			}
			yieldUntil(t, h, 5*time.Second, "unsuback", func() bool { return rec.count(EventUnsubscribeSuccess) == 1 })
			if _, err := h.Unsubscribe(base + "/#"); err != nil {
				t.Fatal(err)
			}
			yieldUntil(t, h, 5*time.Second, "unsuback", func() bool { return rec.count(EventUnsubscribeSuccess) == 2 })
			h.PublishSimple(base+"/user/get", QoS1, []byte("after"))
			yieldUntil(t, h, 5*time.Second, "puback", func() bool { return rec.count(EventPublishSuccess) == 1 })
			h.Yield(200 * time.Millisecond)
			if wild.received() != 2 || exact.received() != 1 || rec.received() != 0 {
				t.Fatalf("delivery after unsubscribe: wildcard %d, exact %d, default %d", wild.received(), exact.received(), rec.received())
			}
		})
	}
}

func TestOnReadyHook(t *testing.T) {
	tg := mosquittoTarget(t)
	ready := make(chan struct{}, 64)
	h, rec := construct(t, tg, "ready", func(p *Params) {
		p.OnReady = func() { ready <- struct{}{} }
	})
	topic := "/pk/ready/user/get"
	got := &recorder{}
	if _, err := h.Subscribe(topic, QoS1, got.handler); err != nil {
		t.Fatal(err)
	}
	// Drive the handle only from the hook, never by polling.
	deadline := time.After(10 * time.Second)
	published := false
	for got.received() < 1 || rec.count(EventPublishSuccess) < 1 {
		select {
		case <-ready:
			if err := h.Yield(0); err != nil {
				t.Fatal(err)
			}
			if !published && rec.count(EventSubscribeSuccess) == 1 {
				published = true
				if _, err := h.PublishSimple(topic, QoS1, []byte("hi")); err != nil {
					t.Fatal(err)
				}
			}
		case <-deadline:
			t.Fatalf("hook-driven delivery incomplete: received %d, acks %d", got.received(), rec.count(EventPublishSuccess))
		}
	}
}

// failingDialer fails the first n attempts, recording when each came.
type failingDialer struct {
	mu       sync.Mutex
	failures int
	attempts []time.Time
	next     hal.Dialer
}

func (d *failingDialer) Establish(ctx context.Context, ep hal.Endpoint) (net.Conn, error) {
	d.mu.Lock()
	d.attempts = append(d.attempts, time.Now())
	fail := len(d.attempts) > 1 && len(d.attempts) <= 1+d.failures
	d.mu.Unlock()
	if fail {
		return nil, errors.New("injected connect failure")
	}
	return d.next.Establish(ctx, ep)
}

func (d *failingDialer) times() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Time(nil), d.attempts...)
}

// kickableDialer lets a test cut the current connection.
type kickableDialer struct {
	failingDialer
	cmu  sync.Mutex
	conn net.Conn
}

func (d *kickableDialer) Establish(ctx context.Context, ep hal.Endpoint) (net.Conn, error) {
	c, err := d.failingDialer.Establish(ctx, ep)
	if err == nil {
		d.cmu.Lock()
		d.conn = c
		d.cmu.Unlock()
	}
	return c, err
}

// cut shuts the connection down as a peer reset would: paho ignores read
// errors on a connection closed locally (it takes them for its own
// Disconnect), so the test shuts both directions instead of closing.
func (d *kickableDialer) cut() {
	d.cmu.Lock()
	defer d.cmu.Unlock()
	tc := d.conn.(*net.TCPConn)
	tc.CloseWrite()
	tc.CloseRead()
}

// TestReconnectBackoff checks the doubling backoff on a scaled-down
// schedule (50 ms doubling to 200 ms) with injected connect failures, on
// both clients (the native one with one transport try per attempt, so
// that every dial is an attempt).
func TestReconnectBackoff(t *testing.T) {
	for _, client := range clients {
		t.Run(client, func(t *testing.T) {
			tg := mosquittoTarget(t)
			tg.client = client
			d := &kickableDialer{failingDialer: failingDialer{failures: 5, next: tg.dialer}}
			tg.dialer = d
			prof := profile320
			prof.TransportTries, prof.ConnectTries = 1, 1
			h, rec := construct(t, tg, "backoff", func(p *Params) {
				p.ReconnectMin, p.ReconnectMax = 50*time.Millisecond, 200*time.Millisecond
				p.Profile = &prof
			})
			lost := time.Now()
			d.cut()
			yieldUntil(t, h, 10*time.Second, "reconnect", func() bool { return rec.count(EventReconnect) == 1 })
			if rec.count(EventDisconnect) != 1 {
				t.Fatalf("disconnect events = %d", rec.count(EventDisconnect))
			}
			at := d.times()[1:]
			if len(at) != 6 {
				t.Fatalf("%d reconnect attempts, want 6 (5 failures + success)", len(at))
			}
			want := []time.Duration{50, 100, 200, 200, 200, 200}
			prev := lost
			for i, a := range at {
				gap := a.Sub(prev)
				w := want[i] * time.Millisecond
				if gap < w-5*time.Millisecond || gap > w+150*time.Millisecond {
					t.Errorf("attempt %d came %v after the previous, want about %v", i+1, gap, w)
				}
				prev = a
			}
			if !h.CheckStateNormal() {
				t.Fatal("not connected after Reconnect event")
			}
		})
	}
}

// restartable is a broker a test can stop and start again on the same address.
type restartable struct {
	target
	stop, start func()
}

func restartables(t *testing.T) []restartable {
	b := mosquitto.Start(t, mosquitto.Options{})
	m := restartable{
		target: target{name: "mosquitto", endpoint: tcpEndpoint(t, b.Addr()), dialer: &hal.NetDialer{}},
		stop:   b.Kill,
		start:  b.Restart,
	}
	var out []restartable
	for _, c := range clients {
		for _, r := range append(embeddedRestartables(t), m) {
			r.client, r.name = c, c+"/"+r.name
			out = append(out, r)
		}
	}
	return out
}

// TestBrokerRestart stops the broker under a connected handle and starts it
// again 1.5 s later: the handle reports Disconnect, retries on the SDK's
// default backoff, reports Reconnect, subscribes again (clean session) and
// receives again. The native session reconnects as the SDK does: the
// first attempt 1 s after the loss, whose transport is tried again 1 s
// later (HAL_TCP_Establish's 3 tries); paho makes one try per attempt, on
// the 1 s, 2 s backoff.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: restarts mosquitto and waits out the reconnect backoff")
	}
	for _, rb := range restartables(t) {
		t.Run(rb.name, func(t *testing.T) {
			d := &failingDialer{next: rb.dialer}
			rb.dialer = d
			h, rec := construct(t, rb.target, "restart-"+rb.name, nil)
			topic := "/pk/restart-" + rb.name + "/user/get"
			got := &recorder{}
			if _, err := h.SubscribeSync(topic, QoS1, got.handler, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			rb.stop()
			stopped := time.Now()
			yieldUntil(t, h, 10*time.Second, "disconnect", func() bool { return rec.count(EventDisconnect) == 1 })
			if h.CheckStateNormal() {
				t.Fatal("CheckStateNormal = true after the broker stopped")
			}
			if _, err := h.PublishSimple(topic, QoS1, []byte("x")); !errors.Is(err, ErrOffline) {
				t.Fatalf("Publish while offline = %v, want ErrOffline", err)
			}
			// Keep yielding meanwhile: the native session reconnects inside
			// Yield, as the SDK does.
			for time.Now().Before(stopped.Add(1500 * time.Millisecond)) {
				h.Yield(min(20*time.Millisecond, time.Until(stopped.Add(1500*time.Millisecond))))
			}
			rb.start()
			yieldUntil(t, h, 15*time.Second, "reconnect", func() bool { return rec.count(EventReconnect) == 1 })
			took := time.Since(stopped)
			at := d.times()
			// Initial connect, a failed try 1 s after the loss, a
			// successful one 1 s (native: transport retry) or 2 s (paho:
			// backoff) after that.
			gapWant, tookWant := 2*time.Second, 3*time.Second
			if rb.client == ClientNative {
				gapWant, tookWant = time.Second, 2*time.Second
			}
			if len(at) != 3 {
				t.Fatalf("%d connection attempts, want 3: %v", len(at), at)
			}
			if gap := at[2].Sub(at[1]); gap < gapWant-100*time.Millisecond || gap > gapWant+600*time.Millisecond {
				t.Fatalf("second reconnect attempt %v after the first, want %v", gap, gapWant)
			}
			if took < tookWant-200*time.Millisecond || took > tookWant+1500*time.Millisecond {
				t.Fatalf("reconnected %v after the stop, want about %v", took, tookWant)
			}
			yieldUntil(t, h, 5*time.Second, "resubscribe", func() bool { return rec.count(EventSubscribeSuccess) == 2 })
			if _, err := h.PublishSimple(topic, QoS1, []byte("back")); err != nil {
				t.Fatal(err)
			}
			yieldUntil(t, h, 5*time.Second, "delivery after reconnect", func() bool { return got.received() == 1 })
		})
	}
}

// setEventHandler replaces the event handler of a constructed handle.
func setEventHandler(h *Handle, fn Handler) {
	switch s := h.s.(type) {
	case *pahoHandle:
		s.p.EventHandler = fn
	case *nativeHandle:
		s.p.EventHandler = fn
	}
}
