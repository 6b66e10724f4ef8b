package iot

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/badbroker"
	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/hal"
)

func badTarget(t *testing.T, b badbroker.Behaviour) (target, *badbroker.Broker) {
	t.Helper()
	bb, err := badbroker.Start(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bb.Close() })
	return target{name: "bad", endpoint: tcpEndpoint(t, bb.Addr()), dialer: &hal.NetDialer{}, client: ClientNative}, bb
}

// fastProfile is 3.2.0 with one try per connect, so refusals and
// timeouts show at once.
func fastProfile() *Profile {
	p := profile320
	p.TransportTries, p.ConnectTries = 1, 1
	return &p
}

func constructErr(t *testing.T, tg target, mod func(*Params)) error {
	t.Helper()
	p := Params{Endpoint: tg.endpoint, Dialer: tg.dialer, ClientID: "hostile", CleanSession: true, Client: tg.client, Profile: fastProfile()}
	if mod != nil {
		mod(&p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := Construct(ctx, p)
	if err == nil {
		h.Destroy()
	}
	return err
}

// TestNativeHostileConnect: refusals and peers that are not MQTT end the
// connect at once with their own error, and an announced length beyond
// the maximum packet size is refused before it is allocated.
func TestNativeHostileConnect(t *testing.T) {
	cases := []struct {
		name string
		b    badbroker.Behaviour
		want error
		text string
	}{
		{"connack 5", badbroker.Behaviour{ConnackCode: 5}, ErrNotAuthorized, "not_authorized"},
		{"connack 3", badbroker.Behaviour{ConnackCode: 3}, ErrConnectRefused, "server_unavailable"},
		{"connack 6", badbroker.Behaviour{ConnackCode: 6}, ErrProtocol, "return code 6"},
		{"connack 255", badbroker.Behaviour{ConnackCode: 255}, ErrProtocol, "return code 255"},
		{"http", badbroker.Behaviour{HTTP: true}, ErrNotMQTT, "HTTP/1.1 400"},
		{"garbage", badbroker.Behaviour{Garbage: []byte{0xde, 0xad, 0xbe, 0xef}}, ErrNotMQTT, "de ad be ef"},
		{"no connack", badbroker.Behaviour{NoConnack: true}, ErrConnectTimeout, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, _ := badTarget(t, tc.b)
			start := time.Now()
			err := constructErr(t, tg, func(p *Params) { p.RequestTimeout = time.Second })
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("Construct: %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			if took := time.Since(start); tc.want != ErrConnectTimeout && took > 900*time.Millisecond {
				t.Fatalf("refused after %v: it waited for a timeout", took)
			}
		})
	}
}

// TestNativeOversizedConnack: a CONNACK announcing 256 MiB is refused from
// its fixed header, without allocating it.
func TestNativeOversizedConnack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 256)
				c.Read(buf)                                   // CONNECT
				c.Write([]byte{0x20, 0xff, 0xff, 0xff, 0x7f}) // CONNACK of 268,435,455 bytes
				c.Read(buf)                                   // until the client closes
			}()
		}
	}()
	tg := target{name: "oversized", endpoint: tcpEndpoint(t, ln.Addr().String()), dialer: &hal.NetDialer{}, client: ClientNative}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 20; i++ {
		if err := constructErr(t, tg, nil); !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrPacketTooLarge) {
			t.Fatalf("Construct: %v, want a protocol error", err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("20 oversized CONNACKs allocated %d MB", grew>>20)
	}
}

// TestNativeOversizedPublish: a PUBLISH announcing more than the maximum
// packet size closes the connection with ErrPacketTooLarge and a
// BufferOverflow event, without reading it.
func TestNativeOversizedPublish(t *testing.T) {
	tg, _ := badTarget(t, badbroker.Behaviour{OversizeLength: 64 << 20})
	h, rec := construct(t, tg, "oversize", func(p *Params) { p.NoReconnect = true; p.Profile = fastProfile() })
	yieldUntil(t, h, 5*time.Second, "disconnect", func() bool { return rec.count(EventDisconnect) == 1 })
	if rec.count(EventBufferOverflow) != 1 {
		t.Fatalf("buffer overflow events %d, want 1", rec.count(EventBufferOverflow))
	}
	for _, e := range rec.events {
		if e.Type == EventDisconnect && !errors.Is(e.Err, ErrPacketTooLarge) {
			t.Fatalf("disconnect error %v, want ErrPacketTooLarge", e.Err)
		}
	}
	if h.Stats().BytesIn > 1<<20 {
		t.Fatalf("read %d bytes of an oversized packet", h.Stats().BytesIn)
	}
}

