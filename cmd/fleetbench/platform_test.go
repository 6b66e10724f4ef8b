package main

import (
	"strings"
	"testing"
)

// TestValidatePlatformIdentity: under broker.platform: alibaba, validate
// prints the endpoint and each group's signed sample identity, with the
// password redacted and neither it nor the device secret anywhere in the
// output.
func TestValidatePlatformIdentity(t *testing.T) {
	const secret = "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"
	// The password of a1X2bEnP82z/example1 with this secret (iotkit-mqtt.md §3).
	const password = "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2"
	for _, tc := range []struct {
		name, broker string
		want         []string
	}{
		{"enterprise", "  alibaba: {instance_id: iot-06z00ax1o4d9ofg}\n", []string{
			"platform alibaba: endpoint iot-06z00ax1o4d9ofg.mqtt.iothub.aliyuncs.com:443 (Enterprise instance iot-06z00ax1o4d9ofg), TLS with the system roots",
			"  group g (alibaba, sdk 3.2.0): device example1",
			"    client_id   a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=2,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|",
			"  group h (alibaba, sdk 4.x): device dev-0",
			"    client_id   a1X2bEnP82z.dev-0|timestamp=2524608000000,_ss=1,_v=sdk-c-4.0.0,securemode=2,signmethod=hmacsha256,ext=3,|",
			"    username    example1&a1X2bEnP82z",
			"    password    <redacted>",
		}},
		{"public", "  alibaba: {region: ap-southeast-1}\n", []string{
			"platform alibaba: endpoint a1X2bEnP82z.iot-as-mqtt.ap-southeast-1.aliyuncs.com:443 (public instance), TLS with the system roots",
			"securemode=2,",
		}},
		{"embedded", "", []string{
			"platform alibaba: endpoint embedded broker (emulating the platform)",
			"    client_id   a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=3,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|",
			"    client_id   a1X2bEnP82z.dev-0|timestamp=2524608000000,_ss=1,_v=sdk-c-4.0.0,securemode=3,signmethod=hmacsha256,ext=3,|",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "p.yaml", `name: p
duration: 10s
broker:
  platform: alibaba
`+tc.broker+`devices:
  - {name: g, count: 1, product_key: a1X2bEnP82z, device_name: example1, device_secret: `+secret+`}
  - {name: h, count: 2, product_key: a1X2bEnP82z, device_secret: `+secret+`, sdk: 4.x}
`)
			code, stdout, stderr := fb(t, "validate", path)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			if strings.Contains(stdout+stderr, secret) || strings.Contains(stdout+stderr, password) {
				t.Fatalf("the secret or the password is printed:\n%s%s", stdout, stderr)
			}
		})
	}
}

// TestValidateGenericBrokerPrintsNoIdentity: without the platform the
// output stays as it was.
func TestValidateGenericBrokerPrintsNoIdentity(t *testing.T) {
	path := writeFile(t, "g.yaml", `name: g
duration: 10s
devices:
  - {name: g, count: 1, product_key: a1X2bEnP82z, device_secret: s}
`)
	code, stdout, stderr := fb(t, "validate", path)
	if code != 0 || strings.Contains(stdout, "platform") || strings.Contains(stdout, "client_id") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}
