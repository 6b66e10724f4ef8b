package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// CheckClient reports whether name is an MQTT client implementation a
// group may use (ClientNative or ClientPaho). The error says what is
// accepted; the CLI's --client flag is checked with it, as "client:" is.
func CheckClient(name string) error {
	switch name {
	case ClientNative, ClientPaho:
		return nil
	}
	msg := fmt.Sprintf("unknown client %q", name)
	if hint := clientHint(name); hint != "" {
		msg += "; " + hint
	}
	return errors.New(msg)
}

func clientHint(name string) string {
	if strings.Contains(strings.ToLower(name), "paho") {
		return `did you mean "paho"? (paho.mqtt.golang)`
	}
	if h := suggest(name, []string{ClientNative, ClientPaho}); h != "" {
		return h
	}
	return "want native (engine/iot's session) or paho (paho.mqtt.golang)"
}

// requestTimeoutRange is the request_timeout_ms range an SDK profile
// accepts (reference 1.2).
func requestTimeoutRange(sdk string) (lo, hi time.Duration) {
	if sdk == SDK301 {
		return 500 * time.Millisecond, 5 * time.Second
	}
	return time.Second, 10 * time.Second
}

// decodeMQTT decodes the MQTT settings of group n: client, mqtt_version,
// sdk, request_timeout, max_packet_size and mqtt5.
func (d *decoder) decodeMQTT(g *Group, n *node, path string) {
	f := func(k string) string { return join(path, k) }

	cn := n.get("client")
	if v, ok := d.str(cn, f("client")); ok {
		if CheckClient(v) == nil {
			g.Client = v
		} else {
			d.errh(cn, f("client"), clientHint(v), "unknown client %q", v)
		}
	}

	vn := n.get("mqtt_version")
	versionOK := true
	if vn != nil {
		g.MQTTVersion, versionOK = d.mqttVersion(vn, f("mqtt_version"))
	}

	sn := n.get("sdk")
	sdkOK := true
	if sn != nil {
		g.SDK, sdkOK = d.sdkProfile(sn, f("sdk"))
	}

	if g.Client == ClientPaho && g.MQTTVersion == MQTTv5 {
		// Point at whichever of the two an override set, else at the version.
		at, field := vn, f("mqtt_version")
		if cn != nil && cn.set != "" && vn.set == "" {
			at, field = cn, f("client")
		}
		d.errh(at, field, "use client: native for MQTT 5, or mqtt_version: 3.1.1 with paho",
			"client paho (paho.mqtt.golang) speaks only MQTT 3.1.1, not MQTT 5")
	}

	if tn := n.get("request_timeout"); tn != nil {
		if v, ok := d.duration(tn, f("request_timeout")); ok && sdkOK {
			lo, hi := requestTimeoutRange(g.SDK)
			if v != 0 && (v < lo || v > hi) {
				d.errh(tn, f("request_timeout"), "leave it out (or write 0s) for the profile's default",
					"%s is out of range for sdk %s (want %s … %s, the SDK's request_timeout_ms range)", v, g.SDK, lo, hi)
			} else {
				g.RequestTimeout = v
			}
		}
	}

	if pn := n.get("max_packet_size"); pn != nil {
		if v, ok := d.integer(pn, f("max_packet_size")); ok {
			switch {
			case v == 0:
			case v < 0:
				d.errf(pn, f("max_packet_size"), "%d is negative", v)
			case v < MinMaxPacketSize:
				d.errh(pn, f("max_packet_size"), "0 (or leaving it out) means the profile's buffer, 3,072 bytes for the 3.x SDKs",
					"%d bytes is too small (want %d … %d)", v, MinMaxPacketSize, MaxMaxPacketSize)
			case v > MaxMaxPacketSize:
				d.errh(pn, f("max_packet_size"), "MQTT's limit is 268435455 bytes (256 MiB)",
					"%d bytes is too large (want %d … %d)", v, MinMaxPacketSize, MaxMaxPacketSize)
			default:
				g.MaxPacketSize = int(v)
			}
		}
	}

	mn := n.get("mqtt5")
	if mn == nil {
		if g.MQTTVersion == MQTTv5 {
			g.MQTT5 = &MQTT5{}
		}
		return
	}
	m, ok := d.decodeMQTT5(mn, f("mqtt5"))
	switch {
	case !versionOK:
	case g.MQTTVersion != MQTTv5:
		hint := "set mqtt_version: 5, or remove mqtt5"
		if vn == nil {
			hint = "add mqtt_version: 5 (the default is 3.1.1), or remove mqtt5"
		}
		d.errh(mn, f("mqtt5"), hint, "mqtt5 settings need mqtt_version: 5; this group speaks MQTT 3.1.1")
	case ok:
		g.MQTT5 = m
	}
}

// mqttVersion decodes mqtt_version: 3.1.1 (or 4) and 5 (or 5.0), written
// as numbers or strings.
func (d *decoder) mqttVersion(n *node, path string) (int, bool) {
	switch n.kind {
	case kindString, kindInt, kindFloat:
	default:
		d.errh(n, path, "write 3.1.1 or 5", "want an MQTT version, got %s", describe(n))
		return MQTTv311, false
	}
	switch v := strings.TrimSpace(n.text); v {
	case "3.1.1", "4":
		return MQTTv311, true
	case "5", "5.0":
		return MQTTv5, true
	case "3.1", "3":
		d.errh(n, path, "write 3.1.1 (protocol level 4) or 5",
			"MQTT 3.1 (protocol level 3) is not supported")
	default:
		d.errh(n, path, "want 3.1.1 (or 4, its protocol level) or 5", "%q is not an MQTT version", v)
	}
	return MQTTv311, false
}

