package iot

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Profile is the behaviour of one SDK version that shapes the load a
// device puts on a broker: keepalive and pings, request timeout, QoS 1
// resends and queue, Construct's retries, buffers and reconnect backoff.
// Values are from the public aliyun/iotkit-embedded source
// (src/mqtt/impl/iotx_mqtt_client.c, iotx_mqtt_config.h, mqtt_api.c) as
// summarised in shared/reference/iotkit-mqtt.md §1.2–1.6, branch by
// branch; the 4.x values are those the Link SDK 4.x documents (pings every
// 25 s with keepalive 1200 s, reconnect 2 s × (n+1) ± 0.5 s).
type Profile struct {
	// Name is "3.0.1", "3.2.0" or "4.x".
	Name string
	// KeepAlive is the default ping interval; KeepAliveMin/Max its range
	// (out of range falls back to the default, as IOT_MQTT_Construct does).
	KeepAlive, KeepAliveMin, KeepAliveMax time.Duration
	// PingEvery, when set, is a fixed ping period regardless of KeepAlive
	// (4.x); otherwise a PINGREQ goes out every KeepAlive, whether or not
	// the device sent data (3.x: pings are not deferred by traffic).
	PingEvery time.Duration
	// AnnounceFactor × KeepAlive, capped at AnnounceMax, is what CONNECT
	// carries in its keepalive field (3.x: twice the interval, capped at
	// 1200 s); AnnounceFixed, when set, is announced instead (4.x: 1200 s).
	AnnounceFactor int
	AnnounceMax    time.Duration
	AnnounceFixed  time.Duration
	// ProbeMax is how many unanswered pings are tolerated: one more drops
	// the connection (IOTX_MC_KEEPALIVE_PROBE_MAX = 2).
	ProbeMax int
	// RequestTimeout is the default request timeout (CONNACK wait, SUBACK
	// wait, write timeout); RequestTimeoutMin/Max its range.
	RequestTimeout, RequestTimeoutMin, RequestTimeoutMax time.Duration
	// ResendFactor × RequestTimeout is how old an unacknowledged QoS 1
	// publish gets before it is resent, byte for byte, without DUP.
	ResendFactor int
	// QoS1Queue is how many QoS 1 publishes may wait for their PUBACK; a
	// publish beyond it fails (QOS1_REPUB_EXCEED_MAX).
	QoS1Queue int
	// TransportTries transport attempts TransportWait apart, then up to
	// ConnectTries CONNECT/CONNACK attempts ConnectWait apart when the
	// CONNACK does not come within the request timeout.
	TransportTries int
	TransportWait  time.Duration
	ConnectTries   int
	ConnectWait    time.Duration
	// Buffer is the read and write buffer: the largest packet sent or
	// accepted (a larger one is a serialize error / BufferOverflow).
	Buffer int
	// ReconnectMin and ReconnectMax bound the reconnect backoff.
	ReconnectMin, ReconnectMax time.Duration
	// Linear selects the 4.x backoff, ReconnectMin × (n+1) ± ReconnectMin/4
	// for the n-th failed attempt (n ≤ 60), instead of 3.x's doubling from
	// ReconnectMin to ReconnectMax.
	Linear bool
}

// The SDK profiles.
var (
	// profile320 is iotkit-embedded 3.2.0 (branch v3.2.0, the default).
	profile320 = Profile{
		Name: "3.2.0", KeepAlive: 60 * time.Second, KeepAliveMin: 30 * time.Second, KeepAliveMax: 1200 * time.Second,
		AnnounceFactor: 2, AnnounceMax: 1200 * time.Second, ProbeMax: 2,
		RequestTimeout: 5 * time.Second, RequestTimeoutMin: time.Second, RequestTimeoutMax: 10 * time.Second,
		ResendFactor: 2, QoS1Queue: 10,
		TransportTries: 3, TransportWait: time.Second, ConnectTries: 8, ConnectWait: 2 * time.Second,
		Buffer: 3072, ReconnectMin: time.Second, ReconnectMax: 30 * time.Second,
	}
	// profile301 is iotkit-embedded 3.0.1 (branch v3.0.1, GitHub's
	// default branch).
	profile301 = Profile{
		Name: "3.0.1", KeepAlive: 60 * time.Second, KeepAliveMin: 30 * time.Second, KeepAliveMax: 1200 * time.Second,
		AnnounceFactor: 2, AnnounceMax: 1200 * time.Second, ProbeMax: 2,
		RequestTimeout: 2 * time.Second, RequestTimeoutMin: 500 * time.Millisecond, RequestTimeoutMax: 5 * time.Second,
		ResendFactor: 2, QoS1Queue: 20,
		TransportTries: 3, TransportWait: time.Second, ConnectTries: 8, ConnectWait: 2 * time.Second,
		Buffer: 1024, ReconnectMin: time.Second, ReconnectMax: 60 * time.Second,
	}
	// profile4x is the Link SDK 4.x. Its request timeout, QoS 1 queue and
	// buffer are taken as 3.2.0's (not verified against the 4.x source).
	profile4x = Profile{
		Name: "4.x", KeepAlive: 25 * time.Second, KeepAliveMin: 25 * time.Second, KeepAliveMax: 1200 * time.Second,
		PingEvery: 25 * time.Second, AnnounceFixed: 1200 * time.Second, ProbeMax: 2,
		RequestTimeout: 5 * time.Second, RequestTimeoutMin: time.Second, RequestTimeoutMax: 10 * time.Second,
		ResendFactor: 2, QoS1Queue: 10,
		TransportTries: 3, TransportWait: time.Second, ConnectTries: 8, ConnectWait: 2 * time.Second,
		Buffer: 3072, ReconnectMin: 2 * time.Second, ReconnectMax: 122 * time.Second, Linear: true,
	}
)

// LookupProfile returns the profile of an SDK version ("" is 3.2.0).
func LookupProfile(name string) (Profile, error) {
	switch name {
	case "", "3.2.0":
		return profile320, nil
	case "3.0.1":
		return profile301, nil
	case "4.x":
		return profile4x, nil
	}
	return Profile{}, fmt.Errorf("%w: SDK profile %q (want 3.0.1, 3.2.0 or 4.x)", ErrInvalidArgument, name)
}

// announce returns the keepalive CONNECT carries for a ping interval.
func (p *Profile) announce(interval time.Duration) time.Duration {
	if p.AnnounceFixed > 0 {
		return p.AnnounceFixed
	}
	return min(time.Duration(max(p.AnnounceFactor, 1))*interval, p.AnnounceMax)
}

// pingPeriod returns the time between two PINGREQs.
func (p *Profile) pingPeriod(interval time.Duration) time.Duration {
	if p.PingEvery > 0 {
		return p.PingEvery
	}
	return interval
}

// backoff returns the wait before reconnect attempt n (0 for the first
// after a loss), between min and max.
func (p *Profile) backoff(n int, minWait, maxWait time.Duration) time.Duration {
	if p.Linear {
		n = min(n, 60)
		d := minWait * time.Duration(n+1)
		if j := int64(minWait / 4); j > 0 {
			d += time.Duration(rand.Int64N(2*j+1) - j)
		}
		return d
	}
	d := minWait
	for i := 0; i < n && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}
