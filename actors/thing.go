package actors

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// thingPost is a thing-model post awaiting its reply.
type thingPost struct {
	intended time.Time
	qos      int
}

// thingState matches a device's thing-model posts to their replies. The
// Alink id is the stamp: the platform requires a decimal string of at most
// 4294967295, so it is a per-device counter (as the SDK's dev_model uses,
// from 1), and the intended send time stays with the device, looked up by
// id when the reply arrives on the device's own …/post_reply topic.
type thingState struct {
	nextID  uint32
	pending map[uint32]thingPost
}

// alinkReplyFields are the members of a platform reply the device reads.
type alinkReplyFields struct {
	Code int    `json:"code"`
	ID   string `json:"id"`
}

// subscribeThing subscribes to the reply topic of every thing-model
// publication and to the RRPC request topic of a group with rrpc:. It
// returns the number of subscriptions sent.
func (d *device) subscribeThing() int {
	n := 0
	seen := make(map[string]bool)
	for i := range d.plan.Publishes {
		t := d.plan.Publishes[i].ReplyTopic()
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if d.subscribeOwn(t, d.onThingReply) {
			n++
		}
	}
	if d.plan.Group.RRPC != nil {
		if d.subscribeOwn(d.plan.RRPCRequestFilter(), d.onRRPCRequest) {
			n++
		}
	}
	return n
}

// subscribeOwn subscribes to a topic of the device's own traffic at QoS 0
// (the platform delivers at the publisher's QoS anyway).
func (d *device) subscribeOwn(filter string, h func(*iot.Handle, *iot.Event)) bool {
	if _, err := d.h.Subscribe(filter, iot.QoS0, h); err != nil {
		d.rec.Inc(metrics.SubscribeFailed)
		d.env.Logger.Debug("subscribe failed", "device", d.plan.GlobalIndex, "filter", filter, "err", err)
		return false
	}
	return true
}

// thingPayload builds the next Alink post of publication p and remembers
// its id.
func (d *device) thingPayload(p *scenarios.Publication, seq uint32, stream int, intended time.Time) []byte {
	if d.thing.pending == nil {
		d.thing.pending = make(map[uint32]thingPost)
	}
	d.thing.nextID++
	if d.thing.nextID == 0 {
		d.thing.nextID = 1
	}
	id := d.thing.nextID
	d.thing.pending[id] = thingPost{intended: intended, qos: int(p.QoS)}
	return p.AppendThingPost(make([]byte, 0, 128), id, scenarios.RuntimeFields{
		Seq: uint64(seq), TS: intended.Sub(d.env.Epoch).Nanoseconds(),
		Publisher: uint64(d.plan.GlobalIndex), Stream: uint64(stream),
	})
}

// thingPostFailed forgets the post of id that was not sent.
func (d *device) thingPostFailed() { delete(d.thing.pending, d.thing.nextID) }

// onThingReply matches a platform reply to its post by the Alink id and
// records thing_reply (intended post time → reply arrival) at the post's
// QoS, and the reply code. A reply for no pending post is foreign.
func (d *device) onThingReply(_ *iot.Handle, ev *iot.Event) {
	m := ev.Message
	var r alinkReplyFields
	id, err := uint64(0), json.Unmarshal(m.Payload, &r)
	if err == nil {
		id, err = strconv.ParseUint(r.ID, 10, 32)
	}
	post, ok := d.thing.pending[uint32(id)]
	if err != nil || !ok {
		d.rec.Inc(metrics.Foreign)
		return
	}
	delete(d.thing.pending, uint32(id))
	d.rec.Record(metrics.ThingReply, post.qos, d.stripe(), m.Arrived.Sub(post.intended))
	d.rec.CountReason(metrics.ReplyCodePacket, metrics.ReplyCodeName(r.Code))
}

// onRRPCRequest answers a cloud request, after the group's answer_delay.
func (d *device) onRRPCRequest(_ *iot.Handle, ev *iot.Event) {
	topic, ok := scenarios.RRPCResponseTopic(ev.Message.Topic)
	if !ok {
		d.rec.Inc(metrics.Foreign)
		return
	}
	a := rrpcAnswer{topic: topic, payload: append([]byte(nil), ev.Message.Payload...)}
	if delay := d.plan.Group.RRPC.AnswerDelay; delay > 0 {
		self, root := d.self, d.root
		time.AfterFunc(delay, func() { root.Send(self, a) })
		return
	}
	d.answerRRPC(a)
}

// closeThing counts the posts whose reply never came.
func (d *device) closeThing() {
	if n := len(d.thing.pending); n > 0 {
		d.rec.Add(metrics.ThingReplyMissing, int64(n))
		clear(d.thing.pending)
	}
}