// sdkProfile decodes sdk: 3.2.0, 3.0.1 or 4.x.
func (d *decoder) sdkProfile(n *node, path string) (string, bool) {
	known := []string{SDK320, SDK301, SDK4x}
	switch n.kind {
	case kindString, kindInt, kindFloat:
	default:
		d.errh(n, path, "want 3.2.0, 3.0.1 or 4.x", "want an SDK profile, got %s", describe(n))
		return SDK320, false
	}
	v := strings.TrimSpace(n.text)
	if n.kind == kindString {
		for _, k := range known {
			if v == k {
				return v, true
			}
		}
	}
	hint := ""
	switch w := strings.TrimPrefix(strings.ToLower(v), "v"); {
	case w == "4" || strings.HasPrefix(w, "4."):
		hint = `did you mean "4.x"? (one profile covers the 4.x releases)`
	case w == "3.2" || strings.HasPrefix(w, "3.2."):
		hint = `did you mean "3.2.0"?`
	case w == "3.0" || w == "3" || strings.HasPrefix(w, "3.0."):
		hint = `did you mean "3.0.1"?`
	default:
		hint = "want 3.2.0, 3.0.1 or 4.x"
	}
	d.errh(n, path, hint, "unknown SDK profile %q", v)
	return SDK320, false
}

// decodeMQTT5 decodes a group's "mqtt5:" section.
func (d *decoder) decodeMQTT5(n *node, path string) (*MQTT5, bool) {
	if !d.object(n, path, mqtt5Schema) {
		return nil, false
	}
	f := func(k string) string { return join(path, k) }
	m := &MQTT5{}
	ok := true
	if sn := n.get("session_expiry"); sn != nil {
		if v, good := d.duration(sn, f("session_expiry")); !good {
			ok = false
		} else if v > MaxSessionExpiry {
			d.errh(sn, f("session_expiry"), "4294967295s (about 136 years) means the session never expires",
				"%s is too long (want 0 … 4294967295s)", v)
			ok = false
		} else if v%time.Second != 0 {
			d.errh(sn, f("session_expiry"), fmt.Sprintf("write %s", v.Round(time.Second)),
				"%s is not a whole number of seconds (the interval is sent in seconds)", v)
			ok = false
		} else {
			m.SessionExpiry = v
		}
	}
	if rn := n.get("receive_maximum"); rn != nil {
		if v, good := d.integer(rn, f("receive_maximum")); !good {
			ok = false
		} else if v < 0 || v > MaxReceiveMaximum {
			d.errh(rn, f("receive_maximum"), "0 (or leaving it out) means the protocol default, 65535",
				"%d is out of range (want 0 … %d)", v, MaxReceiveMaximum)
			ok = false
		} else {
			m.ReceiveMaximum = int(v)
		}
	}
	if tn := n.get("topic_aliases"); tn != nil {
		if v, good := d.boolean(tn, f("topic_aliases")); good {
			m.TopicAliases = v
		} else {
			ok = false
		}
	}
	if un := n.get("user_properties"); un != nil {
		props, good := d.userProperties(un, f("user_properties"))
		m.UserProperties, ok = props, ok && good
	}
	return m, ok
}

// maxPropertyString is the longest UTF-8 string MQTT can encode.
const maxPropertyString = 65535

// userProperties decodes a mapping of string to string, in file order.
// Values may use ${env:NAME}.
func (d *decoder) userProperties(n *node, path string) ([]UserProperty, bool) {
	if n.kind != kindMap {
		d.errh(n, path, "e.g. user_properties: {region: eu, fleet: ${env:FLEET}}",
			"want a mapping of names to values, got %s", describe(n))
		return nil, false
	}
	if !d.object(n, path, userPropertiesSchema) {
		return nil, false
	}
	ok := true
	props := make([]UserProperty, 0, len(n.entries))
	for i, e := range n.entries {
		p := join(path, e.key)
		at := &node{line: e.line, col: e.col, set: e.val.set, flag: e.val.flag}
		if dup := dupKey(n.entries[:i], e.key); dup {
			ok = false // reported by object
			continue
		}
		if msg := checkMQTTString(e.key); msg != "" {
			d.errf(at, p, "the name %s", msg)
			ok = false
		}
		if e.val == nil || e.val.kind == kindNull {
			d.errh(at, p, `write "" for an empty value`, "no value")
			ok = false
			continue
		}
		t, good := d.template(e.val, p, phEnvOnly, "user properties")
		if !good {
			ok = false
			continue
		}
		v, _ := t.literal()
		if msg := checkMQTTString(v); msg != "" {
			d.errf(e.val, p, "the value %s", msg)
			ok = false
			continue
		}
		props = append(props, UserProperty{Key: e.key, Value: v})
	}
	return props, ok
}

func dupKey(prev []entry, key string) bool {
	for _, e := range prev {
		if e.key == key {
			return true
		}
	}
	return false
}

// checkMQTTString returns why s cannot be sent as an MQTT UTF-8 string, or "".
func checkMQTTString(s string) string {
	switch {
	case len(s) > maxPropertyString:
		return fmt.Sprintf("is %d bytes long; MQTT strings hold at most %d", len(s), maxPropertyString)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsRune(s, 0):
		return "contains U+0000, which MQTT strings may not"
	}
	return ""
}
