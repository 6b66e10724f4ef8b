package iot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/devsign"
	"github.com/fleetbench/fleetbench/engine/hal"
)

func startEmbedded(t testing.TB, opts broker.Options) *broker.Broker {
	t.Helper()
	b, err := broker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// embeddedTargets are the embedded broker over TCP loopback and over the
// in-memory transport.
func embeddedTargets(t *testing.T) []target {
	b := startEmbedded(t, broker.Options{})
	return []target{
		{name: "embedded-tcp", endpoint: tcpEndpoint(t, b.Addr()), dialer: &hal.NetDialer{}},
		{name: "embedded-mem", endpoint: hal.Endpoint{Transport: hal.Memory}, dialer: &hal.NetDialer{Broker: b}},
	}
}

// embeddedRestartables is an embedded broker that is closed and started
// again (a new instance) on the same TCP address.
func embeddedRestartables(t *testing.T) []restartable {
	var mu sync.Mutex
	b := startEmbedded(t, broker.Options{})
	addr := b.Addr()
	return []restartable{{
		target: target{name: "embedded", endpoint: tcpEndpoint(t, addr), dialer: &hal.NetDialer{}},
		stop: func() {
			mu.Lock()
			defer mu.Unlock()
			b.Close()
		},
		start: func() {
			mu.Lock()
			defer mu.Unlock()
			b = startEmbedded(t, broker.Options{Addr: addr})
		},
	}}
}

func TestDevSignAuth(t *testing.T) {
	const pk, dn, ds = "a1X2bEnP82z", "example1", "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"
	reg := broker.NewRegistry()
	if err := reg.Add(pk, dn, ds); err != nil {
		t.Fatal(err)
	}
	b := startEmbedded(t, broker.Options{Auth: broker.AuthDevSign, Registry: reg})
	tg := target{name: "embedded-devsign", endpoint: tcpEndpoint(t, b.Addr()), dialer: &hal.NetDialer{}}
	sign := func(secret string) devsign.Credentials {
		c, err := devsign.Sign(devsign.Shanghai, devsign.Meta{ProductKey: pk, DeviceName: dn, DeviceSecret: secret}, devsign.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The right secret connects and may use its own topics.
	good := sign(ds)
	h, _ := construct(t, tg, good.ClientID, func(p *Params) { p.Username, p.Password = good.Username, good.Password })
	got := &recorder{}
	topic := "/" + pk + "/" + dn + "/user/get"
	if _, err := h.SubscribeSync(topic, QoS1, got.handler, 5e9); err != nil {
		t.Fatal(err)
	}
	h.PublishSimple(topic, QoS1, []byte("signed"))
	yieldUntil(t, h, 5e9, "delivery", func() bool { return got.received() == 1 })

	// A wrong secret is refused with an error that says so.
	bad := sign("wrong-secret-wrong-secret-wrong!!")
	_, err := Construct(context.Background(), Params{
		Endpoint: tg.endpoint, Dialer: tg.dialer, ClientID: bad.ClientID, Username: bad.Username, Password: bad.Password,
	})
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("wrong secret: err = %v, want ErrNotAuthorized", err)
	}
	if !strings.Contains(err.Error(), "device secret") {
		t.Fatalf("error does not point at the device secret: %v", err)
	}
	if b.Stats().RefusedPassword != 1 {
		t.Fatalf("broker counted %d bad passwords, want 1", b.Stats().RefusedPassword)
	}
}

// disconnectCounter counts DISCONNECT packets the broker reads.
type disconnectCounter struct {
	mqtt.HookBase
	n atomic.Int64
}

func (h *disconnectCounter) ID() string           { return "count-disconnects" }
func (h *disconnectCounter) Provides(b byte) bool { return b == mqtt.OnPacketRead }
func (h *disconnectCounter) OnPacketRead(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Disconnect {
		h.n.Add(1)
	}
	return pk, nil
}

func TestDestroySendsDisconnect(t *testing.T) {
	hook := &disconnectCounter{}
	b := startEmbedded(t, broker.Options{Hooks: []mqtt.Hook{hook}})
	tg := target{name: "embedded", endpoint: tcpEndpoint(t, b.Addr()), dialer: &hal.NetDialer{}}
	h, _ := construct(t, tg, "destroy-me", nil)
	if err := h.Destroy(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return hook.n.Load() > 0 }, "the broker to read a DISCONNECT")
	if hook.n.Load() != 1 {
		t.Fatalf("broker read %d DISCONNECT packets, want 1", hook.n.Load())
	}
	if h.CheckStateNormal() {
		t.Fatal("CheckStateNormal = true after Destroy")
	}
}
