package broker

import "sync/atomic"

// Stats is a snapshot of the broker's counters. Counters are totals since
// New unless marked "current". Each is read atomically, but the snapshot as
// a whole is not taken at one instant.
type Stats struct {
	// ClientsConnected is the current number of connected, authenticated
	// clients.
	ClientsConnected int64
	// ClientsMaximum is the highest ClientsConnected seen (as mochi tracks
	// it: raised when a client without a previous session connects).
	ClientsMaximum int64
	// Subscriptions is the current number of subscriptions (filter, client).
	Subscriptions int64
	// Inflight is the current number of QoS 1/2 messages awaiting
	// acknowledgement, both directions, all clients.
	Inflight int64

	// MessagesReceived counts PUBLISH packets received from clients,
	// including those the ACL then refused.
	MessagesReceived int64
	// MessagesSent counts PUBLISH packets written to clients (deliveries and
	// retransmissions).
	MessagesSent int64
	// MessagesDropped counts deliveries mochi dropped because the
	// subscriber's outbound queue (Options.MaxPendingWrites) was full: a slow
	// subscriber. Any QoS: mochi does not retry a dropped QoS 1/2 delivery.
	// This is broker-side loss, not network loss.
	MessagesDropped int64
	// InflightDropped counts QoS 1/2 deliveries mochi did not attempt
	// because the subscriber already had Options.MaxInflight messages
	// awaiting acknowledgement, or had no free packet id.
	InflightDropped int64
	// QosDropped counts QoS 1/2 flows mochi abandoned after they started: an
	// inflight message that expired, or a negative PUBREC/PUBREL.
	QosDropped int64

	// PacketsReceived and PacketsSent count MQTT packets of any type.
	PacketsReceived int64
	PacketsSent     int64
	// BytesReceived and BytesSent count bytes on all connections.
	BytesReceived int64
	BytesSent     int64

	// RefusedUsername counts CONNECTs refused in devsign mode because the
	// username is not of the form "${dn}&${pk}".
	RefusedUsername int64
	// RefusedUnknown counts CONNECTs refused because the device (devsign) or
	// user (password mode) is not registered.
	RefusedUnknown int64
	// RefusedPassword counts CONNECTs refused because of a wrong password.
	RefusedPassword int64
	// PublishDenied counts PUBLISH packets refused by the devsign ACL. QoS 0
	// ones are dropped; QoS 1/2 ones also disconnect an MQTT 3.1.1 client.
	PublishDenied int64
	// SubscribeDenied counts SUBSCRIBE filters refused by the devsign ACL
	// (SUBACK 0x80). mochi also checks each delivery with the same ACL;
	// such a refusal, impossible when subscriptions were checked, would be
	// counted here too.
	SubscribeDenied int64
}

// Refused returns the number of refused CONNECTs, all reasons.
func (s Stats) Refused() int64 { return s.RefusedUsername + s.RefusedUnknown + s.RefusedPassword }

// Stats returns the current counters. It is cheap (atomic loads) and safe to
// call at any time, also after Close.
func (b *Broker) Stats() Stats {
	i := b.srv.Info
	h := b.hook
	return Stats{
		ClientsConnected: atomic.LoadInt64(&i.ClientsConnected),
		ClientsMaximum:   atomic.LoadInt64(&i.ClientsMaximum),
		Subscriptions:    atomic.LoadInt64(&i.Subscriptions),
		Inflight:         atomic.LoadInt64(&i.Inflight),
		MessagesReceived: atomic.LoadInt64(&i.MessagesReceived),
		MessagesSent:     atomic.LoadInt64(&i.MessagesSent),
		MessagesDropped:  atomic.LoadInt64(&i.MessagesDropped),
		InflightDropped:  atomic.LoadInt64(&i.InflightDropped),
		QosDropped:       h.qosDropped.Load(),
		PacketsReceived:  atomic.LoadInt64(&i.PacketsReceived),
		PacketsSent:      atomic.LoadInt64(&i.PacketsSent),
		BytesReceived:    atomic.LoadInt64(&i.BytesReceived),
		BytesSent:        atomic.LoadInt64(&i.BytesSent),
		RefusedUsername:  h.refusedUsername.Load(),
		RefusedUnknown:   h.refusedUnknown.Load(),
		RefusedPassword:  h.refusedPassword.Load(),
		PublishDenied:    h.publishDenied.Load(),
		SubscribeDenied:  h.subscribeDenied.Load(),
	}
}
