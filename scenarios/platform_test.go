package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// platformHead starts a scenario under broker.platform: alibaba on the
// embedded broker; a group of devices follows.
const platformHead = `duration: 10s
broker:
  platform: alibaba
devices:
`

const aliGroup = `  - name: g
    count: 2
    product_key: a1X2bEnP82z
    device_secret: s3cr3t
    device_name: d-${index}
`

// wantErr parses src (as dir/case.yaml when dir is set) and checks that
// the error names file:line:col and field and contains the message part.
func wantErr(t *testing.T, dir, src, want string) {
	t.Helper()
	file := "testdata/case.yaml"
	if dir != "" {
		file = filepath.Join(dir, "case.yaml")
	}
	doc, err := ParseDocument(file, []byte(src))
	if err == nil {
		doc.Env = testEnv
		_, err = doc.Scenario()
	}
	if err == nil {
		t.Fatalf("accepted:\n%s", src)
	}
	want = strings.ReplaceAll(want, "$DIR", dir)
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error\n%v\ndoes not contain\n%s", err, want)
	}
}

func TestPlatformRules(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"publish qos 2", platformHead + aliGroup + `    publish:
      - topic: /${productKey}/${deviceName}/user/update
        qos: 2
        interval: 1s
`, `testdata/case.yaml:12:14: devices[0].publish[0].qos: the Alibaba Cloud IoT Platform does not support QoS 2`},
		{"subscribe qos 2", platformHead + aliGroup + `    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 2
`, `testdata/case.yaml:12:14: devices[0].subscribe[0].qos: the Alibaba Cloud IoT Platform does not support QoS 2`},
		{"reply qos 2", platformHead + aliGroup + `    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        reply:
          topic: /${productKey}/${deviceName}/user/update
          qos: 2
`, `testdata/case.yaml:14:16: devices[0].subscribe[0].reply.qos: the Alibaba Cloud IoT Platform does not support QoS 2`},
		{"retain", platformHead + aliGroup + `    publish:
      - topic: /${productKey}/${deviceName}/user/update
        retain: true
        interval: 1s
`, `testdata/case.yaml:12:17: devices[0].publish[0].retain: the Alibaba Cloud IoT Platform does not support retained messages`},
		{"keepalive below 30s", platformHead + aliGroup + `    keepalive: 10s
`, `testdata/case.yaml:10:16: devices[0].keepalive: 10s is out of range`},
		{"keepalive above 1200s", platformHead + aliGroup + `    keepalive: 21m
`, `testdata/case.yaml:10:16: devices[0].keepalive: 21m0s is out of range`},
		{"$share without MQTT 5", platformHead + aliGroup + `    subscribe:
      - topic: $share/workers/${productKey}/${deviceName}/user/get
`, `testdata/case.yaml:11:16: devices[0].subscribe[0].topic: the Alibaba Cloud IoT Platform offers shared subscriptions ($share/...) only over MQTT 5`},
		{"generated duplicate identities across groups", platformHead + strings.Replace(aliGroup, "count: 2", "count: 20", 1) + `  - name: h
    count: 20
    product_key: a1X2bEnP82z
    device_secret: s3cr3t
    device_name: d-1${index}
`, `testdata/case.yaml:10:5: devices[1].device_name: group "g" device 10 and group "h" device 0 would have the same identity, product key "a1X2bEnP82z" and device name "d-10"`},
		{"generated duplicate identities in a group", platformHead + `  - name: g
    count: 12
    product_key: a1X2bEnP82z
    device_secret: s3cr3t
    device_name: d-${index:01}${group}
`, ""},
		{"unknown platform", `duration: 10s
broker:
  platform: aws
devices: [{name: g, count: 1}]
`, `testdata/case.yaml:3:13: broker.platform: unknown platform "aws" (accepted: alibaba)`},
		{"alibaba without platform", `duration: 10s
broker:
  alibaba: {region: cn-shanghai}
devices: [{name: g, count: 1}]
`, `testdata/case.yaml:3:13: broker.alibaba: broker.alibaba needs broker.platform: alibaba`},
		{"alibaba and url", `duration: 10s
broker:
  platform: alibaba
  url: mqtt://127.0.0.1:1883
  alibaba: {instance_id: iot-06z00ax1o4d9ofg}
devices: [{name: g, count: 1}]
`, `testdata/case.yaml:5:13: broker.alibaba: broker.alibaba gives the endpoint when broker.url is not set; both are set`},
		{"public endpoint with two product keys", `duration: 10s
broker:
  platform: alibaba
  alibaba: {region: cn-shanghai}
devices:
  - {name: g, count: 1, product_key: a1One, device_secret: s}
  - {name: h, count: 1, product_key: a1Two, device_secret: s}
`, `broker.alibaba: the public-instance endpoint is ${productKey}.iot-as-mqtt.${region}.aliyuncs.com, and the devices have product keys "a1One" and "a1Two"`},
		{"bad instance id", `duration: 10s
broker:
  platform: alibaba
  alibaba: {instance_id: "IOT_06"}
devices: [{name: g, count: 1, product_key: a1One, device_secret: s}]
`, `testdata/case.yaml:4:26: broker.alibaba.instance_id: "IOT_06" is not an instance id`},
		{"customize_info without auth alibaba", `duration: 10s
devices: [{name: g, count: 1, customize_info: "authtype=id2"}]
`, `devices[0].customize_info: customize_info is part of the signed client id of auth: alibaba`},
		{"customize_info with a pipe", `duration: 10s
devices: [{name: g, count: 1, product_key: a1One, device_secret: s, customize_info: "a=b|c"}]
`, `devices[0].customize_info: character '|' is not allowed in customize_info`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				// d-1g (index 1) and d-11g: no clash; ${index:01}
				// cannot clash within a group, so this must pass.
				mustParse(t, tc.src)
				return
			}
			wantErr(t, "", tc.src, tc.want)
		})
	}
}

