// Package iot is a Go rendering of the Alibaba Cloud iotkit-embedded 3.x
// MQTT API (IOT_MQTT_*), one Handle per simulated device. See
// shared/reference/iotkit-mqtt.md for the SDK it models.
//
// The shape is the SDK's: Construct connects, Subscribe registers a handler
// and sends SUBSCRIBE, Publish sends, and Yield runs handlers and events on
// the caller's goroutine, so the goroutine (actor) that owns a handle owns
// its callbacks. Every transport comes from the HAL (package hal).
//
// # Sessions
//
// A Handle runs on one of two sessions (Params.Client):
//
//   - ClientNative, the default: the package's own MQTT 3.1.1 and 5.0
//     session, packets encoded and decoded with
//     github.com/mochi-mqtt/server/v2/packets. One goroutine per connection
//     connects (transport, CONNECT, CONNACK, with the profile's retries)
//     and then reads: it frames each packet, refuses an announced length
//     above the maximum packet size from the fixed header before a byte of
//     it is allocated, stamps the packet at the transport read and queues
//     it. Everything else runs on the owner's goroutine inside Yield and
//     Publish: decoding, acknowledgements, keepalive pings, QoS 1/2 flows
//     and resends, request timeouts, reconnect backoff; what is due in one
//     Yield is written in one batch. There is no timer or ticker per
//     connection: NextDeadline tells the owner when something is due, and
//     the owner (the device actor) arms its one timer for it. A connected
//     idle device costs one goroutine and about 10 KB
//     (BenchmarkIdleHandles).
//   - ClientPaho: github.com/eclipse/paho.mqtt.golang, kept as the
//     reference client the native session is checked against (the same
//     conformance tests run on both). It runs about 10 goroutines and
//     ~45 KB per connection, MQTT 3.1.1 only; its transport is wrapped to
//     follow the MQTT framing in both directions, which gives each message
//     and acknowledgement its arrival time at the transport read and lets
//     it refuse a server that does not speak MQTT or a CONNACK code beyond
//     5. Its timing is paho's, not the SDK's (see below).
//
// OnReady tells an owner that something is waiting, so it can call
// Yield(0) instead of polling. The acknowledgement latency of a publish is
// Event.At − Event.Sent of its PublishSuccess event.
//
// # SDK profiles
//
// Params.SDK selects the timing the SDK version really has (Profile):
// "3.2.0" (default), "3.0.1" or "4.x". On the native session:
//   - Keepalive: a PINGREQ every keepalive interval whether or not data
//     flows, CONNECT announcing twice the interval capped at 1200 s (3.x);
//     a ping every 25 s announcing 1200 s (4.x). Three unanswered pings
//     (more than IOTX_MC_KEEPALIVE_PROBE_MAX = 2) drop the connection.
//   - Request timeout (CONNACK wait, SUBACK/UNSUBACK wait, write timeout):
//     5 s in [1 s, 10 s] (3.2.0), 2 s in [500 ms, 5 s] (3.0.1). A SUBSCRIBE
//     or UNSUBSCRIBE unacknowledged in time gives EventSubscribeTimeout /
//     EventUnsubscribeTimeout (the SDK defines these and never fires them;
//     the load test needs them).
//   - QoS 1: an unacknowledged publish is resent every 2 × request
//     timeout, byte for byte without DUP as the SDK does; at most 10
//     (3.2.0) or 20 (3.0.1) wait for their PUBACK, a publish beyond that
//     fails with ErrQueueFull (QOS1_REPUB_EXCEED_MAX).
//   - Construct (and every reconnect) tries the transport 3 times 1 s
//     apart and CONNECT up to 8 times 2 s apart while the CONNACK is slow;
//     a refusal or a peer that is not MQTT ends it at once. The caller's
//     context bounds it all.
//   - Buffers: 3,072 bytes (3.2.0) or 1,024 (3.0.1) are the default
//     maximum packet size (Params.MaxPacketSize): a larger incoming packet
//     closes the connection with ErrPacketTooLarge and an
//     EventBufferOverflow, a larger outgoing one fails.
//   - Reconnect backoff: 1 s doubling to 30 s (3.2.0) or 60 s (3.0.1);
//     2 s × (n+1) ± 0.5 s, n ≤ 60 (4.x). The first attempt comes one
//     backoff after the loss.
//
// # MQTT 5.0
//
// Params.Version MQTT5 (native session): session expiry, receive maximum,
// the device's maximum packet size and user properties are sent in
// CONNECT; user properties on every PUBLISH; the broker's Receive Maximum
// bounds the publishes awaiting acks, its Maximum Packet Size what is sent,
// its Server Keep Alive the ping period; topic aliases are used on publish
// up to the broker's Topic Alias Maximum (Params.MQTT5.TopicAliases).
// Reason codes of CONNACK, PUBACK, SUBACK and DISCONNECT are reported by
// name (ReasonName, Event.Reason, ReasonOf).
//
// # Deliberate deviations from the SDK
//
//   - No singleton: a process holds thousands of handles; Construct takes
//     its credentials in Params (from the dev_sign package) instead of
//     reading them from the HAL.
//   - QoS 2 is supported for publishing and receiving (the SDK refuses it);
//     its PublishSuccess fires on PUBCOMP. MQTT 5.0 is supported (the 3.x
//     SDKs speak 3.1.1 only).
//   - Wildcard matching follows MQTT 3.1.1: "/a/#" matches "/a" (the SDK's
//     does not), and Unsubscribe removes the handler of exactly the filter
//     given (the SDK removes wildcard handlers that match it and keeps the
//     exact one).
//   - Subscribing the same filter again replaces its handler and QoS (the
//     SDK adds a second handler when the callback differs: Go funcs cannot
//     be compared).
//   - Yield(0) delivers what is pending and returns at once (the SDK treats
//     0 as 10 ms). The SDK reads continuously inside IOT_MQTT_Yield(ms), so
//     arrivals reach handlers as they come while the application loops on
//     Yield; the native session does the same through OnReady. The loop
//     period (a group's yield:) shapes when due work runs: the device actor
//     wakes for pings, resends, request timeouts and reconnects on its yield
//     ticks.
//   - After a reconnect with clean_session on, the handle subscribes its
//     filters again (the SDK relies on clean_session off and never
//     resubscribes); publishes that were awaiting acks are counted as
//     Stats.Unacked.
//   - An ack for a packet id that is not awaited is counted
//     (Stats.UnknownAcks) as the broker's protocol error; the SDK ignores
//     it.
//   - The auto-report publishes after connect (deviceinfo/update, OTA
//     inform) are not sent; a scenario can publish them if wanted.
//   - On the paho session: pings after KeepAlive without traffic, CONNECT
//     announcing KeepAlive, QoS 1 resent only after a reconnect, one connect
//     attempt per Construct, reconnects on a timer goroutine; the read
//     buffer limit (ReadBufSize) is off by default.
package iot
