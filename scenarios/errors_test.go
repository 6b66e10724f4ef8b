package scenarios

import (
	"errors"
	"strings"
	"testing"
)

// testEnv is the environment the tests see: FLEET_PK is set, nothing else.
func testEnv(name string) (string, bool) {
	if name == "FLEET_PK" {
		return "a1FromEnv", true
	}
	return "", false
}

// parseTest parses a scenario as if it were testdata/case.yaml.
func parseTest(t *testing.T, src string) (*Scenario, error) {
	t.Helper()
	doc, err := ParseDocument("testdata/case.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	doc.Env = testEnv
	return doc.Scenario()
}

func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	s, err := parseTest(t, src)
	if err != nil {
		t.Fatalf("unexpected error:\n%v", err)
	}
	return s
}

// TestMalformed checks that each broken scenario is rejected with an error
// at the exact file:line:col, naming the field, with the expected message
// (and hint).
func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// want is the expected prefix "file:line:col: field: " followed by
		// a part of the message: Error() must contain it.
		want string
	}{
		{
			name: "unknown key with suggestion",
			src: `duration: 10s
devices:
  - name: g
    cuont: 10
`,
			want: `testdata/case.yaml:4:5: devices[0].cuont: unknown field "cuont" in device group; did you mean "count"?`,
		},
		{
			name: "unknown top-level key",
			src: `duraton: 10s
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:1: duraton: unknown field "duraton" in scenario; did you mean "duration"?`,
		},
		{
			name: "camelCase key suggests snake_case",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    productKey: a1B
`,
			want: `testdata/case.yaml:5:5: devices[0].productKey: unknown field "productKey" in device group; did you mean "product_key"?`,
		},
		{
			name: "wrong type",
			src: `duration: 10s
devices:
  - name: g
    count: ten
`,
			want: `testdata/case.yaml:4:12: devices[0].count: want an integer, got a string ("ten")`,
		},
		{
			name: "quoted number",
			src: `duration: 10s
devices:
  - name: g
    count: "10"
`,
			want: `testdata/case.yaml:4:12: devices[0].count: want an integer, got a string ("10"); remove the quotes`,
		},
		{
			name: "negative count",
			src: `duration: 10s
devices:
  - name: g
    count: -5
`,
			want: `testdata/case.yaml:4:12: devices[0].count: -5 is out of range (want 1 … 10000000)`,
		},
		{
			name: "huge count",
			src: `duration: 10s
devices:
  - name: g
    count: 20000000
`,
			want: `testdata/case.yaml:4:12: devices[0].count: 20000000 is more than the 10000000 devices a group may hold`,
		},
		{
			name: "zero connect rate",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    connect:
      rate: 0/s
`,
			want: `testdata/case.yaml:6:13: devices[0].connect.rate: "0/s" is not a rate: the count must be at least 1`,
		},
		{
			name: "rate without unit",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    connect: {rate: 500}
`,
			want: `testdata/case.yaml:5:21: devices[0].connect.rate: want a rate, got an integer (500); add a unit: 500/s`,
		},
		{
			name: "qos 3",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a/b
        rate: 1/s
      - topic: a/c
        interval: 1s
        qos: 3
`,
			want: `testdata/case.yaml:10:14: devices[0].publish[1].qos: 3 is not a QoS (want 0, 1 or 2)`,
		},
		{
			name: "bad URL scheme",
			src: `duration: 10s
broker:
  url: http://broker.example:1883
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:3:8: broker.url: scheme http:// is not an MQTT URL; use mqtt://, tcp://, mqtts://, ssl://, tls://, ws:// or wss://`,
		},
		{
			name: "missing host",
			src: `duration: 10s
broker:
  url: mqtt://:1883
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:3:8: broker.url: "mqtt://:1883" has no host`,
		},
		{
			name: "URL without scheme",
			src: `duration: 10s
broker: {url: "localhost:1883"}
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:2:15: broker.url: "localhost:1883" has no scheme; write mqtt://localhost:1883`,
		},
		{
			name: "interval and rate both",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a/b
        interval: 1s
        rate: 2/s
`,
			want: `testdata/case.yaml:8:15: devices[0].publish[0].rate: interval and rate both given`,
		},
		{
			name: "neither interval nor rate",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a/b
        qos: 1
`,
			want: `testdata/case.yaml:6:9: devices[0].publish[0]: needs interval or rate; e.g. interval: 1s or rate: 2/s (per device)`,
		},
		{
			name: "bad duration",
			src: `duration: 10 minutes
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:11: duration: "10 minutes" is not a duration; write 10m`,
		},
		{
			name: "duration without unit",
			src: `duration: 30
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:11: duration: want a duration, got an integer (30); add a unit, e.g. 30s`,
		},
		{
			name: "unknown placeholder",
			src: `duration: 10s
devices:
  - name: g
    count: 2
    device_name: dev-${idx}
`,
			want: `testdata/case.yaml:5:22: devices[0].device_name: unknown placeholder ${idx}; did you mean ${index}?`,
		},
		{
			name: "placeholder in emqtt-bench spelling",
			src: `duration: 10s
devices:
  - name: g
    count: 2
    publish:
      - topic: "t/${device_name}/x"
        rate: 1/s
`,
			want: `testdata/case.yaml:6:19: devices[0].publish[0].topic: unknown placeholder ${device_name}; did you mean ${deviceName}?`,
		},
		{
			name: "bad padding format",
			src: `duration: 10s
devices:
  - name: g
    count: 2
    device_name: d${index:5}
`,
			want: `testdata/case.yaml:5:19: devices[0].device_name: bad format "5" in ${index:5}; write a zero-padded width such as ${index:05}`,
		},
		{
			name: "runtime placeholder outside a payload",
			src: `duration: 10s
devices:
  - name: g
    count: 2
    publish:
      - topic: t/${seq}
        rate: 1/s
`,
			want: `testdata/case.yaml:6:18: devices[0].publish[0].topic: ${seq} is filled in at publish time and can only be used in payload templates`,
		},
		{
			name: "missing env var",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    auth: alibaba
    product_key: ${env:FLEET_PK}
    device_secret: ${env:FLEET_SECRET}
`,
			want: `testdata/case.yaml:7:20: devices[0].device_secret: environment variable FLEET_SECRET is not set`,
		},
		{
			name: "topic too long after expansion",
			src: `duration: 10s
devices:
  - name: g
    count: 100000
    auth: alibaba
    product_key: a1LongTopic
    device_secret: s
    subscribe:
      - topic: /${productKey}/${deviceName}/user/a/deeply/nested/topic/with/many/levels/that/goes/on/and/on/and/on/until/it/is/long/enough/to-fail/xyz
`,
			// 125 characters for dev-0, 129 for dev-99999.
			want: `testdata/case.yaml:9:16: devices[0].subscribe[0].topic: the topic is up to 129 characters after expansion ("/a1LongTopic/dev-99999/user/a/deeply/nested/topic/with/many/levels/that/goes/on/and/on/and/on/until/it/is/long/enough/to-fail/xyz"); the SDK allows 128`,
		},
		{
			name: "device name too long after expansion",
			src: `duration: 10s
devices:
  - name: g
    count: 100000
    auth: alibaba
    product_key: a1B
    device_secret: s
    device_name: a-rather-long-device-name-${index:08}
`,
			want: `testdata/case.yaml:8:18: devices[0].device_name: the device name is up to 34 characters (e.g. "a-rather-long-device-name-00099999"); the SDK allows 32`,
		},
		{
			name: "hash not last",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: a/#/b
`,
			want: `testdata/case.yaml:6:16: devices[0].subscribe[0].topic: '#' must be the last level of a filter`,
		},
		{
			name: "plus inside a level",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - {topic: a/b+/c, qos: 1}
`,
			want: `testdata/case.yaml:6:17: devices[0].subscribe[0].topic: '+' and '#' must take a whole topic level ("b+")`,
		},
		{
			name: "wildcard in publish topic",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a/+/b
        rate: 1/s
`,
			want: `testdata/case.yaml:6:16: devices[0].publish[0].topic: a publish topic cannot contain '+' or '#'`,
		},
		{
			name: "alibaba topic without leading slash",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    product_key: a1B
    device_secret: s
    publish:
      - {topic: "${productKey}/x", rate: 1/s}
`,
			want: `testdata/case.yaml:8:17: devices[0].publish[0].topic: topics of auth: alibaba devices start with '/' (SDK rule)`,
		},
		{
			name: "duplicate group name",
			src: `duration: 10s
devices:
  - name: g
    count: 1
  - name: g
    count: 1
    device_name: other-${index}
`,
			want: `testdata/case.yaml:5:11: devices[1].name: duplicate group name "g"; group names must be unique; the first is at line 3`,
		},
		{
			name: "invalid group name",
			src: `duration: 10s
devices: [{name: Sensors, count: 1}]
`,
			want: `testdata/case.yaml:2:18: devices[0].name: "Sensors" is not a valid group name; use lower-case letters, digits, '_' and '-'`,
		},
		{
			name: "target above devices",
			src: `stages:
  - duration: 10s
    target: 10
  - duration: 10s
    target: 11
devices: [{name: g, count: 10}]
`,
			want: `testdata/case.yaml:5:13: stages[1].target: 11 is more than the 10 devices of the scenario`,
		},
		{
			name: "cert without key",
			src: `duration: 10s
broker:
  url: mqtts://broker.example
  tls:
    ca: ca.pem
    cert: client.pem
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:6:11: broker.tls.cert: a client certificate needs a key; add broker.tls.key`,
		},
		{
			name: "tls with a plain URL",
			src: `duration: 10s
broker:
  url: mqtt://broker.example
  tls:
    insecure_skip_verify: true
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:5:5: broker.tls: TLS settings with a plain TCP URL (mqtt://broker.example)`,
		},
		{
			name: "bad CSV row",
			src: `duration: 10s
devices:
  - name: g
    credentials_file: creds-bad.csv
`,
			want: `testdata/creds-bad.csv:2:1: devices[0].credentials_file: row has 2 fields, want 3 (productKey,deviceName,deviceSecret)`,
		},
		{
			name: "credentials file missing",
			src: `duration: 10s
devices:
  - name: g
    credentials_file: nope.csv
`,
			want: `testdata/case.yaml:4:23: devices[0].credentials_file: cannot read testdata/nope.csv: no such file or directory`,
		},
		{
			name: "count above CSV rows",
			src: `duration: 10s
devices:
  - name: g
    count: 4
    credentials_file: creds.csv
`,
			want: `testdata/case.yaml:4:12: devices[0].count: 4 devices but creds.csv has only 3 rows`,
		},
		{
			name: "keepalive outside the SDK range",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    keepalive: 10s
`,
			want: `testdata/case.yaml:5:16: devices[0].keepalive: 10s is out of range; the SDK accepts 30s … 1200s (20m)`,
		},
		{
			name: "payload too small",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a
        rate: 1/s
        payload: {size: 8}
`,
			want: `testdata/case.yaml:8:25: devices[0].publish[0].payload.size: 8 bytes is too small (want at least 20)`,
		},
		{
			name: "payload template not JSON",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a
        rate: 1/s
        payload:
          template: '{"dev": ${deviceName}}'
`,
			want: `testdata/case.yaml:9:21: devices[0].publish[0].payload.template: not valid JSON after expanding placeholders for device 0`,
		},
		{
			name: "auth dev_sign",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    auth: dev_sign
`,
			want: `testdata/case.yaml:5:11: devices[0].auth: unknown auth "dev_sign"; did you mean "alibaba"? (dev_sign)`,
		},
		{
			name: "region typo",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    product_key: a1B
    device_secret: s
    region: cn-shangai
`,
			want: `testdata/case.yaml:7:13: devices[0].region: unknown region "cn-shangai"; did you mean "cn-shanghai"?`,
		},
		{
			name: "same device name for the whole group",
			src: `duration: 10s
devices:
  - name: g
    count: 5
    device_name: sensor
`,
			want: `testdata/case.yaml:5:18: devices[0].device_name: all 5 devices of the group would have client id "g.sensor"`,
		},
		{
			name: "product key placeholder without product key",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: /${productKey}/x
`,
			want: `testdata/case.yaml:6:16: devices[0].subscribe[0].topic: ${productKey} is used but the group has no product key`,
		},
		{
			name: "duplicate key",
			src: `duration: 10s
duration: 20s
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:2:1: duration: duplicate key "duration" (first set at line 1)`,
		},
		{
			name: "YAML syntax error",
			src: `duration: 10s
devices: [{name: g, count: 1}
`,
			want: `testdata/case.yaml:2:10: YAML syntax error`,
		},
		{
			name: "alias without anchor",
			src: `duration: 10s
devices: [*nope]
`,
			want: `testdata/case.yaml:2:11: alias *nope refers to no earlier anchor &nope`,
		},
		{
			name: "two documents",
			src: `duration: 10s
devices: [{name: g, count: 1}]
---
duration: 20s
`,
			want: `testdata/case.yaml:4:9: a scenario file holds one YAML document; found a second one`,
		},
		{
			name: "subscription written as a string",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - a/b
`,
			want: `testdata/case.yaml:6:9: devices[0].subscribe[0]: want a mapping (subscription), got a string ("a/b")`,
		},
		{
			name: "password with auth none",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    auth: none
    password: x
`,
			want: `testdata/case.yaml:6:15: devices[0].password: auth: none sends no password; set auth: password, or remove it`,
		},
		{
			name: "region without alibaba",
			src: `duration: 10s
devices:
  - {name: g, count: 1, region: cn-shanghai}
`,
			want: `testdata/case.yaml:3:33: devices[0].region: region is only used with auth: alibaba`,
		},
		{
			name: "credentials file and product key",
			src: `duration: 10s
devices:
  - name: g
    credentials_file: creds.csv
    product_key: a1B
`,
			want: `testdata/case.yaml:5:18: devices[0].product_key: product_key comes from credentials_file; remove it or remove credentials_file`,
		},
		{
			name: "publish rate too fast",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish: [{topic: a, rate: 5000/s}]
`,
			want: `testdata/case.yaml:5:32: devices[0].publish[0].rate: 5000/s is too fast for one device; at most 1000/s per device`,
		},
		{
			name: "empty stages and no duration",
			src: `stages: []
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:1: duration: required: how long to run (or give stages)`,
		},
		{
			name: "key without cert",
			src: `duration: 10s
broker:
  url: ssl://b.example:8883
  tls: {key: client.pem}
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:4:14: broker.tls.key: a key without a client certificate`,
		},
		{
			name: "unsupported tag",
			src: `duration: !secret 10s
devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:11: unsupported YAML tag !secret`,
		},
		{
			name: "clean_session as a string",
			src: `duration: 10s
devices:
  - {name: g, count: 1, clean_session: "yes"}
`,
			want: `testdata/case.yaml:3:40: devices[0].clean_session: want true or false, got a string ("yes"); write true or false without quotes`,
		},
		{
			name: "unknown placeholder in a block template",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: a
        rate: 1/s
        payload:
          template: |
            {"a": "${seq}",
             "b": "${nope}"}
`,
			want: `testdata/case.yaml:11:20: devices[0].publish[0].payload.template: unknown placeholder ${nope}`,
		},
		// Shared subscriptions.
		{
			name: "shared subscription with an empty group",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: $share//a/b
`,
			want: `testdata/case.yaml:6:16: devices[0].subscribe[0].topic: the share group of a shared subscription is empty; write $share/<group>/<filter>`,
		},
		{
			name: "shared subscription group with a wildcard",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - {topic: "$share/a+b/x/y", qos: 1}
`,
			want: `testdata/case.yaml:6:17: devices[0].subscribe[0].topic: the share group of a shared subscription cannot contain '+' or '#'`,
		},
		{
			name: "shared subscription without a filter",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: $share/grp
`,
			want: `testdata/case.yaml:6:16: devices[0].subscribe[0].topic: the shared subscription has no filter after its group`,
		},
		{
			name: "shared subscription with a bad inner filter",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: $share/grp/a/#/b
`,
			want: `testdata/case.yaml:6:16: devices[0].subscribe[0].topic: '#' must be the last level of a filter`,
		},
		{
			name: "shared alibaba filter without leading slash",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    product_key: a1B
    device_secret: s
    subscribe:
      - topic: $share/grp/${productKey}/+/x
`,
			want: `testdata/case.yaml:8:16: devices[0].subscribe[0].topic: topics of auth: alibaba devices start with '/' (SDK rule)`,
		},
		// Replies.
		{
			name: "reply with an unknown key",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: req/+
        reply:
          topic: resp/${topic[1]}
          qso: 1
`,
			want: `testdata/case.yaml:9:11: devices[0].subscribe[0].reply.qso: unknown field "qso" in reply; did you mean "qos"?`,
		},
		{
			name: "reply without a topic",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: req/+
        reply: {qos: 1}
`,
			want: `testdata/case.yaml:7:17: devices[0].subscribe[0].reply.topic: required: where the replies go`,
		},
		{
			name: "reply level beyond the filter",
			src: `duration: 10s
devices:
  - name: g
    count: 2
    product_key: a1B
    subscribe:
      - topic: $share/r//${productKey}/+/user/request
        reply:
          topic: /${productKey}/${topic[5]}/user/response
`,
			want: `testdata/case.yaml:9:33: devices[0].subscribe[0].reply.topic: ${topic[5]} is out of range: the filter "$share/r//${productKey}/+/user/request" matches topics of 5 levels (0 … 4)`,
		},
		{
			name: "reply level not a number",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: req/+
        reply: {topic: "resp/${topic[x]}"}
`,
			want: `testdata/case.yaml:7:30: devices[0].subscribe[0].reply.topic: bad level "x" in ${topic[x]}`,
		},
		{
			name: "topic level outside a reply",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: resp/${topic[1]}
        rate: 1/s
`,
			want: `testdata/case.yaml:6:21: devices[0].publish[0].topic: ${topic[1]} is a level of a received topic and can only be used in subscribe[].reply.topic`,
		},
		{
			name: "reply topic with a wildcard",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: req/+
        reply: {topic: "resp/+"}
`,
			want: `testdata/case.yaml:7:24: devices[0].subscribe[0].reply.topic: a publish topic cannot contain '+' or '#'`,
		},
		{
			name: "reply that its own filter receives",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    subscribe:
      - topic: /a/+/user/request
        reply:
          topic: /a/${topic[2]}-x/user/request
`,
			want: `testdata/case.yaml:8:18: devices[0].subscribe[0].reply.topic: replies to this topic would be received again on "/a/+/user/request" and answered again, without end`,
		},
		// Targeted publications.
		{
			name: "targets names no group",
			src: `duration: 10s
devices:
  - name: devices
    count: 5
  - name: cloud
    count: 1
    publish:
      - topic: c/${target.deviceName}
        targets: devies
        rate: 1/s
`,
			want: `testdata/case.yaml:9:18: devices[1].publish[0].targets: no device group "devies"; did you mean "devices"?`,
		},
		{
			name: "target placeholder without targets",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: c/${target.deviceName}/get
        rate: 1/s
`,
			want: `testdata/case.yaml:6:18: devices[0].publish[0].topic: ${target.deviceName} can only be used in the topic of a publish entry with targets:`,
		},
		{
			name: "unknown target placeholder",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: c/${target.devicename}/get
        targets: g
        rate: 1/s
`,
			want: `testdata/case.yaml:6:18: devices[0].publish[0].topic: unknown placeholder ${target.devicename}; did you mean ${target.deviceName}?`,
		},
		{
			name: "targets without a target placeholder",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: c/all
        targets: g
        rate: 1/s
`,
			want: `testdata/case.yaml:7:18: devices[0].publish[0].targets: the topic uses no ${target.…} placeholder, so every message would go to the same topic`,
		},
		{
			name: "target product key the target group lacks",
			src: `duration: 10s
devices:
  - name: cloud
    count: 1
    publish:
      - topic: /${target.productKey}/${target.deviceName}/get
        targets: devices
        rate: 1/s
  - name: devices
    count: 3
`,
			want: `testdata/case.yaml:6:17: devices[0].publish[0].topic: ${target.productKey} is used but group "devices" has no product key`,
		},
		{
			name: "targeted topic too long for the SDK",
			src: `duration: 10s
devices:
  - name: cloud
    count: 1
    product_key: a1B
    device_secret: s
    publish:
      - topic: /${productKey}/${target.deviceName}/user/a/rather/long/topic/for/a/command/that/goes/on/and/on/and/on/until/it/is/much/too/long/xy
        targets: devices
        rate: 1/s
  - name: devices
    count: 100000
    product_key: a1B
    device_secret: s
    device_name: device-with-a-long-name-${index}
`,
			want: `testdata/case.yaml:8:16: devices[0].publish[0].topic: the topic is up to 129 characters after expansion ("/a1B/device-with-a-long-name-99999/user/a/rather/long/topic/for/a/command/that/goes/on/and/on/and/on/until/it/is/much/too/long/xy"); the SDK allows 128`,
		},
		{
			name: "stream placeholder in a topic",
			src: `duration: 10s
devices:
  - name: g
    count: 1
    publish:
      - topic: t/${stream}
        rate: 1/s
`,
			want: `testdata/case.yaml:6:18: devices[0].publish[0].topic: ${stream} is filled in at publish time and can only be used in payload templates`,
		},
		// Faults and churn.
		{
			name: "fault without for",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    cut: true
`,
			want: `testdata/case.yaml:4:5: faults[0].for: required; how long the fault lasts, e.g. for: 10s`,
		},
		{
			name: "fault without effect",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    for: 5s
    stall: false
`,
			want: `testdata/case.yaml:4:5: faults[0]: the fault has no effect; add latency, bandwidth, stall, cut, refuse or broker_outage`,
		},
		{
			name: "fault beyond the duration",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - {at: 50s, for: 20s, cut: true}
`,
			want: `testdata/case.yaml:4:20: faults[0].for: the fault ends at 1m10s, after the end of the run (duration 1m0s); at most 10s here, or lengthen duration`,
		},
		{
			name: "fault key typo",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    for: 5s
    latancy: 100ms
`,
			want: `testdata/case.yaml:6:5: faults[0].latancy: unknown field "latancy" in fault; did you mean "latency"?`,
		},
		{
			name: "jitter without latency",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    for: 5s
    stall: true
    jitter: 5ms
`,
			want: `testdata/case.yaml:7:13: faults[0].jitter: jitter needs latency; add latency: the delay is latency ± jitter`,
		},
		{
			name: "jitter above latency",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - {at: 10s, for: 5s, latency: 50ms, jitter: 80ms}
`,
			want: `testdata/case.yaml:4:47: faults[0].jitter: jitter 80ms is more than latency 50ms`,
		},
		{
			name: "bandwidth in bits",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    for: 5s
    bandwidth: 8Mbps
`,
			want: `testdata/case.yaml:6:16: faults[0].bandwidth: "8Mbps" is in bits; write bytes per second: 8Mbit/s is 1MB/s`,
		},
		{
			name: "bandwidth without per second",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - {at: 10s, for: 5s, bandwidth: 10KB}
`,
			want: `testdata/case.yaml:4:35: faults[0].bandwidth: "10KB" is not a rate per second; write 10KB/s`,
		},
		{
			name: "broker outage with cut",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - at: 10s
    for: 5s
    cut: true
    broker_outage: true
`,
			want: `testdata/case.yaml:7:20: faults[0].broker_outage: broker_outage cannot be combined with cut`,
		},
		{
			name: "fault fraction as a percentage",
			src: `duration: 1m
devices: [{name: g, count: 1}]
faults:
  - {at: 10s, for: 5s, cut: true, fraction: 50}
`,
			want: `testdata/case.yaml:4:45: faults[0].fraction: 50 is out of range (want more than 0, at most 1); write a fraction: 0.5`,
		},
		{
			name: "fault on an unknown group",
			src: `duration: 1m
devices: [{name: sensors, count: 1}]
faults:
  - {at: 10s, for: 5s, cut: true, group: sensor}
`,
			want: `testdata/case.yaml:4:42: faults[0].group: no device group "sensor"; did you mean "sensors"?`,
		},
		{
			name: "churn down not below every",
			src: `duration: 5m
devices: [{name: g, count: 10}]
churn:
  - fraction: 0.1
    every: 30s
    down: 30s
`,
			want: `testdata/case.yaml:6:11: churn[0].down: down 30s is not less than every 30s`,
		},
		{
			name: "churn without every",
			src: `duration: 5m
devices: [{name: g, count: 10}]
churn:
  - {fraction: 0.1, down: 5s}
`,
			want: `testdata/case.yaml:4:6: churn[0].every: required; the period of the cycles, e.g. every: 60s`,
		},
		{
			name: "churn starting after the run",
			src: `duration: 1m
devices: [{name: g, count: 10}]
churn:
  - {fraction: 0.1, every: 2m, down: 5s}
`,
			want: `testdata/case.yaml:4:28: churn[0].every: the first cycle starts at 2m0s, at or after the end of the run (duration 1m0s)`,
		},
		{
			name: "devices missing",
			src: `duration: 10s
`,
			want: `testdata/case.yaml:1:1: devices: required: the scenario has no devices`,
		},
		{
			name: "duration missing",
			src: `devices: [{name: g, count: 1}]
`,
			want: `testdata/case.yaml:1:1: duration: required: how long to run (or give stages)`,
		},
		{
			name: "empty file",
			src:  "# nothing here\n",
			want: `testdata/case.yaml:1:1: the scenario is empty`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(t, tt.src)
			if err == nil {
				t.Fatalf("no error; want %s", tt.want)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			found := false
			for _, e := range list {
				if strings.Contains(e.Error(), tt.want) {
					found = true
				}
				if e.Line == 0 && e.Message != "" && e.File == "testdata/case.yaml" {
					t.Errorf("error without a line: %v", e)
				}
			}
			if !found {
				t.Errorf("want an error containing\n  %s\ngot\n  %s", tt.want, strings.ReplaceAll(err.Error(), "\n", "\n  "))
			}
		})
	}
	if len(tests) < 20 {
		t.Fatalf("only %d cases", len(tests))
	}
}

// TestErrorsCollected checks that one load reports every problem, in file order.
func TestErrorsCollected(t *testing.T) {
	_, err := parseTest(t, `duration: forever
devices:
  - name: a
    count: 0
    publish:
      - topic: x/#
        qos: 5
        rate: 1/s
  - name: b
    count: 1
    subscribe: [{topic: "a/#/b"}]
`)
	list := Errors(err)
	var got []string
	for _, e := range list {
		got = append(got, e.Pos().String()+" "+e.Field)
	}
	want := []string{
		"testdata/case.yaml:1:11 duration",
		"testdata/case.yaml:4:12 devices[0].count",
		"testdata/case.yaml:6:16 devices[0].publish[0].topic",
		"testdata/case.yaml:7:14 devices[0].publish[0].qos",
		"testdata/case.yaml:11:25 devices[1].subscribe[0].topic",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorFields(t *testing.T) {
	_, err := parseTest(t, "duration: 10s\ndevices:\n  - name: g\n    count: 1\n    publish:\n      - {topic: a, rate: 1/s, qos: 3}\n")
	list := Errors(err)
	if len(list) != 1 {
		t.Fatalf("got %d errors: %v", len(list), err)
	}
	e := list[0]
	if e.File != "testdata/case.yaml" || e.Line != 6 || e.Col != 36 || e.Field != "devices[0].publish[0].qos" ||
		e.Message != "3 is not a QoS (want 0, 1 or 2)" {
		t.Errorf("fields: %+v", e)
	}
	wantExcerpt := "    6 |       - {topic: a, rate: 1/s, qos: 3}\n      |                                    ^"
	if got := e.Excerpt(); got != wantExcerpt {
		t.Errorf("excerpt:\n%s\nwant\n%s", got, wantExcerpt)
	}
}

func TestSuggest(t *testing.T) {
	keys := groupSchema.keys
	for in, want := range map[string]string{
		"cuont":         "count",
		"product_kye":   "product_key",
		"ProductKey":    "product_key",
		"deviceSecret":  "device_secret",
		"keep_alive":    "keepalive",
		"subscriptions": "",
		"zzz":           "",
	} {
		got, _ := closest(in, keys)
		if got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
