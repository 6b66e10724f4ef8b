// Package badbroker is a small MQTT 3.1.1 broker for tests that can be told
// to misbehave.
//
// Its zero Behaviour is a correct, minimal broker: clean sessions only, QoS
// 0, 1 and 2 publish routing with + and # wildcard matching, SUBACK granting
// the requested QoS, the PUBACK and PUBREC/PUBREL/PUBCOMP flows in both
// directions, PINGRESP and DISCONNECT; no retained messages, no wills, no
// session state. Each field of Behaviour turns on one misbehaviour: a refused
// or undefined CONNACK code, no CONNACK at all, an HTTP server's answer,
// garbage bytes, missing SUBACKs or UNSUBACKs, wrong granted or delivered
// QoS, dropped, foreign and re-delivered messages, an oversized PUBLISH, a
// PUBACK for an unknown packet id.
//
// It exists for two kinds of tests: tests of fleetbench's accounting (loss,
// duplicates, foreign payloads and QoS downgrades must be counted exactly, so
// Stats reports exactly what the broker did), and tests of fleetbench's MQTT
// client against brokers that get the protocol wrong (it must fail cleanly,
// with a useful error, and never hang).
//
// Every broker listens on a loopback port only. It reads each connection on
// its own goroutine, serialises the writes of each connection with a mutex,
// refuses packets whose remaining length exceeds 1 MiB by closing the
// connection, closes connections idle for 60 s, and Close closes every
// connection and waits for every goroutine it started.
//
// Routing is synchronous: a received PUBLISH is delivered to every
// subscriber before the publisher's PUBACK or PUBREC is written, so a client
// holding that acknowledgement can assert on Stats at once. A subscriber that
// stops reading blocks routing until its write deadline (10 s) closes it.
package badbroker