// TestPlatformRulesOffWithoutPlatform: the same settings are accepted on a
// generic broker.
func TestPlatformRulesOffWithoutPlatform(t *testing.T) {
	src := `duration: 10s
devices:
` + aliGroup + `    subscribe:
      - topic: $share/w//${productKey}/${deviceName}/user/get
        qos: 2
    publish:
      - topic: /${productKey}/${deviceName}/user/update
        qos: 2
        retain: true
        interval: 1s
`
	mustParse(t, src)
}

func writeCSV(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialsDuplicates: duplicate rows of a credentials file name the
// file and both lines, on any broker; rows that clash with another file,
// or under the platform with a generated identity, are errors too.
func TestCredentialsDuplicates(t *testing.T) {
	dir := t.TempDir()
	writeCSV(t, dir, "a.csv", "ProductKey,DeviceName,DeviceSecret\na1X2bEnP82z,d-0,s\na1X2bEnP82z,d-1,s\na1X2bEnP82z,d-0,t\n")
	writeCSV(t, dir, "b.csv", "a1X2bEnP82z,d-7,s\na1X2bEnP82z,d-0,s\n")
	writeCSV(t, dir, "c.csv", "a1X2bEnP82z,d-0,s\n")
	t.Run("same file", func(t *testing.T) {
		wantErr(t, dir, `duration: 10s
devices: [{name: g, credentials_file: a.csv}]
`, `$DIR/a.csv:4:1: devices[0].credentials_file: duplicate row: product key "a1X2bEnP82z" and device name "d-0" already at line 2 of a.csv`)
	})
	t.Run("same file under the platform", func(t *testing.T) {
		wantErr(t, dir, platformHead+`  - {name: g, credentials_file: a.csv}
`, `$DIR/a.csv:4:1: devices[0].credentials_file: duplicate row: product key "a1X2bEnP82z" and device name "d-0" already at line 2 of a.csv`)
	})
	t.Run("two files", func(t *testing.T) {
		wantErr(t, dir, `duration: 10s
devices: [{name: g, credentials_file: c.csv}, {name: h, credentials_file: b.csv}]
`, `$DIR/b.csv:2:1: devices[1].credentials_file: product key "a1X2bEnP82z" and device name "d-0"`)
	})
	t.Run("file and template under the platform", func(t *testing.T) {
		wantErr(t, dir, platformHead+`  - {name: g, credentials_file: c.csv}
`+strings.Replace(aliGroup, "name: g", "name: h", 1), `devices[1].device_name: c.csv line 1 and group "h" device 0 would have the same identity`)
	})
	t.Run("count cuts the duplicate off", func(t *testing.T) {
		doc, err := ParseDocument(filepath.Join(dir, "case.yaml"), []byte(`duration: 10s
devices: [{name: g, count: 2, credentials_file: a.csv}]
`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := doc.Scenario(); err != nil {
			t.Fatalf("the duplicate is row 3, beyond count 2: %v", err)
		}
	})
}

func TestPlatformEndpoints(t *testing.T) {
	dir := t.TempDir()
	ca, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	writeCSV(t, dir, "ca.pem", string(ca))
	writeCSV(t, dir, "devs.csv", "a1CsvProd01,v-1,s\na1CsvProd01,v-2,s\n")
	tests := []struct {
		name, src, host string
		port            int
		ca              string
	}{
		{"public, group region", `broker: {platform: alibaba, alibaba: {}}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s, region: ap-southeast-1}]`,
			"a1X2bEnP82z.iot-as-mqtt.ap-southeast-1.aliyuncs.com", 443, ""}, // the group's region
		{"public, broker region", `broker: {platform: alibaba, alibaba: {region: eu-central-1}}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s, region: ap-southeast-1}]`,
			"a1X2bEnP82z.iot-as-mqtt.eu-central-1.aliyuncs.com", 443, ""},
		{"a section that resolves empty", `broker: {platform: alibaba, alibaba: {region: "${env:NO_SUCH_VAR:-}"}}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s, region: us-west-1}]`,
			"", 0, ""}, // the embedded broker
		{"public, credentials file", `broker: {platform: alibaba, alibaba: {region: cn-shanghai}, tls: {ca: ca.pem}}
devices: [{name: g, credentials_file: devs.csv}]`,
			"a1CsvProd01.iot-as-mqtt.cn-shanghai.aliyuncs.com", 443, "ca.pem"},
		{"enterprise", `broker: {platform: alibaba, alibaba: {instance_id: iot-06z00ax1o4d9ofg}}
devices: [{name: g, count: 3, product_key: a1X2bEnP82z, device_secret: s}, {name: h, count: 1, product_key: a1Other, device_secret: s}]`,
			"iot-06z00ax1o4d9ofg.mqtt.iothub.aliyuncs.com", 443, ""},
		{"mqtts without port under the platform", `broker: {platform: alibaba, url: "mqtts://iot-x.mqtt.iothub.aliyuncs.com"}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s}]`,
			"iot-x.mqtt.iothub.aliyuncs.com", 443, ""},
		{"mqtts with a port", `broker: {platform: alibaba, url: "mqtts://iot-x.mqtt.iothub.aliyuncs.com:8883"}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s}]`,
			"iot-x.mqtt.iothub.aliyuncs.com", 8883, ""},
		{"plain TCP under the platform", `broker: {platform: alibaba, url: "mqtt://iot-x.mqtt.iothub.aliyuncs.com"}
devices: [{name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s}]`,
			"iot-x.mqtt.iothub.aliyuncs.com", 1883, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := ParseDocument(filepath.Join(dir, "case.yaml"), []byte("duration: 10s\n"+tc.src+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			doc.Env = func(string) (string, bool) { return "", false }
			s, err := doc.Scenario()
			if err != nil {
				t.Fatal(err)
			}
			b := s.Broker
			if !b.AlibabaPlatform() {
				t.Fatal("platform not set")
			}
			if tc.host == "" {
				if !b.Embedded() || b.PlatformEndpoint() || b.Alibaba != nil {
					t.Fatalf("want the embedded broker, got %+v", b)
				}
				return
			}
			if b.Host != tc.host || b.Port != tc.port {
				t.Fatalf("endpoint %s:%d, want %s:%d", b.Host, b.Port, tc.host, tc.port)
			}
			derived := strings.Contains(tc.src, "alibaba: {")
			if b.PlatformEndpoint() != derived || b.Embedded() {
				t.Fatalf("PlatformEndpoint %v Embedded %v", b.PlatformEndpoint(), b.Embedded())
			}
			if tc.port != 1883 {
				if b.Transport != TransportTLS || b.TLS == nil {
					t.Fatalf("transport %s tls %+v, want TLS", b.Transport, b.TLS)
				}
				if b.TLS.InsecureSkipVerify || b.TLS.CA != "" && tc.ca == "" {
					t.Fatalf("TLS %+v, want the system roots with verification", b.TLS)
				}
				if tc.ca != "" && b.TLS.CA != filepath.Join(dir, tc.ca) {
					t.Fatalf("CA %q, want %s", b.TLS.CA, tc.ca)
				}
			} else if b.Transport != TransportTCP {
				t.Fatalf("transport %s", b.Transport)
			}
		})
	}
}

// TestCustomizeInfo: the group key reaches the group.
func TestCustomizeInfo(t *testing.T) {
	s := mustParse(t, `duration: 10s
devices: [{name: g, count: 1, product_key: a1One, device_secret: s, customize_info: "authtype=id2,mykey=v"}]
`)
	if got := s.Groups[0].CustomizeInfo; got != "authtype=id2,mykey=v" {
		t.Fatalf("CustomizeInfo = %q", got)
	}
}
