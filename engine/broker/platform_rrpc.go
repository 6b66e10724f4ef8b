package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Errors of Broker.RRPC. They mirror the RrpcCode values of the
// platform's RRpc OpenAPI (TIMEOUT, OFFLINE).
var (
	// ErrRRPCTimeout: the device did not answer within the timeout.
	ErrRRPCTimeout = errors.New("broker: rrpc: timeout")
	// ErrRRPCOffline: the device has no connected session.
	ErrRRPCOffline = errors.New("broker: rrpc: device offline")
	// ErrNoPlatform: the broker does not emulate the platform.
	ErrNoPlatform = errors.New("broker: rrpc needs platform: alibaba")
)

// rrpcTable holds the calls awaiting an answer, by message id.
type rrpcTable struct {
	next    atomic.Uint64
	pending sync.Map // message id (string) → *rrpcCall
}

type rrpcCall struct {
	pk, dn string
	sent   time.Time
	answer chan rrpcAnswer // buffered 1
}

type rrpcAnswer struct {
	payload []byte
	at      time.Time
}

// RRPC calls a device as the platform's RRpc API does: it publishes
// payload at QoS 0 on /sys/${pk}/${dn}/rrpc/request/${messageId} and
// waits for the device's message on /sys/${pk}/${dn}/rrpc/response/
// ${messageId}. It returns the answer and the latency from the request's
// publish to the answer's arrival at the broker. An answer that arrives
// after timeout is not returned (ErrRRPCTimeout) and is counted as
// PlatformStats.RRPCLate when it comes. A device without a connected
// session fails at once with ErrRRPCOffline. The platform accepts timeouts
// of 1 to 8 s (RRpc OpenAPI); RRPC does not enforce that range, so tests
// can use shorter ones.
func (b *Broker) RRPC(ctx context.Context, productKey, deviceName string, payload []byte, timeout time.Duration) ([]byte, time.Duration, error) {
	p := b.platform
	if p == nil || p.srv == nil {
		return nil, 0, ErrNoPlatform
	}
	if timeout <= 0 {
		return nil, 0, fmt.Errorf("broker: rrpc: timeout %s must be positive", timeout)
	}
	if !p.isOnline(productKey, deviceName) {
		p.rrpcOffline.Add(1)
		return nil, 0, fmt.Errorf("broker: rrpc %s/%s: %w", productKey, deviceName, ErrRRPCOffline)
	}
	id := strconv.FormatUint(p.rrpc.next.Add(1), 10)
	call := &rrpcCall{pk: productKey, dn: deviceName, answer: make(chan rrpcAnswer, 1)}
	topic := "/sys/" + productKey + "/" + deviceName + "/rrpc/request/" + id
	call.sent = time.Now()
	p.rrpc.pending.Store(id, call)
	p.rrpcRequests.Add(1)
	if err := p.srv.Publish(topic, payload, false, 0); err != nil {
		p.rrpc.pending.Delete(id)
		return nil, 0, fmt.Errorf("broker: rrpc publish %q: %w", topic, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-call.answer:
		return p.judge(call, a, timeout)
	case <-timer.C:
	case <-ctx.Done():
	}
	if _, mine := p.rrpc.pending.LoadAndDelete(id); !mine {
		// The answer won the race and is being (or has been) sent.
		return p.judge(call, <-call.answer, timeout)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("broker: rrpc %s/%s: %w", productKey, deviceName, err)
	}
	return nil, 0, fmt.Errorf("broker: rrpc %s/%s message %s after %s: %w", productKey, deviceName, id, timeout, ErrRRPCTimeout)
}

// judge turns an answer into RRPC's result: one that arrived after the
// timeout (a race with the timer) is a timeout.
func (p *platform) judge(call *rrpcCall, a rrpcAnswer, timeout time.Duration) ([]byte, time.Duration, error) {
	lat := a.at.Sub(call.sent)
	if lat > timeout {
		p.rrpcLate.Add(1)
		return nil, 0, fmt.Errorf("broker: rrpc %s/%s answered after %s (timeout %s): %w", call.pk, call.dn, lat, timeout, ErrRRPCTimeout)
	}
	p.rrpcAnswered.Add(1)
	return a.payload, lat, nil
}

// onRRPCResponse matches a device's answer to its call.
func (p *platform) onRRPCResponse(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	at := time.Now()
	levels := strings.Split(pk.TopicName, "/") // "", sys, pk, dn, rrpc, response, id
	if len(levels) != 7 {
		return
	}
	v, ok := p.rrpc.pending.Load(levels[6])
	if !ok {
		p.rrpcLate.Add(1)
		return
	}
	call := v.(*rrpcCall)
	if call.pk != levels[2] || call.dn != levels[3] {
		return // another device's message id: not an answer to this call
	}
	if _, mine := p.rrpc.pending.LoadAndDelete(levels[6]); !mine {
		p.rrpcLate.Add(1)
		return
	}
	call.answer <- rrpcAnswer{payload: bytes.Clone(pk.Payload), at: at}
}
