package iot

import (
	"fmt"
	"time"
)

// owner is what the Yield and SubscribeSync loops need of a session; both
// sessions run the same loops, each with its own pass (deliver or run).
type owner interface {
	Subscribe(filter string, qos QoS, handler Handler) (uint16, error)
	Yield(timeout time.Duration) error
	NextDeadline() (time.Time, bool)
	loop() *loopState
	destroyedNow() bool
	pass()
	wakeup() <-chan struct{}
}

// loopState is the owner-only state of the loops.
type loopState struct {
	inYield bool
	sync    syncWait
}

// yieldLoop is IOT_MQTT_Yield: one pass, then more passes as things
// arrive or fall due, until timeout.
func yieldLoop(o owner, timeout time.Duration) error {
	if timeout < 0 {
		return fmt.Errorf("%w: negative yield timeout", ErrInvalidArgument)
	}
	st := o.loop()
	if st.inYield {
		return nil
	}
	if o.destroyedNow() {
		return ErrDestroyed
	}
	st.inYield = true
	defer func() { st.inYield = false }()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		o.pass()
		if timeout == 0 {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if at, ok := o.NextDeadline(); ok {
			left = min(left, max(0, time.Until(at))+time.Millisecond)
		}
		t := time.NewTimer(left)
		select {
		case <-o.wakeup():
			t.Stop()
		case <-t.C:
		}
	}
}

// noteSync records the outcome of the request SubscribeSync waits for.
func (st *loopState) noteSync(ev *Event) {
	if ev.PacketID != 0 && ev.PacketID == st.sync.id &&
		(ev.Type == EventSubscribeSuccess || ev.Type == EventSubscribeNack || ev.Type == EventSubscribeTimeout) {
		st.sync.result = ev.Type
	}
}

// subscribeSync is IOT_MQTT_Subscribe_Sync: subscribe and yield until the
// SUBACK, a refusal retried until the timeout (capped at 10 s). Called
// from inside a handler, or with QoS3SubLocal, it does not wait.
func subscribeSync(o owner, filter string, qos QoS, handler Handler, timeout time.Duration) (uint16, error) {
	st := o.loop()
	if st.inYield || qos == QoS3SubLocal {
		return o.Subscribe(filter, qos, handler)
	}
	timeout = min(timeout, 10*time.Second)
	deadline := time.Now().Add(timeout)
	lastNack := false
	for {
		id, err := o.Subscribe(filter, qos, handler)
		if err != nil {
			return 0, err
		}
		st.sync = syncWait{id: id}
		for st.sync.result == EventUndef && time.Now().Before(deadline) {
			if err := o.Yield(min(100*time.Millisecond, time.Until(deadline))); err != nil {
				return 0, err
			}
		}
		res := st.sync.result
		st.sync = syncWait{}
		switch res {
		case EventSubscribeSuccess:
			return id, nil
		case EventSubscribeNack:
			lastNack = true
		}
		if !time.Now().Before(deadline) {
			if lastNack {
				return 0, fmt.Errorf("iot: subscribe %q: %w", filter, ErrSubscribeNack)
			}
			return 0, fmt.Errorf("iot: subscribe %q: %w after %v", filter, ErrSubscribeTimeout, timeout)
		}
	}
}

// expireRequests fails the requests that waited longer than timeout for
// their ack: each gets an EventSubscribeTimeout (or
// EventUnsubscribeTimeout) event, with Err wrapping ErrSubscribeTimeout,
// appended to events (a late ack is then ignored). It returns the requests
// still waiting, in reqs' storage.
func expireRequests(reqs []request, now time.Time, timeout time.Duration, events *[]queued) []request {
	kept := reqs[:0]
	for _, r := range reqs {
		if now.Sub(r.sent) < timeout {
			kept = append(kept, r)
			continue
		}
		typ := EventSubscribeTimeout
		if r.unsub {
			typ = EventUnsubscribeTimeout
		}
		err := fmt.Errorf("iot: %w: no ack for %q within %v", ErrSubscribeTimeout, r.filter, timeout)
		*events = append(*events, queued{ev: Event{Type: typ, PacketID: r.id, QoS: r.qos, Filter: r.filter, Sent: r.sent, At: now, Err: err}})
	}
	clear(reqs[len(kept):])
	return kept
}

// addSubscription registers handler for filter in subs, replacing the
// handler and QoS of a filter subscribed already.
func addSubscription(subs []subscription, filter string, qos QoS, handler Handler) []subscription {
	for i := range subs {
		if subs[i].filter == filter {
			subs[i].qos, subs[i].handler = qos, handler
			return subs
		}
	}
	_, match, _ := splitShared(filter)
	return append(subs, subscription{filter: filter, match: match, qos: qos, handler: handler})
}

// subscribeArgs checks IOT_MQTT_Subscribe's arguments: a handler, a valid
// filter; a QoS above 3 becomes 0, as in the SDK.
func subscribeArgs(topics TopicRules, filter string, qos QoS, handler Handler) (QoS, error) {
	if handler == nil {
		return 0, fmt.Errorf("%w: nil handler", ErrInvalidArgument)
	}
	if err := ValidateFilter(topics, filter); err != nil {
		return 0, err
	}
	if qos > QoS3SubLocal {
		qos = QoS0
	}
	return qos, nil
}