// TestNativeRequestTimeout: a SUBSCRIBE never acknowledged fails with a
// SubscribeTimeout event after the request timeout, and NextDeadline
// says when.
func TestNativeRequestTimeout(t *testing.T) {
	tg, _ := badTarget(t, badbroker.Behaviour{NoSuback: true, NoUnsuback: true})
	h, rec := construct(t, tg, "nosuback", func(p *Params) { p.RequestTimeout = time.Second; p.Profile = fastProfile() })
	start := time.Now()
	if _, err := h.Subscribe("/a/b", QoS1, rec.handler); err != nil {
		t.Fatal(err)
	}
	at, ok := h.NextDeadline()
	if !ok || at.Sub(start) > 1100*time.Millisecond {
		t.Fatalf("next deadline %v (ok %v), want about 1 s", at.Sub(start), ok)
	}
	yieldUntil(t, h, 5*time.Second, "subscribe timeout", func() bool { return rec.count(EventSubscribeTimeout) == 1 })
	if took := time.Since(start); took < 950*time.Millisecond || took > 2*time.Second {
		t.Fatalf("timed out after %v, want the 1 s request timeout", took)
	}
	if _, err := h.Unsubscribe("/a/b"); err != nil {
		t.Fatal(err)
	}
	yieldUntil(t, h, 5*time.Second, "unsubscribe timeout", func() bool { return rec.count(EventUnsubscribeTimeout) == 1 })
}

