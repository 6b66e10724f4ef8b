package actors

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// faultHook is an embedded-broker hook that tampers with deliveries of
// stamped messages, counting exactly what it did.
type faultHook struct {
	mqtt.HookBase
	// drop every n-th message (0: never)
	dropEvery int64
	// deliver a second copy of every n-th message (0: never)
	dupEvery int64
	// hold back the message with this sequence number on every stream and
	// deliver it after the next one (-1: never)
	holdSeq int

	b        *broker.Broker
	seen     atomic.Int64
	dropped  atomic.Int64
	copies   atomic.Int64
	reorders atomic.Int64
	mu       sync.Mutex
	held     map[string][]byte
}

func (h *faultHook) ID() string { return "test-faults" }

func (h *faultHook) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnPublished
}

// stamped reports whether pk was published by a device (not re-injected
// by this hook through the broker's inline client).
func stamped(cl *mqtt.Client, pk packets.Packet) (metrics.Stamp, bool) {
	if cl != nil && cl.Net.Inline {
		return metrics.Stamp{}, false
	}
	st, err := metrics.DecodeStamp(pk.Payload)
	return st, err == nil
}

// OnPublish drops (acknowledges but does not deliver) the messages the
// hook drops or holds back.
func (h *faultHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	st, ok := stamped(cl, pk)
	if !ok {
		return pk, nil
	}
	n := h.seen.Add(1)
	if h.holdSeq >= 0 && int(st.Seq) == h.holdSeq {
		h.mu.Lock()
		h.held[pk.TopicName] = bytes.Clone(pk.Payload)
		h.mu.Unlock()
		return pk, packets.CodeSuccessIgnore
	}
	if h.dropEvery > 0 && n%h.dropEvery == 0 {
		h.dropped.Add(1)
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

func (h *faultHook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	st, ok := stamped(cl, pk)
	if !ok {
		return
	}
	if h.dupEvery > 0 && int64(st.Seq+1)%h.dupEvery == 0 {
		if err := h.b.Publish(pk.TopicName, bytes.Clone(pk.Payload), false, pk.FixedHeader.Qos); err == nil {
			h.copies.Add(1)
		}
	}
	if h.holdSeq >= 0 && int(st.Seq) == h.holdSeq+1 {
		h.mu.Lock()
		p, ok := h.held[pk.TopicName]
		delete(h.held, pk.TopicName)
		h.mu.Unlock()
		if ok && h.b.Publish(pk.TopicName, p, false, pk.FixedHeader.Qos) == nil {
			h.reorders.Add(1)
		}
	}
}

func runWithHook(t *testing.T, h *faultHook, n, m int) *metrics.Result {
	t.Helper()
	if h.held == nil {
		h.held = make(map[string][]byte)
	}
	sc := selfRoundTrip(t, "", n, m, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{BrokerHooks: []mqtt.Hook{h}, OnBroker: func(b *broker.Broker) { h.b = b }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAccountingDroppedDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	const n, m = 20, 20
	h := &faultHook{dropEvery: 10, holdSeq: -1}
	res := runWithHook(t, h, n, m)
	tot := res.Totals
	dropped := h.dropped.Load()
	if dropped != n*m/10 {
		t.Fatalf("hook dropped %d, want %d", dropped, n*m/10)
	}
	if tot.Published != n*m || tot.Expected != n*m || tot.Lost != dropped || tot.Received != n*m-dropped || tot.Duplicates != 0 {
		t.Fatalf("published %d expected %d received %d lost %d duplicates %d; dropped %d",
			tot.Published, tot.Expected, tot.Received, tot.Lost, tot.Duplicates, dropped)
	}
}

func TestAccountingDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	const n, m = 20, 20
	h := &faultHook{dupEvery: 7, holdSeq: -1}
	res := runWithHook(t, h, n, m)
	tot := res.Totals
	copies := h.copies.Load()
	if copies != n*(m/7) {
		t.Fatalf("hook delivered %d copies, want %d", copies, n*(m/7))
	}
	if tot.Duplicates != copies || tot.Received != n*m+copies || tot.Lost != 0 || tot.Reordered != 0 {
		t.Fatalf("received %d duplicates %d lost %d reordered %d; copies %d", tot.Received, tot.Duplicates, tot.Lost, tot.Reordered, copies)
	}
}

func TestAccountingReordered(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	const n, m = 20, 20
	h := &faultHook{holdSeq: 3}
	res := runWithHook(t, h, n, m)
	tot := res.Totals
	if got := h.reorders.Load(); got != n {
		t.Fatalf("hook reordered %d messages, want %d", got, n)
	}
	if tot.Reordered != n || tot.Duplicates != 0 || tot.Lost != 0 || tot.Received != n*m {
		t.Fatalf("reordered %d duplicates %d lost %d received %d", tot.Reordered, tot.Duplicates, tot.Lost, tot.Received)
	}
}

func TestQoS2AgainstMosquittoHasNoDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	mq := mosquitto.Start(t, mosquitto.Options{})
	const n, m = 50, 20
	sc := selfRoundTrip(t, mq.URL(), n, m, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	q2 := res.ByQoS["2"]
	if tot.Duplicates != 0 || tot.Lost != 0 || q2.Received != n*m || q2.Acked != n*m {
		t.Fatalf("QoS 2: duplicates %d lost %d received %d acked %d, want 0 0 %d %d", tot.Duplicates, tot.Lost, q2.Received, q2.Acked, n*m, n*m)
	}
}

// TestFanInAgainstMosquitto: 1,000 devices × 20 QoS 1 messages to two
// cloud consumers on a wildcard: every consumer gets every message.
func TestFanInAgainstMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	mq := mosquitto.Start(t, mosquitto.Options{})
	const n, m, consumers = 1000, 20, 2
	text := fmt.Sprintf(`name: fan-in
duration: 14s
drain: 3s
broker:
  url: %s
devices:
  - name: cloud
    count: %d
    client_id: cloud-${index}
    clean_session: true
    subscribe:
      - topic: /pk/+/user/update
        qos: 1
  - name: dev
    count: %d
    device_name: dev-${index}
    product_key: pk
    clean_session: true
    connect:
      rate: 1000/s
    publish:
      - topic: /${productKey}/${deviceName}/user/update
        qos: 1
        interval: 200ms
        start: 1500ms
        count: %d
        payload:
          size: 32
`, mq.URL(), consumers, n, m)
	sc, err := scenarios.Parse("fan-in.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	publishedAsPlanned(t, tot, n*m)
	want := tot.Published * consumers
	if tot.Expected != want || tot.Received != want || tot.Lost != 0 || tot.Duplicates != 0 {
		t.Fatalf("published %d expected %d received %d lost %d duplicates %d; want received = expected = %d",
			tot.Published, tot.Expected, tot.Received, tot.Lost, tot.Duplicates, want)
	}
}
