package scenarios

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mqttGroup is a one-group scenario with the given group lines (indented
// by four spaces) after name and count; the first extra line is line 5.
func mqttGroup(lines ...string) string {
	var b strings.Builder
	b.WriteString("duration: 10s\ndevices:\n  - name: g\n    count: 2\n")
	for _, l := range lines {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// TestMQTTDefaults: a group that sets none of the MQTT fields gets the
// defaults, in the group and in every plan.
func TestMQTTDefaults(t *testing.T) {
	s := mustParse(t, mqttGroup())
	g := s.Groups[0]
	if g.Client != ClientNative || g.MQTTVersion != MQTTv311 || g.SDK != SDK320 ||
		g.RequestTimeout != 0 || g.MaxPacketSize != 0 || g.MQTT5 != nil || g.Yield != DefaultYield {
		t.Errorf("defaults: client %q version %d sdk %q timeout %s max %d mqtt5 %v yield %s",
			g.Client, g.MQTTVersion, g.SDK, g.RequestTimeout, g.MaxPacketSize, g.MQTT5, g.Yield)
	}
	p, _ := s.Plan(1)
	if p.Client != ClientNative || p.MQTTVersion != MQTTv311 || p.SDK != SDK320 || p.MQTT5 != nil || p.Yield != DefaultYield {
		t.Errorf("plan: %+v", p)
	}
}

// TestMQTTFields decodes each field's accepted spellings.
func TestMQTTFields(t *testing.T) {
	type want struct {
		client  string
		version int
		sdk     string
		timeout time.Duration
		maxSize int
		yield   time.Duration
		mqtt5   *MQTT5
	}
	def := want{ClientNative, MQTTv311, SDK320, 0, 0, DefaultYield, nil}
	with := func(f func(*want)) want { w := def; f(&w); return w }
	for _, tt := range []struct {
		name  string
		lines []string
		want  want
	}{
		{"client native", []string{"client: native"}, def},
		{"client paho", []string{"client: paho"}, with(func(w *want) { w.client = ClientPaho })},
		{"version 3.1.1", []string{"mqtt_version: 3.1.1"}, def},
		{"version quoted 3.1.1", []string{`mqtt_version: "3.1.1"`}, def},
		{"version 4", []string{"mqtt_version: 4"}, def},
		{"version 5", []string{"mqtt_version: 5"}, with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{} })},
		{"version quoted 5", []string{`mqtt_version: "5"`}, with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{} })},
		{"version 5.0", []string{"mqtt_version: 5.0"}, with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{} })},
		{"version quoted 5.0", []string{`mqtt_version: "5.0"`}, with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{} })},
		{"sdk 3.2.0", []string{"sdk: 3.2.0"}, def},
		{"sdk 3.0.1", []string{"sdk: 3.0.1"}, with(func(w *want) { w.sdk = SDK301 })},
		{"sdk 4.x", []string{"sdk: 4.x"}, with(func(w *want) { w.sdk = SDK4x })},
		{"request_timeout 0", []string{"request_timeout: 0s"}, def},
		{"request_timeout 3.2.0 low", []string{"request_timeout: 1s"}, with(func(w *want) { w.timeout = time.Second })},
		{"request_timeout 3.2.0 high", []string{"request_timeout: 10s"}, with(func(w *want) { w.timeout = 10 * time.Second })},
		{"request_timeout 3.0.1 low", []string{"sdk: 3.0.1", "request_timeout: 500ms"},
			with(func(w *want) { w.sdk, w.timeout = SDK301, 500*time.Millisecond })},
		{"request_timeout 3.0.1 high", []string{"sdk: 3.0.1", "request_timeout: 5s"},
			with(func(w *want) { w.sdk, w.timeout = SDK301, 5*time.Second })},
		{"request_timeout 4.x", []string{"sdk: 4.x", "request_timeout: 10s"},
			with(func(w *want) { w.sdk, w.timeout = SDK4x, 10*time.Second })},
		{"max_packet_size 0", []string{"max_packet_size: 0"}, def},
		{"max_packet_size 16", []string{"max_packet_size: 16"}, with(func(w *want) { w.maxSize = 16 })},
		{"max_packet_size max", []string{"max_packet_size: 268435455"}, with(func(w *want) { w.maxSize = MaxMaxPacketSize })},
		{"max_packet_size 1_000_000", []string{"max_packet_size: 1_000_000"}, with(func(w *want) { w.maxSize = 1_000_000 })},
		{"yield", []string{"yield: 50ms"}, with(func(w *want) { w.yield = 50 * time.Millisecond })},
		{"mqtt5 all", []string{"mqtt_version: 5", "mqtt5:",
			"  session_expiry: 1h", "  receive_maximum: 100", "  topic_aliases: true",
			"  user_properties:", "    zone: eu-1", "    app: fleetbench", "    pk: ${env:FLEET_PK}", `    empty: ""`},
			with(func(w *want) {
				w.version = 5
				w.mqtt5 = &MQTT5{SessionExpiry: time.Hour, ReceiveMaximum: 100, TopicAliases: true,
					UserProperties: []UserProperty{{"zone", "eu-1"}, {"app", "fleetbench"}, {"pk", "a1FromEnv"}, {"empty", ""}}}
			})},
		{"mqtt5 limits", []string{"mqtt_version: 5", "mqtt5: {session_expiry: 4294967295s, receive_maximum: 65535}"},
			with(func(w *want) {
				w.version = 5
				w.mqtt5 = &MQTT5{SessionExpiry: MaxSessionExpiry, ReceiveMaximum: 65535}
			})},
		{"mqtt5 zero", []string{"mqtt_version: 5", "mqtt5: {session_expiry: 0s, receive_maximum: 0, topic_aliases: false, user_properties: {}}"},
			with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{UserProperties: []UserProperty{}} })},
		{"mqtt5 empty", []string{"mqtt_version: 5", "mqtt5: {}"}, with(func(w *want) { w.version, w.mqtt5 = 5, &MQTT5{} })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, mqttGroup(tt.lines...))
			g := s.Groups[0]
			got := want{g.Client, g.MQTTVersion, g.SDK, g.RequestTimeout, g.MaxPacketSize, g.Yield, g.MQTT5}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v (mqtt5 %+v)\nwant %+v (mqtt5 %+v)", got, got.mqtt5, tt.want, tt.want.mqtt5)
			}
			p, ok := s.Plan(1)
			if !ok {
				t.Fatal("no plan 1")
			}
			gotPlan := want{p.Client, p.MQTTVersion, p.SDK, p.RequestTimeout, p.MaxPacketSize, p.Yield, p.MQTT5}
			if !reflect.DeepEqual(gotPlan, got) {
				t.Errorf("plan %+v, group %+v", gotPlan, got)
			}
			if p.MQTT5 != g.MQTT5 {
				t.Error("the plan does not share the group's MQTT5")
			}
		})
	}
}

