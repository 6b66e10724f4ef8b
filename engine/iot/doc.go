// Package iot is a Go rendering of the Alibaba Cloud iotkit-embedded 3.x
// MQTT API (IOT_MQTT_*), built on paho.mqtt.golang, one Handle per simulated
// device. See shared/reference/iotkit-mqtt.md for the SDK it models.
//
// The shape is the SDK's: Construct connects, Subscribe registers a handler
// and sends SUBSCRIBE, Publish sends, and Yield runs handlers and events on
// the caller's goroutine, so the goroutine (actor) that owns a handle owns
// its callbacks. Every transport comes from the HAL (package hal) through
// paho's custom open-connection hook, and is wrapped to follow the MQTT
// framing in both directions. That gives each received message its arrival
// time at the transport read, and each PUBACK/PUBCOMP/SUBACK the exact time
// it arrived, with no goroutine per request: the acknowledgement latency of
// a publish is Event.At − Event.Sent of its PublishSuccess event. OnReady
// tells an owner that something is waiting, so it can call Yield(0) instead
// of polling.
//
// Kept from the SDK: keepalive 60 s (range 30–1200 s), request timeout 2 s
// (range 0.5–5 s), clean_session off by default, reconnect backoff 1 s
// doubling to 30 s (the first attempt 1 s after the loss), topics of at
// most 128 characters starting with '/' with characters 32..126 and
// whole-level wildcards, event types and numbering, QoS 3 = local-only
// subscription, and SubscribeSync's retry-on-NACK loop with a 10 s cap.
//
// Deliberate deviations from the SDK:
//   - No singleton: a process holds thousands of handles; Construct takes
//     its credentials in Params (from the dev_sign package) instead of
//     reading them from the HAL.
//   - QoS 2 is supported for publishing and receiving (the SDK refuses it);
//     its PublishSuccess fires on PUBCOMP.
//   - Wildcard matching follows MQTT 3.1.1: "/a/#" matches "/a" (the SDK's
//     does not), and Unsubscribe removes the handler of exactly the filter
//     given (the SDK removes wildcard handlers that match it and keeps the
//     exact one).
//   - Subscribing the same filter again replaces its handler and QoS (the
//     SDK adds a second handler when the callback differs: Go funcs cannot
//     be compared).
//   - Subscribe and Unsubscribe return a request id, not the wire packet id
//     (paho assigns that privately); events carry the same id.
//   - Yield(0) delivers what is pending and returns at once (the SDK treats
//     0 as 10 ms). Keepalive, reading and reconnecting run on paho's and a
//     timer's goroutines rather than inside Yield, so an owner that yields
//     rarely still keeps its connection; events still reach handlers only
//     inside Yield.
//   - Pings: paho sends PINGREQ after KeepAlive without traffic and the
//     CONNECT keepalive field is KeepAlive (the SDK pings every interval
//     regardless of traffic and announces twice the interval); a missing
//     PINGRESP for another KeepAlive drops the connection (the SDK allows
//     two unanswered pings).
//   - QoS 1 publishes are resent (with DUP) only after a reconnect, as MQTT
//     3.1.1 and paho do; the SDK resends every 2 × request timeout.
//   - Construct makes one connect attempt bounded by ConnectTimeout (the
//     SDK retries the transport 3 times and CONNACK up to 8 times inside
//     Construct); retry policy belongs to the caller, which counts the
//     failures.
//   - After a reconnect with clean_session on, the handle subscribes its
//     filters again (the SDK relies on clean_session off and never
//     resubscribes); publishes that were awaiting acks are counted as
//     Stats.Unacked.
//   - The read buffer limit (EventBufferOverflow) is off by default
//     (ReadBufSize 0); load tests use payloads larger than the SDK's 1 KiB.
//   - The auto-report publishes after connect (deviceinfo/update, OTA
//     inform) are not sent; a scenario can publish them if wanted.
package iot
