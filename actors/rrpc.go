package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// CloudDevice names the device a cloud-side call goes to.
type CloudDevice struct {
	ProductKey, DeviceName string
}

// CloudDriver is the cloud side of RRPC: it calls one device and returns
// the device's answer and the latency from the request to the answer as
// the cloud side saw it. A call not answered within timeout fails with an
// error wrapping ErrCloudTimeout; any other error is a failed call.
//
// The run uses the embedded platform emulator's driver (broker.RRPC).
// Against the real Alibaba Cloud IoT Platform a driver would call the
// RRpc OpenAPI (action RRpc, API version 2018-01-20: ProductKey,
// DeviceName, RequestBase64Byte, Timeout in ms, optionally Topic and
// IotInstanceId; the answer is RrpcCode SUCCESS | TIMEOUT | OFFLINE |
// UNKNOW | HALFCONN and PayloadBase64Byte), signed with an AccessKey the
// operator supplies; TIMEOUT maps to ErrCloudTimeout. fleetbench ships no
// such client and no credentials.
type CloudDriver interface {
	Invoke(ctx context.Context, dev CloudDevice, payload []byte, timeout time.Duration) (reply []byte, latency time.Duration, err error)
}

// ErrCloudTimeout marks a cloud-side call that was not answered in time.
var ErrCloudTimeout = errors.New("actors: cloud call timed out")

// embeddedCloud is the CloudDriver of the embedded platform emulator.
type embeddedCloud struct{ e *Embedded }

// Invoke implements CloudDriver.
func (c embeddedCloud) Invoke(ctx context.Context, dev CloudDevice, payload []byte, timeout time.Duration) ([]byte, time.Duration, error) {
	b := c.e.Broker()
	if b == nil {
		return nil, 0, fmt.Errorf("actors: rrpc %s/%s: %w", dev.ProductKey, dev.DeviceName, broker.ErrClosed)
	}
	reply, lat, err := b.RRPC(ctx, dev.ProductKey, dev.DeviceName, payload, timeout)
	if errors.Is(err, broker.ErrRRPCTimeout) {
		return nil, 0, fmt.Errorf("%w: %w", ErrCloudTimeout, err)
	}
	return reply, lat, err
}

// Messages of a device's RRPC traffic.
type (
	// rrpcTick: the cloud side calls the device now.
	rrpcTick struct{}
	// rrpcResult: a call the cloud side made to the device returned.
	rrpcResult struct {
		latency time.Duration
		err     error
	}
	// rrpcAnswer: the device answers a request (after answer_delay).
	rrpcAnswer struct {
		topic   string
		payload []byte
	}
)

// rrpcState is the cloud side's schedule for one device.
type rrpcState struct {
	timer       *time.Timer
	next        time.Time
	sent        int
	outstanding int
}

// rrpcActive reports whether the device still has RRPC calls to make or
// to collect.
func (d *device) rrpcActive() bool {
	r := d.plan.Group.RRPC
	if r == nil || d.env.Cloud == nil {
		return false
	}
	return r.Count == 0 || d.rrpc.sent < r.Count || d.rrpc.outstanding > 0
}

// startRRPC arms the cloud side's first call to the device.
func (d *device) startRRPC() {
	r := d.plan.Group.RRPC
	if r == nil || d.env.Cloud == nil || d.rrpc.timer != nil {
		return
	}
	d.rrpc.next = d.env.Clock.Now().Add(r.Start)
	d.rrpc.timer = time.AfterFunc(r.Start, func() { d.root.Send(d.self, rrpcTick{}) })
}

// callRRPC makes one cloud-side call to the device, in its own goroutine
// (a call blocks up to its timeout); the result comes back as rrpcResult.
func (d *device) callRRPC() {
	r := d.plan.Group.RRPC
	if d.stopped || r == nil || (r.Count > 0 && d.rrpc.sent >= r.Count) {
		return
	}
	d.rrpc.sent++
	d.rrpc.outstanding++
	d.rec.Inc(metrics.RRPCCalls)
	payload := fmt.Appendf(nil, `{"seq":%d}`, d.rrpc.sent)
	dev := CloudDevice{ProductKey: d.plan.ProductKey, DeviceName: d.plan.DeviceName}
	cloud, self, root := d.env.Cloud, d.self, d.root
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.Timeout+time.Second)
		defer cancel()
		_, lat, err := cloud.Invoke(ctx, dev, payload, r.Timeout)
		root.Send(self, rrpcResult{latency: lat, err: err})
	}()
	if r.Count == 0 || d.rrpc.sent < r.Count {
		d.rrpc.next = d.rrpc.next.Add(r.Interval)
		d.rrpc.timer.Reset(max(0, d.rrpc.next.Sub(d.env.Clock.Now())))
	}
}

// rrpcDone records a call's result.
func (d *device) rrpcDone(m rrpcResult) {
	d.rrpc.outstanding--
	switch {
	case m.err == nil:
		d.rec.Record(metrics.RRPC, 0, d.stripe(), m.latency)
	case errors.Is(m.err, ErrCloudTimeout):
		d.rec.Inc(metrics.RRPCTimeouts)
	default:
		d.rec.Inc(metrics.RRPCFailed)
		d.env.Logger.Debug("rrpc call failed", "device", d.plan.GlobalIndex, "err", m.err)
	}
	if d.streamsDone && !d.rrpcActive() {
		d.finish()
	}
}

// answerRRPC answers a request as an SDK application does: the response
// goes to …/rrpc/response/${messageId} at QoS 0 (reference iotkit-mqtt.md
// §4.3), here with the request's payload.
func (d *device) answerRRPC(a rrpcAnswer) {
	if d.h == nil {
		return
	}
	if _, err := d.h.Publish(a.topic, &iot.TopicInfo{QoS: 0, Payload: a.payload}); err != nil {
		d.rec.Inc(metrics.PublishErrors)
		return
	}
	d.rec.IncQoS(metrics.Published, 0)
}
