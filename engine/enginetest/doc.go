// Package enginetest holds the test harnesses every layer's tests share:
// mosquitto (Debian's broker started on a free loopback port), badbroker
// (a small MQTT broker that misbehaves on request), testpki (a CA and
// certificates made for a test) and goroutines (is a goroutine parked in
// Read?), and WaitFor, the condition poll every test synchronises with.
// They are for tests only; nothing in the program imports them.
package enginetest
