package devsign

import "testing"

// TestClientIDVectors: the client id and port of vector 1 for every SDK
// profile over TLS and over plain TCP. The expected strings were written
// out by hand from the SDKs' format code, not produced by this package:
//
//   - 3.0.1 and 3.2.0: _sign_get_clientid in src/dev_sign/dev_sign_mqtt.c
//     (aliyun/iotkit-embedded, branches v3.0.1 and v3.2.0): the pairs
//     timestamp, _v, securemode, signmethod, lan, [_ss], gw, ext in that
//     order; SECURE_MODE is MODE_TLS_DIRECT "2" under SUPPORT_TLS and
//     MODE_TCP_DIRECT_PLAIN "3" without; IOT_MQTT_Construct
//     (src/mqtt/mqtt_api.c) sets securemode 8 when customize_info holds
//     "authtype=id2". _ss=1 is on by default in 3.2.0 (MQTT_AUTO_SUBSCRIBE)
//     and off in 3.0.1. The port is 443 in 3.2.0; 443 with TLS and 1883
//     without in 3.0.1.
//   - 4.x: core_auth_mqtt_clientid in core/utils/core_auth.c of the Link
//     SDK 4.0.0, format "%s.%s|timestamp=%s,_ss=1,_v=%s,securemode=%s,
//     signmethod=hmacsha256,ext=3,%s|" with CORE_AUTH_TIMESTAMP
//     "2524608000000" and CORE_AUTH_SDK_VERSION "sdk-c-4.0.0" (core_auth.h);
//     secure_mode is "3" without a TLS credential and "2" with one
//     (_core_mqtt_connect, core/aiot_mqtt_api.c), whatever the extend
//     client id holds.
//
// The password is the same in every profile: core_auth_mqtt_password
// (4.x) and _sign_get_sign (3.x) hash the same text.
func TestClientIDVectors(t *testing.T) {
	const pre = "a1X2bEnP82z.example1|timestamp=2524608000000,"
	tests := []struct {
		sdk    string
		tcp    bool
		custom string
		id     string
		port   uint16
	}{
		{SDK301, false, "", pre + "_v=sdk-c-3.0.1,securemode=2,signmethod=hmacsha256,lan=C,gw=0,ext=0|", 443},
		{SDK301, true, "", pre + "_v=sdk-c-3.0.1,securemode=3,signmethod=hmacsha256,lan=C,gw=0,ext=0|", 1883},
		{SDK301, true, "authtype=id2", pre + "_v=sdk-c-3.0.1,securemode=8,signmethod=hmacsha256,lan=C,gw=0,ext=0,authtype=id2|", 1883},
		{SDK320, false, "", pre + "_v=sdk-c-3.2.0,securemode=2,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|", 443},
		{SDK320, true, "", pre + "_v=sdk-c-3.2.0,securemode=3,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|", 443},
		{SDK320, false, "authtype=id2", pre + "_v=sdk-c-3.2.0,securemode=8,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0,authtype=id2|", 443},
		{SDK4x, false, "", pre + "_ss=1,_v=sdk-c-4.0.0,securemode=2,signmethod=hmacsha256,ext=3,|", 443},
		{SDK4x, true, "", pre + "_ss=1,_v=sdk-c-4.0.0,securemode=3,signmethod=hmacsha256,ext=3,|", 1883},
		{SDK4x, false, "mykey=myval", pre + "_ss=1,_v=sdk-c-4.0.0,securemode=2,signmethod=hmacsha256,ext=3,mykey=myval|", 443},
		{SDK4x, true, "authtype=id2", pre + "_ss=1,_v=sdk-c-4.0.0,securemode=3,signmethod=hmacsha256,ext=3,authtype=id2|", 1883},
	}
	for _, tc := range tests {
		name := tc.sdk + map[bool]string{false: "/tls", true: "/tcp"}[tc.tcp]
		if tc.custom != "" {
			name += "/" + tc.custom
		}
		t.Run(name, func(t *testing.T) {
			c, err := Sign(Shanghai, vec1, Options{SDKVersion: tc.sdk, PlainTCP: tc.tcp, CustomizeInfo: tc.custom})
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientID != tc.id {
				t.Errorf("client id\n got %s\nwant %s", c.ClientID, tc.id)
			}
			if c.Port != tc.port {
				t.Errorf("port = %d, want %d", c.Port, tc.port)
			}
			if c.Host != vec1Host || c.Username != vec1User || c.Password != vec1Password {
				t.Errorf("host/user/password = %s %s %s", c.Host, c.Username, c.Password)
			}
		})
	}
}

// TestSign4IgnoresAutoSubscribe: _ss=1 is part of the 4.x format string.
func TestSign4IgnoresAutoSubscribe(t *testing.T) {
	off := false
	c, err := Sign(Shanghai, vec1, Options{SDKVersion: SDK4x, AutoSubscribe: &off})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a1X2bEnP82z.example1|timestamp=2524608000000,_ss=1,_v=sdk-c-4.0.0,securemode=2,signmethod=hmacsha256,ext=3,|"; c.ClientID != want {
		t.Fatalf("client id %s, want %s", c.ClientID, want)
	}
}

// TestSign4ChecksTriple: 4.x has no fixed buffers, but the platform's
// limits on the triple still apply.
func TestSign4ChecksTriple(t *testing.T) {
	_, err := Sign(Shanghai, Meta{ProductKey: "a1X2bEnP82z", DeviceName: "", DeviceSecret: "s"}, Options{SDKVersion: SDK4x})
	if err == nil {
		t.Fatal("empty device name accepted")
	}
}
