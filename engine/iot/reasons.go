package iot

import "fmt"

// reasonNames names the MQTT 5.0 reason codes (OASIS MQTT Version 5.0,
// §2.4 "Reason Code"), as they are recorded in results: lower case, words
// separated by underscores.
var reasonNames = map[byte]string{
	0x00: "success", 0x01: "granted_qos_1", 0x02: "granted_qos_2", 0x04: "disconnect_with_will",
	0x10: "no_matching_subscribers", 0x11: "no_subscription_existed", 0x18: "continue_authentication",
	0x19: "re_authenticate", 0x80: "unspecified_error", 0x81: "malformed_packet", 0x82: "protocol_error",
	0x83: "implementation_specific_error", 0x84: "unsupported_protocol_version", 0x85: "client_identifier_not_valid",
	0x86: "bad_user_name_or_password", 0x87: "not_authorized", 0x88: "server_unavailable", 0x89: "server_busy",
	0x8A: "banned", 0x8B: "server_shutting_down", 0x8C: "bad_authentication_method", 0x8D: "keep_alive_timeout",
	0x8E: "session_taken_over", 0x8F: "topic_filter_invalid", 0x90: "topic_name_invalid", 0x91: "packet_identifier_in_use",
	0x92: "packet_identifier_not_found", 0x93: "receive_maximum_exceeded", 0x94: "topic_alias_invalid",
	0x95: "packet_too_large", 0x96: "message_rate_too_high", 0x97: "quota_exceeded", 0x98: "administrative_action",
	0x99: "payload_format_invalid", 0x9A: "retain_not_supported", 0x9B: "qos_not_supported", 0x9C: "use_another_server",
	0x9D: "server_moved", 0x9E: "shared_subscriptions_not_supported", 0x9F: "connection_rate_exceeded",
	0xA0: "maximum_connect_time", 0xA1: "subscription_identifiers_not_supported", 0xA2: "wildcard_subscriptions_not_supported",
}

// ReasonName returns the name of an MQTT 5.0 reason code, e.g.
// "quota_exceeded" for 0x97 ("reason_0xNN" for a code the spec does not
// define).
func ReasonName(code byte) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason_0x%02x", code)
}

// connackName names an MQTT 3.1.1 CONNACK return code.
func connackName(rc byte) string {
	switch rc {
	case 0:
		return "accepted"
	case 1:
		return "unacceptable_protocol_version"
	case 2:
		return "identifier_rejected"
	case 3:
		return "server_unavailable"
	case 4:
		return "bad_user_name_or_password"
	case 5:
		return "not_authorized"
	}
	return fmt.Sprintf("undefined_%d", rc)
}

// Classifications of platform disconnects and refusals (the Alibaba Cloud
// IoT Platform's kicks and throttling), recorded in place of the reason
// name they cover.
const (
	// KickedDuplicateID: the broker forced the connection offline because
	// another connection used the same client id (MQTT 5 0x8E "session
	// taken over", or, over MQTT 3.1.1, a close that follows another
	// connect with the client id; the runtime detects the latter).
	KickedDuplicateID = "kicked_duplicate_id"
	// RateLimited: MQTT 5 reason code 0x96, "message rate too high".
	RateLimited = "rate_limited"
	// QuotaExceeded: MQTT 5 reason code 0x97, "quota exceeded".
	QuotaExceeded = "quota_exceeded"
)

// Classify returns the classification of an MQTT 5 reason code of a
// DISCONNECT or CONNACK: RateLimited for 0x96, QuotaExceeded for 0x97,
// KickedDuplicateID for 0x8E; "" for other codes.
func Classify(code byte) string {
	switch code {
	case 0x96:
		return RateLimited
	case 0x97:
		return QuotaExceeded
	case 0x8E:
		return KickedDuplicateID
	}
	return ""
}

// ClassifyName is Classify for a reason name as ReasonName gives it ("" for
// a name without a classification).
func ClassifyName(name string) string {
	switch name {
	case reasonNames[0x96]:
		return RateLimited
	case reasonNames[0x97]:
		return QuotaExceeded
	case reasonNames[0x8E]:
		return KickedDuplicateID
	}
	return ""
}
