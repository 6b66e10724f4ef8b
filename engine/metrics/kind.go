package metrics

import "fmt"

// Kind is a latency being measured.
type Kind uint8

// The latency kinds. Connect has no QoS; the others are kept separately for
// QoS 0, 1 and 2.
const (
	// Connect is the time from dialling to CONNACK.
	Connect Kind = iota
	// Subscribe is the time from SUBSCRIBE to SUBACK.
	Subscribe
	// PublishAck is the time from the intended publish time to PUBACK
	// (QoS 1) or PUBCOMP (QoS 2); for QoS 0, to the write completing.
	PublishAck
	// E2E is the time from the intended publish time to arrival at a
	// subscriber.
	E2E
	// RoundTrip is the time from a request's intended publish time to the
	// arrival of its reply at the requester (request/response, the SDK's
	// RRPC shape).
	RoundTrip
	// E2ECrossNode is E2E for the deliveries whose publisher ran on
	// another node of a distributed run, corrected by the nodes' measured
	// clock offsets (see Result.ClockBoundUs). Those deliveries are in E2E
	// too.
	E2ECrossNode
	// ThingReply is the time from a thing-model post's intended publish
	// time (Alink thing.event.*.post) to the arrival at the device of the
	// platform's …/post_reply carrying the same Alink id.
	ThingReply
	// RRPC is the time from the cloud sending an RRPC request to
	// /sys/${pk}/${dn}/rrpc/request/${messageId} to the device's answer
	// arriving at the cloud side (the embedded platform emulator, or
	// whatever CloudDriver the run uses). Answers after the call's timeout
	// are not recorded; they are counted as rrpc_timeouts.
	RRPC
	// NumKinds is the number of latency kinds.
	NumKinds
)

// NumQoS is the number of MQTT QoS levels (0, 1 and 2).
const NumQoS = 3

// numSlots is the number of histograms in one set: one for Connect and one
// per QoS for every other kind.
const numSlots = 1 + (int(NumKinds)-1)*NumQoS

var kindNames = [NumKinds]string{
	Connect:      "connect",
	Subscribe:    "subscribe",
	PublishAck:   "publish_ack",
	E2E:          "e2e",
	RoundTrip:    "round_trip",
	E2ECrossNode: "e2e_cross_node",
	ThingReply:   "thing_reply",
	RRPC:         "rrpc",
}

// String returns the kind's name as used in result.json, e.g. "publish_ack".
func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// PerQoS reports whether the kind is recorded separately for each QoS level.
func (k Kind) PerQoS() bool { return k > Connect && k < NumKinds }

// slotOf maps a kind and QoS to its histogram slot. Connect ignores qos.
func slotOf(kind Kind, qos int) (int, bool) {
	if kind == Connect {
		return 0, true
	}
	if kind >= NumKinds || uint(qos) >= NumQoS {
		return 0, false
	}
	return 1 + int(kind-Subscribe)*NumQoS + qos, true
}

// slotKind returns the kind and QoS of a slot (QoS 0 for Connect).
func slotKind(slot int) (Kind, int) {
	if slot == 0 {
		return Connect, 0
	}
	return Subscribe + Kind((slot-1)/NumQoS), (slot - 1) % NumQoS
}

// slotName is the key of a slot in a snapshot's JSON: "connect",
// "subscribe/0", "publish_ack/1", "e2e/2".
func slotName(slot int) string {
	k, q := slotKind(slot)
	if k == Connect {
		return k.String()
	}
	return fmt.Sprintf("%s/%d", k, q)
}

// slotByName is the inverse of slotName.
func slotByName(name string) (int, bool) {
	for s := 0; s < numSlots; s++ {
		if slotName(s) == name {
			return s, true
		}
	}
	return 0, false
}

// striped reports whether a kind is recorded into the Recorder's stripes:
// the per-message kinds are; Connect and Subscribe (per device) share one
// lock.
func (k Kind) striped() bool {
	return k == PublishAck || k == E2E || k == RoundTrip || k == ThingReply || k == RRPC
}