// TestMQTTErrors checks every rejected value: position, field, message, hint.
func TestMQTTErrors(t *testing.T) {
	const at = "testdata/case.yaml:5:"
	for _, tt := range []struct {
		name  string
		lines []string
		want  string // the whole error text
	}{
		{"client unknown", []string{"client: mosquitto"},
			at + `13: devices[0].client: unknown client "mosquitto"; want native (engine/iot's session) or paho (paho.mqtt.golang)`},
		{"client typo", []string{"client: natve"}, at + `13: devices[0].client: unknown client "natve"; did you mean "native"?`},
		{"client paho module", []string{"client: paho.mqtt.golang"},
			at + `13: devices[0].client: unknown client "paho.mqtt.golang"; did you mean "paho"? (paho.mqtt.golang)`},
		{"client number", []string{"client: 1"}, at + `13: devices[0].client: want a string, got an integer (1); quote it: "1"`},
		{"paho with mqtt 5", []string{"client: paho", "mqtt_version: 5"},
			"testdata/case.yaml:6:19: devices[0].mqtt_version: client paho (paho.mqtt.golang) speaks only MQTT 3.1.1, not MQTT 5; use client: native for MQTT 5, or mqtt_version: 3.1.1 with paho"},
		{"version 3", []string{"mqtt_version: 3"},
			at + `19: devices[0].mqtt_version: MQTT 3.1 (protocol level 3) is not supported; write 3.1.1 (protocol level 4) or 5`},
		{"version 3.1", []string{"mqtt_version: 3.1"},
			at + `19: devices[0].mqtt_version: MQTT 3.1 (protocol level 3) is not supported; write 3.1.1 (protocol level 4) or 5`},
		{"version 6", []string{"mqtt_version: 6"},
			at + `19: devices[0].mqtt_version: "6" is not an MQTT version; want 3.1.1 (or 4, its protocol level) or 5`},
		{"version v5", []string{"mqtt_version: v5"},
			at + `19: devices[0].mqtt_version: "v5" is not an MQTT version; want 3.1.1 (or 4, its protocol level) or 5`},
		{"version bool", []string{"mqtt_version: true"},
			at + `19: devices[0].mqtt_version: want an MQTT version, got a boolean (true); write 3.1.1 or 5`},
		{"sdk 4", []string{"sdk: 4"}, at + `10: devices[0].sdk: unknown SDK profile "4"; did you mean "4.x"? (one profile covers the 4.x releases)`},
		{"sdk 4.1.0", []string{"sdk: 4.1.0"}, at + `10: devices[0].sdk: unknown SDK profile "4.1.0"; did you mean "4.x"? (one profile covers the 4.x releases)`},
		{"sdk 3.2", []string{"sdk: 3.2"}, at + `10: devices[0].sdk: unknown SDK profile "3.2"; did you mean "3.2.0"?`},
		{"sdk 3.0", []string{"sdk: v3.0"}, at + `10: devices[0].sdk: unknown SDK profile "v3.0"; did you mean "3.0.1"?`},
		{"sdk 2.3.0", []string{"sdk: 2.3.0"}, at + `10: devices[0].sdk: unknown SDK profile "2.3.0"; want 3.2.0, 3.0.1 or 4.x`},
		{"sdk list", []string{"sdk: [3.2.0]"}, at + `10: devices[0].sdk: want an SDK profile, got a list; want 3.2.0, 3.0.1 or 4.x`},
		{"request_timeout 3.2.0 low", []string{"request_timeout: 500ms"},
			at + `22: devices[0].request_timeout: 500ms is out of range for sdk 3.2.0 (want 1s … 10s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default`},
		{"request_timeout 3.2.0 high", []string{"request_timeout: 11s"},
			at + `22: devices[0].request_timeout: 11s is out of range for sdk 3.2.0 (want 1s … 10s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default`},
		{"request_timeout 3.0.1 high", []string{"sdk: 3.0.1", "request_timeout: 6s"},
			`testdata/case.yaml:6:22: devices[0].request_timeout: 6s is out of range for sdk 3.0.1 (want 500ms … 5s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default`},
		{"request_timeout 3.0.1 low", []string{"request_timeout: 400ms", "sdk: 3.0.1"},
			at + `22: devices[0].request_timeout: 400ms is out of range for sdk 3.0.1 (want 500ms … 5s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default`},
		{"request_timeout 4.x low", []string{"sdk: 4.x", "request_timeout: 999ms"},
			`testdata/case.yaml:6:22: devices[0].request_timeout: 999ms is out of range for sdk 4.x (want 1s … 10s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default`},
		{"request_timeout no unit", []string{"request_timeout: 5"},
			at + `22: devices[0].request_timeout: want a duration, got an integer (5); add a unit, e.g. 5s`},
		{"request_timeout negative", []string{"request_timeout: -1s"}, at + `22: devices[0].request_timeout: -1s is negative`},
		{"max_packet_size small", []string{"max_packet_size: 15"},
			at + `22: devices[0].max_packet_size: 15 bytes is too small (want 16 … 268435455); 0 (or leaving it out) means the profile's buffer, 3,072 bytes for the 3.x SDKs`},
		{"max_packet_size large", []string{"max_packet_size: 268435456"},
			at + `22: devices[0].max_packet_size: 268435456 bytes is too large (want 16 … 268435455); MQTT's limit is 268435455 bytes (256 MiB)`},
		{"max_packet_size negative", []string{"max_packet_size: -1"}, at + `22: devices[0].max_packet_size: -1 is negative`},
		{"max_packet_size string", []string{"max_packet_size: 3KiB"}, at + `22: devices[0].max_packet_size: want an integer, got a string ("3KiB")`},
		{"mqtt5 without version", []string{"mqtt5: {topic_aliases: true}"},
			at + `13: devices[0].mqtt5: mqtt5 settings need mqtt_version: 5; this group speaks MQTT 3.1.1; add mqtt_version: 5 (the default is 3.1.1), or remove mqtt5`},
		{"mqtt5 with 3.1.1", []string{"mqtt_version: 3.1.1", "mqtt5: {topic_aliases: true}"},
			`testdata/case.yaml:6:13: devices[0].mqtt5: mqtt5 settings need mqtt_version: 5; this group speaks MQTT 3.1.1; set mqtt_version: 5, or remove mqtt5`},
		{"mqtt5 not a mapping", []string{"mqtt_version: 5", "mqtt5: true"},
			`testdata/case.yaml:6:12: devices[0].mqtt5: want a mapping (mqtt5), got a boolean (true)`},
		{"mqtt5 unknown key", []string{"mqtt_version: 5", "mqtt5: {topic_alias: true}"},
			`testdata/case.yaml:6:13: devices[0].mqtt5.topic_alias: unknown field "topic_alias" in mqtt5; did you mean "topic_aliases"?`},
		{"session_expiry long", []string{"mqtt_version: 5", "mqtt5: {session_expiry: 4294967296s}"},
			`testdata/case.yaml:6:29: devices[0].mqtt5.session_expiry: 1193046h28m16s is too long (want 0 … 4294967295s); 4294967295s (about 136 years) means the session never expires`},
		{"session_expiry fraction", []string{"mqtt_version: 5", "mqtt5: {session_expiry: 1500ms}"},
			`testdata/case.yaml:6:29: devices[0].mqtt5.session_expiry: 1.5s is not a whole number of seconds (the interval is sent in seconds); write 2s`},
		{"session_expiry negative", []string{"mqtt_version: 5", "mqtt5: {session_expiry: -1s}"},
			`testdata/case.yaml:6:29: devices[0].mqtt5.session_expiry: -1s is negative`},
		{"receive_maximum high", []string{"mqtt_version: 5", "mqtt5: {receive_maximum: 65536}"},
			`testdata/case.yaml:6:30: devices[0].mqtt5.receive_maximum: 65536 is out of range (want 0 … 65535); 0 (or leaving it out) means the protocol default, 65535`},
		{"receive_maximum negative", []string{"mqtt_version: 5", "mqtt5: {receive_maximum: -1}"},
			`testdata/case.yaml:6:30: devices[0].mqtt5.receive_maximum: -1 is out of range (want 0 … 65535); 0 (or leaving it out) means the protocol default, 65535`},
		{"topic_aliases string", []string{"mqtt_version: 5", `mqtt5: {topic_aliases: "yes"}`},
			`testdata/case.yaml:6:28: devices[0].mqtt5.topic_aliases: want true or false, got a string ("yes"); write true or false without quotes`},
		{"user_properties list", []string{"mqtt_version: 5", "mqtt5: {user_properties: [a, b]}"},
			`testdata/case.yaml:6:30: devices[0].mqtt5.user_properties: want a mapping of names to values, got a list; e.g. user_properties: {region: eu, fleet: ${env:FLEET}}`},
		{"user_properties number", []string{"mqtt_version: 5", "mqtt5: {user_properties: {version: 2}}"},
			`testdata/case.yaml:6:40: devices[0].mqtt5.user_properties.version: want a string, got an integer (2); quote it: "2"`},
		{"user_properties null", []string{"mqtt_version: 5", "mqtt5: {user_properties: {zone: }}"},
			`testdata/case.yaml:6:31: devices[0].mqtt5.user_properties.zone: no value; write "" for an empty value`},
		{"user_properties placeholder", []string{"mqtt_version: 5", "mqtt5: {user_properties: {dn: '${deviceName}'}}"},
			`testdata/case.yaml:6:36: devices[0].mqtt5.user_properties.dn: ${deviceName} cannot be used in user properties`},
		{"user_properties missing env", []string{"mqtt_version: 5", "mqtt5: {user_properties: {fleet: '${env:NOPE}'}}"},
			`testdata/case.yaml:6:39: devices[0].mqtt5.user_properties.fleet: environment variable NOPE is not set`},
		{"user_properties NUL", []string{"mqtt_version: 5", `mqtt5: {user_properties: {"a\0b": x}}`},
			`testdata/case.yaml:6:31: devices[0].mqtt5.user_properties.a\x00b: the name contains U+0000, which MQTT strings may not`},
		{"user_properties duplicate", []string{"mqtt_version: 5", "mqtt5:", "  user_properties:", "    a: x", "    a: y"},
			`testdata/case.yaml:9:9: devices[0].mqtt5.user_properties.a: duplicate key "a" (first set at line 8)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(t, mqttGroup(tt.lines...))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestMQTTSet overrides each field with --set, and checks that a bad
// override is reported as coming from --set.
func TestMQTTSet(t *testing.T) {
	doc := setDoc(t)
	for _, arg := range []string{
		"devices[0].client=paho",
		"devices[sensors].sdk=3.0.1",
		"devices[0].request_timeout=5s",
		"devices[0].max_packet_size=4096",
		"devices[0].yield=100ms",
		"devices[1].mqtt_version=5",
		"devices[1].mqtt5.session_expiry=10m",
		"devices[1].mqtt5.receive_maximum=10",
		"devices[1].mqtt5.topic_aliases=true",
		"devices[1].mqtt5.user_properties.zone=eu-1",
		"devices[1].mqtt5.user_properties={zone: eu-2, app: fb}", // a whole mapping
		"devices[1].mqtt5.user_properties.rack=r7",               // added after
	} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	p0, _ := s.Plan(0)
	if p0.Client != ClientPaho || p0.SDK != SDK301 || p0.RequestTimeout != 5*time.Second || p0.MaxPacketSize != 4096 ||
		p0.Yield != 100*time.Millisecond || p0.MQTTVersion != MQTTv311 || p0.MQTT5 != nil {
		t.Errorf("plan 0: %+v", p0)
	}
	p1, _ := s.Plan(10)
	want := &MQTT5{SessionExpiry: 10 * time.Minute, ReceiveMaximum: 10, TopicAliases: true,
		UserProperties: []UserProperty{{"zone", "eu-2"}, {"app", "fb"}, {"rack", "r7"}}}
	if p1.Client != ClientNative || p1.MQTTVersion != MQTTv5 || !reflect.DeepEqual(p1.MQTT5, want) {
		t.Errorf("plan 10: %+v, mqtt5 %+v", p1, p1.MQTT5)
	}

	for _, tt := range []struct{ arg, want string }{
		{"devices[0].client=mqtt", `testdata/set.yaml:6:5: devices[0].client: unknown client "mqtt"; want native (engine/iot's session) or paho (paho.mqtt.golang) (from --set devices[0].client=mqtt)`},
		{"devices[0].mqtt_version=3", `testdata/set.yaml:6:5: devices[0].mqtt_version: MQTT 3.1 (protocol level 3) is not supported; write 3.1.1 (protocol level 4) or 5 (from --set devices[0].mqtt_version=3)`},
		{"devices[0].sdk=4", `testdata/set.yaml:6:5: devices[0].sdk: unknown SDK profile "4"; did you mean "4.x"? (one profile covers the 4.x releases) (from --set devices[0].sdk=4)`},
		{"devices[0].request_timeout=20s", `testdata/set.yaml:6:5: devices[0].request_timeout: 20s is out of range for sdk 3.2.0 (want 1s … 10s, the SDK's request_timeout_ms range); leave it out (or write 0s) for the profile's default (from --set devices[0].request_timeout=20s)`},
		{"devices[0].max_packet_size=8", `testdata/set.yaml:6:5: devices[0].max_packet_size: 8 bytes is too small (want 16 … 268435455); 0 (or leaving it out) means the profile's buffer, 3,072 bytes for the 3.x SDKs (from --set devices[0].max_packet_size=8)`},
		{"devices[0].mqtt5.topic_aliases=true", `testdata/set.yaml:6:5: devices[0].mqtt5: mqtt5 settings need mqtt_version: 5; this group speaks MQTT 3.1.1; add mqtt_version: 5 (the default is 3.1.1), or remove mqtt5 (from --set devices[0].mqtt5.topic_aliases=true)`},
	} {
		doc := setDoc(t)
		if err := doc.ApplySetArg(tt.arg); err != nil {
			t.Fatalf("%s: %v", tt.arg, err)
		}
		_, err := doc.Scenario()
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\ngot  %v\nwant %s", tt.arg, err, tt.want)
		}
	}
	if err := setDoc(t).ApplySetArg("devices[0].mqtt5.user_properties.a.b=1"); err == nil ||
		err.Error() != "--set: devices[0].mqtt5.user_properties.a: devices[0].mqtt5.user_properties.a is a value, not a mapping or list (from --set devices[0].mqtt5.user_properties.a.b=1)" {
		t.Errorf("nested user property: %v", err)
	}
}

// TestApplySetEvery: [*] sets a field of every element of a list.
func TestApplySetEvery(t *testing.T) {
	doc := setDoc(t)
	if err := doc.ApplySetArg("devices[*].client=paho"); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("devices[*].publish[*].qos=2"); err != nil { // gateways publish nothing
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("devices[gateways].client=native"); err != nil { // applied later, wins
		t.Fatal(err)
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if s.Groups[0].Client != ClientPaho || s.Groups[1].Client != ClientNative || s.Groups[0].Publish[0].QoS != 2 {
		t.Errorf("clients %q %q, qos %d", s.Groups[0].Client, s.Groups[1].Client, s.Groups[0].Publish[0].QoS)
	}

	// A document without devices: nothing to set, and the missing list is
	// reported as usual.
	empty, _ := ParseDocument("empty.yaml", []byte("duration: 1s\n"))
	if err := empty.ApplySetArg("devices[*].client=paho"); err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Scenario(); err == nil || !strings.Contains(err.Error(), "devices") {
		t.Errorf("empty: %v", err)
	}
	if err := setDoc(t).ApplySetArg("name[*]=1"); err == nil ||
		err.Error() != "--set: name: name is a value, not a mapping or list (from --set name[*]=1)" {
		t.Errorf("[*] of a value: %v", err)
	}
}

// TestApplyFlag: an override on behalf of a flag names the flag in every
// error, the flag's own and the value's.
func TestApplyFlag(t *testing.T) {
	doc := setDoc(t)
	if err := doc.ApplyFlag("--client mqtt", "devices[*].client=mqtt"); err != nil {
		t.Fatal(err)
	}
	_, err := doc.Scenario()
	want := `testdata/set.yaml:6:5: devices[0].client: unknown client "mqtt"; want native (engine/iot's session) or paho (paho.mqtt.golang) (from --client mqtt)` + "\n" +
		`testdata/set.yaml:11:5: devices[1].client: unknown client "mqtt"; want native (engine/iot's session) or paho (paho.mqtt.golang) (from --client mqtt)`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	for _, e := range Errors(err) {
		if e.Flag != "--client mqtt" || e.Set != "devices[*].client=mqtt" {
			t.Errorf("Flag %q Set %q", e.Flag, e.Set)
		}
	}

	// paho and MQTT 5 in the file: the error points at the flag's value.
	doc = setDoc(t)
	if err := doc.ApplySetArg("devices[1].mqtt_version=5"); err != nil {
		t.Fatal(err)
	}
	doc2, _ := ParseDocument("testdata/case.yaml", []byte(mqttGroup("mqtt_version: 5")))
	if err := doc2.ApplyFlag("--client paho", "devices[*].client=paho"); err != nil {
		t.Fatal(err)
	}
	_, err = doc2.Scenario()
	want = "testdata/case.yaml:3:5: devices[0].client: client paho (paho.mqtt.golang) speaks only MQTT 3.1.1, not MQTT 5; use client: native for MQTT 5, or mqtt_version: 3.1.1 with paho (from --client paho)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}

	var e *Error
	bad, _ := ParseDocument("x.yaml", []byte("devices: 5\n"))
	if err := bad.ApplyFlag("--client paho", "devices[*].client=paho"); !errors.As(err, &e) ||
		err.Error() != "--client paho: devices[*]: devices is not a list in the file (from --client paho)" {
		t.Errorf("flag on a bad document: %v", err)
	}
}

func TestCheckClient(t *testing.T) {
	for _, c := range []string{ClientNative, ClientPaho} {
		if err := CheckClient(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for name, want := range map[string]string{
		"":         `unknown client ""; want native (engine/iot's session) or paho (paho.mqtt.golang)`,
		"Paho":     `unknown client "Paho"; did you mean "paho"? (paho.mqtt.golang)`,
		"nativ":    `unknown client "nativ"; did you mean "native"?`,
		"emqtt":    `unknown client "emqtt"; want native (engine/iot's session) or paho (paho.mqtt.golang)`,
		"NATIVE  ": `unknown client "NATIVE  "; did you mean "native"?`,
	} {
		if err := CheckClient(name); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", name, err, want)
		}
	}
}