// TestNativeUnknownAcks: PUBACKs for packet ids never sent are counted
// as the broker's protocol errors; the publish itself is never acked.
func TestNativeUnknownAcks(t *testing.T) {
	tg, _ := badTarget(t, badbroker.Behaviour{UnknownPuback: true})
	h, rec := construct(t, tg, "unknown", func(p *Params) { p.Profile = fastProfile() })
	for i := 0; i < 5; i++ {
		if _, err := h.PublishSimple("/a/b", QoS1, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	yieldUntil(t, h, 5*time.Second, "5 unknown acks", func() bool { return h.Stats().UnknownAcks == 5 })
	if n := rec.count(EventPublishSuccess); n != 0 {
		t.Fatalf("%d publishes acked by acks for other ids", n)
	}
	if st := h.Stats(); st.Inflight != 5 {
		t.Fatalf("inflight %d, want 5", st.Inflight)
	}
}

// TestNativeQoS1Resend: a publish whose PUBACK never comes is resent every
// 2 × request timeout (the SDK's QoS 1 queue), and the queue is bounded.
func TestNativeQoS1Resend(t *testing.T) {
	tg, bb := badTarget(t, badbroker.Behaviour{UnknownPuback: true})
	prof := fastProfile()
	prof.QoS1Queue = 3
	prof.RequestTimeoutMin = 100 * time.Millisecond
	h, _ := construct(t, tg, "resend", func(p *Params) {
		p.RequestTimeout = 500 * time.Millisecond
		p.Profile = prof
	})
	start := time.Now()
	for i := 0; i < 3; i++ {
		if _, err := h.PublishSimple("/a/b", QoS1, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.PublishSimple("/a/b", QoS1, []byte("x")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("4th publish into a queue of 3: %v, want ErrQueueFull", err)
	}
	// Resends at 1 s and 2 s (2 × 500 ms): 3 + 3 + 3 PUBLISH packets.
	yieldUntil(t, h, 5*time.Second, "two rounds of resends", func() bool { return bb.Stats().Published >= 9 })
	if took := time.Since(start); took < 1900*time.Millisecond {
		t.Fatalf("9 PUBLISH packets after %v: resent too early", took)
	}
}

// TestNativePingsEveryInterval: the 3.x policy pings every keepalive
// interval whether or not data flows, and announces twice the interval.
func TestNativePingsEveryInterval(t *testing.T) {
	prof := profile320
	if got := prof.announce(60 * time.Second); got != 120*time.Second {
		t.Fatalf("3.2.0 announces %v for 60 s, want 120 s", got)
	}
	if got := prof.announce(900 * time.Second); got != 1200*time.Second {
		t.Fatalf("3.2.0 announces %v for 900 s, want the 1200 s cap", got)
	}
	if got := profile4x.announce(60*time.Second) / time.Second; got != 1200 {
		t.Fatalf("4.x announces %d s, want 1200", got)
	}
	if got := profile4x.pingPeriod(1200 * time.Second); got != 25*time.Second {
		t.Fatalf("4.x pings every %v, want 25 s", got)
	}
	// On the wire: a 30 s minimum keepalive is too slow for a unit test,
	// so the profile's range is widened; the policy is the profile's.
	prof.KeepAliveMin = 100 * time.Millisecond
	tg := mosquittoTarget(t)
	tg.client = ClientNative
	h, rec := construct(t, tg, "pings", func(p *Params) { p.KeepAlive = 300 * time.Millisecond; p.Profile = &prof })
	out0 := h.Stats().BytesOut
	deadline := time.Now().Add(1600 * time.Millisecond)
	for time.Now().Before(deadline) {
		h.PublishSimple("/pk/pings/user/x", QoS0, []byte("data")) // traffic does not defer pings
		h.Yield(50 * time.Millisecond)
	}
	if rec.count(EventDisconnect) != 0 {
		t.Fatal("disconnected while pinging")
	}
	// 1.6 s / 300 ms = 5 pings beside the publishes.
	if sent := h.Stats().BytesOut - out0; sent <= 0 {
		t.Fatal("nothing written")
	}
	if n := countPings(t, h); n < 4 || n > 6 {
		t.Fatalf("%d pings in 1.6 s at a 300 ms interval, want 5", n)
	}
}

// countPings reads how many PINGREQs the native session sent (its probe
// bookkeeping resets on every packet, so count from the ping schedule).
func countPings(t *testing.T, h *Handle) int {
	t.Helper()
	s, ok := h.s.(*nativeHandle)
	if !ok {
		t.Fatal("not a native session")
	}
	return s.pings
}

// TestNativeMQTT5: a 5.0 session against mosquitto and the embedded
// broker: round trips at every QoS, user properties and topic aliases on
// publish, and a broker's maximum packet size honoured.
func TestNativeMQTT5(t *testing.T) {
	mq := mosquitto.Start(t, mosquitto.Options{ExtraConfig: "max_topic_alias 10\n"})
	tgs := []target{{name: "mosquitto", endpoint: tcpEndpoint(t, mq.Addr()), dialer: &hal.NetDialer{}, client: ClientNative}}
	for _, e := range embeddedTargets(t) {
		e.client = ClientNative
		tgs = append(tgs, e)
	}
	for _, tg := range tgs {
		for _, qos := range []QoS{QoS0, QoS1, QoS2} {
			t.Run(tg.name+"/qos"+string(rune('0'+qos)), func(t *testing.T) {
				id := "v5-" + tg.name + string(rune('0'+qos))
				h, rec := construct(t, tg, id, func(p *Params) {
					p.Version = MQTT5
					p.MQTT5 = MQTT5Options{TopicAliases: true, UserProperties: []UserProperty{{"fleet", "bench"}}, SessionExpiry: time.Minute, ReceiveMaximum: 50}
				})
				topic := "/pk/" + id + "/user/get"
				got := &recorder{}
				if _, err := h.SubscribeSync(topic, qos, got.handler, 5*time.Second); err != nil {
					t.Fatal(err)
				}
				const n = 8
				for i := 0; i < n; i++ {
					if _, err := h.PublishSimple(topic, qos, []byte("v5 payload")); err != nil {
						t.Fatal(err)
					}
				}
				yieldUntil(t, h, 10*time.Second, "deliveries", func() bool { return got.received() == n })
				if qos > 0 {
					yieldUntil(t, h, 10*time.Second, "acks", func() bool { return rec.count(EventPublishSuccess) == n })
				}
				for _, m := range got.msgs {
					if m.Topic != topic {
						t.Fatalf("delivered on %q, want %q", m.Topic, topic)
					}
				}
			})
		}
	}
}

// TestNativeMQTT5MaxPacketSize: the broker's Maximum Packet Size from
// CONNACK bounds what the session sends.
func TestNativeMQTT5MaxPacketSize(t *testing.T) {
	mq := mosquitto.Start(t, mosquitto.Options{ExtraConfig: "max_packet_size 200\n"})
	tg := target{name: "mosquitto", endpoint: tcpEndpoint(t, mq.Addr()), dialer: &hal.NetDialer{}, client: ClientNative}
	h, _ := construct(t, tg, "v5-max", func(p *Params) { p.Version = MQTT5 })
	if _, err := h.PublishSimple("/pk/v5-max/user/get", QoS1, make([]byte, 100)); err != nil {
		t.Fatalf("a 100-byte publish: %v", err)
	}
	if _, err := h.PublishSimple("/pk/v5-max/user/get", QoS1, make([]byte, 300)); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("a 300-byte publish to a broker of 200: %v, want ErrPacketTooLarge", err)
	}
}
