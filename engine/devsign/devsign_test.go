package devsign

import (
	"errors"
	"strings"
	"testing"
)

// Test vectors from reference/iotkit-mqtt.md §3 (computed with the SDK's own
// signing code and cross-checked with an independent HMAC-SHA256).
var (
	vec1 = Meta{ProductKey: "a1X2bEnP82z", DeviceName: "example1", DeviceSecret: "ga7XA6KdlEeiPXQPpRbAjOZXwG8ydgSe"}
	vec2 = Meta{ProductKey: "a1MZxOdcBnO", DeviceName: "example1", DeviceSecret: "jiPvZkVO9lhNj2Q9f2KdP4Yln7ACJI3X"}
)

const (
	vec1Password = "B8CE8F1D706DD3C61D13BFD9855DEF7E321B785084CA9C93F0169A2B46785DD2"
	vec2Password = "E157285389659C45DDB66E19B5C2385377E3CE627C712129DEB32263D3ACB227"
	vec1Host     = "a1X2bEnP82z.iot-as-mqtt.cn-shanghai.aliyuncs.com"
	vec1User     = "example1&a1X2bEnP82z"
	vec1ID320    = "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=2,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|"
	vec1ID301TCP = "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=3,signmethod=hmacsha256,lan=C,gw=0,ext=0|"
)

func boolPtr(b bool) *bool { return &b }

func TestPasswordVectors(t *testing.T) {
	for _, tc := range []struct {
		meta Meta
		want string
	}{
		{vec1, vec1Password},
		{vec2, vec2Password},
	} {
		if got := Password(tc.meta.ProductKey, tc.meta.DeviceName, tc.meta.DeviceSecret); got != tc.want {
			t.Errorf("Password(%s, %s) = %s, want %s", tc.meta.ProductKey, tc.meta.DeviceName, got, tc.want)
		}
	}
}

func TestSignSourceVector(t *testing.T) {
	const want = "clientIda1X2bEnP82z.example1deviceNameexample1productKeya1X2bEnP82ztimestamp2524608000000"
	got, err := buildSignSource(vec1.ProductKey, vec1.DeviceName)
	if err != nil || got != want {
		t.Fatalf("sign source = %q, %v; want %q", got, err, want)
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		name   string
		region Region
		meta   Meta
		opts   Options
		want   Credentials
	}{
		{
			name: "3.2.0 default (TLS, _ss)", meta: vec1,
			want: Credentials{Host: vec1Host, Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "3.2.0 explicit version", meta: vec1, opts: Options{SDKVersion: SDK320},
			want: Credentials{Host: vec1Host, Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "3.2.0 plain TCP still reports 443", meta: vec1, opts: Options{PlainTCP: true},
			want: Credentials{Host: vec1Host, Port: 443, Username: vec1User, Password: vec1Password,
				ClientID: strings.Replace(vec1ID320, "securemode=2", "securemode=3", 1)},
		},
		{
			name: "3.2.0 without auto subscribe", meta: vec1, opts: Options{AutoSubscribe: boolPtr(false)},
			want: Credentials{Host: vec1Host, Port: 443, Username: vec1User, Password: vec1Password,
				ClientID: strings.Replace(vec1ID320, ",_ss=1", "", 1)},
		},
		{
			name: "3.0.1 plain TCP", meta: vec1, opts: Options{SDKVersion: SDK301, PlainTCP: true},
			want: Credentials{Host: vec1Host, Port: 1883, ClientID: vec1ID301TCP, Username: vec1User, Password: vec1Password},
		},
		{
			name: "3.0.1 TLS", meta: vec1, opts: Options{SDKVersion: SDK301},
			want: Credentials{Host: vec1Host, Port: 443, Username: vec1User, Password: vec1Password,
				ClientID: strings.Replace(vec1ID301TCP, "securemode=3", "securemode=2", 1)},
		},
		{
			name: "3.0.1 with auto subscribe", meta: vec1, opts: Options{SDKVersion: SDK301, PlainTCP: true, AutoSubscribe: boolPtr(true)},
			want: Credentials{Host: vec1Host, Port: 1883, Username: vec1User, Password: vec1Password,
				ClientID: strings.Replace(vec1ID301TCP, "lan=C,", "lan=C,_ss=1,", 1)},
		},
		{
			name: "customize_info", meta: vec1, opts: Options{CustomizeInfo: "mykey=myval"},
			want: Credentials{Host: vec1Host, Port: 443, Username: vec1User, Password: vec1Password,
				ClientID: strings.TrimSuffix(vec1ID320, "|") + ",mykey=myval|"},
		},
		{
			name: "authtype=id2 gives securemode 8", meta: vec1, opts: Options{CustomizeInfo: "authtype=id2"},
			want: Credentials{Host: vec1Host, Port: 443, Username: vec1User, Password: vec1Password,
				ClientID: "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=8,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0,authtype=id2|"},
		},
		{
			name: "authtype=id2 overrides plain TCP", meta: vec1, opts: Options{SDKVersion: SDK301, PlainTCP: true, CustomizeInfo: "authtype=id2"},
			want: Credentials{Host: vec1Host, Port: 1883, Username: vec1User, Password: vec1Password,
				ClientID: "a1X2bEnP82z.example1|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=8,signmethod=hmacsha256,lan=C,gw=0,ext=0,authtype=id2|"},
		},
		{
			name: "vector 2", meta: vec2,
			want: Credentials{Host: "a1MZxOdcBnO.iot-as-mqtt.cn-shanghai.aliyuncs.com", Port: 443, Username: "example1&a1MZxOdcBnO", Password: vec2Password,
				ClientID: strings.Replace(vec1ID320, "a1X2bEnP82z", "a1MZxOdcBnO", 1)},
		},
		{
			name: "Singapore", region: Singapore, meta: vec1,
			want: Credentials{Host: "a1X2bEnP82z.iot-as-mqtt.ap-southeast-1.aliyuncs.com", Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "Japan", region: Japan, meta: vec1,
			want: Credentials{Host: "a1X2bEnP82z.iot-as-mqtt.ap-northeast-1.aliyuncs.com", Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "US West", region: USWest, meta: vec1,
			want: Credentials{Host: "a1X2bEnP82z.iot-as-mqtt.us-west-1.aliyuncs.com", Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "Germany", region: Germany, meta: vec1,
			want: Credentials{Host: "a1X2bEnP82z.iot-as-mqtt.eu-central-1.aliyuncs.com", Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "custom domain verbatim", region: Custom, meta: vec1, opts: Options{CustomDomain: "mqtt.example.test"},
			want: Credentials{Host: "mqtt.example.test", Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "custom domain ignored for built-in region", region: Shanghai, meta: vec1, opts: Options{CustomDomain: "mqtt.example.test"},
			want: Credentials{Host: vec1Host, Port: 443, ClientID: vec1ID320, Username: vec1User, Password: vec1Password},
		},
		{
			name: "longest accepted inputs", meta: Meta{ProductKey: strings.Repeat("p", 20), DeviceName: strings.Repeat("d", 32), DeviceSecret: strings.Repeat("s", 64)},
			want: Credentials{
				Host: strings.Repeat("p", 20) + ".iot-as-mqtt.cn-shanghai.aliyuncs.com", Port: 443,
				ClientID: strings.Replace(vec1ID320, "a1X2bEnP82z.example1", strings.Repeat("p", 20)+"."+strings.Repeat("d", 32), 1),
				Username: strings.Repeat("d", 32) + "&" + strings.Repeat("p", 20),
				Password: Password(strings.Repeat("p", 20), strings.Repeat("d", 32), strings.Repeat("s", 64)),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sign(tc.region, tc.meta, tc.opts)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if got != tc.want {
				t.Errorf("Sign =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestCredentialsAddr(t *testing.T) {
	c := Credentials{Host: "a.example", Port: 1883}
	if got := c.Addr(); got != "a.example:1883" {
		t.Fatalf("Addr = %q", got)
	}
}

func TestSignErrors(t *testing.T) {
	// The longest customize_info that still fits: the default 3.2.0 client id
	// of vec1 up to its last ',' plus customize_info plus 1 must stay < 200.
	fit := 199 - (len(vec1ID320) + 1) // len("...ext=0,") == len(vec1ID320)
	tests := []struct {
		name      string
		region    Region
		meta      Meta
		opts      Options
		wantField string // LengthError.Field; "" when another error is expected
		wantLen   int
		wantMax   int
		wantIs    error
	}{
		{name: "region 6", region: 6, meta: vec1, wantIs: ErrRegion},
		{name: "region -1", region: -1, meta: vec1, wantIs: ErrRegion},
		{name: "empty product key", meta: Meta{DeviceName: "d", DeviceSecret: "s"}, wantField: "product key", wantMax: 20},
		{name: "empty device name", meta: Meta{ProductKey: "p", DeviceSecret: "s"}, wantField: "device name", wantMax: 32},
		{name: "empty device secret", meta: Meta{ProductKey: "p", DeviceName: "d"}, wantField: "device secret", wantMax: 64},
		{name: "product key 21", meta: Meta{ProductKey: strings.Repeat("p", 21), DeviceName: "d", DeviceSecret: "s"}, wantField: "product key", wantLen: 21, wantMax: 20},
		{name: "device name 33", meta: Meta{ProductKey: "p", DeviceName: strings.Repeat("d", 33), DeviceSecret: "s"}, wantField: "device name", wantLen: 33, wantMax: 32},
		{name: "device secret 65", meta: Meta{ProductKey: "p", DeviceName: "d", DeviceSecret: strings.Repeat("s", 65)}, wantField: "device secret", wantLen: 65, wantMax: 64},
		{name: "custom without domain", region: Custom, meta: vec1, wantField: "custom domain"},
		{name: "custom domain 63 (3.2.0)", region: Custom, meta: vec1, opts: Options{CustomDomain: strings.Repeat("h", 63)}, wantField: "hostname", wantLen: 64, wantMax: 63},
		{name: "custom domain 255 (3.0.1)", region: Custom, meta: vec1, opts: Options{SDKVersion: SDK301, CustomDomain: strings.Repeat("h", 255)}, wantField: "hostname", wantLen: 256, wantMax: 255},
		{name: "client id with long customize_info", meta: vec1, opts: Options{CustomizeInfo: strings.Repeat("k", fit+1)}, wantField: "client id", wantLen: 200, wantMax: 199},
		{name: "unknown SDK version", meta: vec1, opts: Options{SDKVersion: "2.3.0"}, wantIs: ErrSDKVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign(tc.region, tc.meta, tc.opts)
			if err == nil {
				t.Fatal("Sign succeeded")
			}
			if !strings.HasPrefix(err.Error(), "devsign: sign ") {
				t.Errorf("error %q lacks context", err)
			}
			if tc.wantIs != nil {
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("error %v, want %v", err, tc.wantIs)
				}
				return
			}
			var le *LengthError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LengthError", err)
			}
			if le.Field != tc.wantField || le.Len != tc.wantLen || (tc.wantMax != 0 && le.Max != tc.wantMax) {
				t.Fatalf("LengthError %+v, want field %q len %d max %d", *le, tc.wantField, tc.wantLen, tc.wantMax)
			}
			if !strings.Contains(err.Error(), tc.wantField) {
				t.Errorf("error %q does not name %q", err, tc.wantField)
			}
			if tc.wantLen > 0 && !strings.Contains(err.Error(), "limit") {
				t.Errorf("error %q does not name the limit", err)
			}
		})
	}
}

// TestLengthBoundaries checks the last accepted value next to each rejected
// one in TestSignErrors.
func TestLengthBoundaries(t *testing.T) {
	fit := 199 - (len(vec1ID320) + 1)
	for _, tc := range []struct {
		name   string
		region Region
		opts   Options
	}{
		{"custom domain 62 (3.2.0)", Custom, Options{CustomDomain: strings.Repeat("h", 62)}},
		{"custom domain 254 (3.0.1)", Custom, Options{SDKVersion: SDK301, CustomDomain: strings.Repeat("h", 254)}},
		{"client id of 199 bytes", Shanghai, Options{CustomizeInfo: strings.Repeat("k", fit)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Sign(tc.region, vec1, tc.opts)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if len(c.ClientID) >= 200 {
				t.Fatalf("client id %d bytes", len(c.ClientID))
			}
		})
	}
	c, _ := Sign(Shanghai, vec1, Options{CustomizeInfo: strings.Repeat("k", fit)})
	if len(c.ClientID) != 199 {
		t.Fatalf("boundary client id is %d bytes, want 199", len(c.ClientID))
	}
}

// TestBufferChecks covers the SDK checks that input limits make unreachable
// through Sign (pk ≤ 20 and dn ≤ 32 keep the username under 55 bytes and the
// sign source under 169), so a change to those limits keeps them honest.
func TestBufferChecks(t *testing.T) {
	var le *LengthError
	// len(dn) + len(pk) + 2 >= 64 fails.
	if _, err := buildUsername(strings.Repeat("p", 20), strings.Repeat("d", 42)); !errors.As(err, &le) || le.Field != "username" || le.Len != 64 || le.Max != 63 {
		t.Errorf("username 64: %v", err)
	}
	if u, err := buildUsername(strings.Repeat("p", 20), strings.Repeat("d", 41)); err != nil || len(u) != 62 {
		t.Errorf("username 63: %q, %v", u, err)
	}
	// 50 + (pk+1+dn) + dn + pk + 13 = 64 + 2pk + 2dn >= 200  <=>  pk+dn >= 68.
	if _, err := buildSignSource(strings.Repeat("p", 34), strings.Repeat("d", 34)); !errors.As(err, &le) || le.Field != "sign source" || le.Len != 200 {
		t.Errorf("sign source 200: %v", err)
	}
	if _, err := buildSignSource(strings.Repeat("p", 34), strings.Repeat("d", 33)); err != nil {
		t.Errorf("sign source 198: %v", err)
	}
	if _, err := buildHost(Shanghai, strings.Repeat("p", 26), "", hostnameBuf320); !errors.As(err, &le) || le.Field != "hostname" {
		t.Errorf("region hostname 64: %v", err)
	}
	if h, err := buildHost(Shanghai, strings.Repeat("p", 25), "", hostnameBuf320); err != nil || len(h) != 62 {
		t.Errorf("region hostname 63: %q %v", h, err)
	}
}

func TestLengthErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  LengthError
		want string
	}{
		{LengthError{Field: "product key", Max: 20}, "product key is empty"},
		{LengthError{Field: "device name", Len: 33, Max: 32}, "device name too long: 33 bytes, limit 32"},
		{LengthError{Field: "username", Len: 64, Max: 63, Detail: "len(dn) + len(pk) + 2"}, "username too long: len(dn) + len(pk) + 2 = 64, limit 63"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestMetaValidate(t *testing.T) {
	if err := vec1.Validate(); err != nil {
		t.Fatalf("vec1: %v", err)
	}
	if err := (Meta{}).Validate(); err == nil {
		t.Fatal("empty meta accepted")
	}
}

func TestParseRegion(t *testing.T) {
	for in, want := range map[string]Region{
		"cn-shanghai": Shanghai, "shanghai": Shanghai, "0": Shanghai, "IOTX_CLOUD_REGION_SHANGHAI": Shanghai,
		"ap-southeast-1": Singapore, "Singapore": Singapore, "1": Singapore,
		"ap-northeast-1": Japan, "japan": Japan, "tokyo": Japan,
		"us-west-1": USWest, "us_west": USWest, "usa-west": USWest, "IOTX_CLOUD_REGION_USA_WEST": USWest,
		"eu-central-1": Germany, "GERMANY": Germany, "frankfurt": Germany,
		"custom": Custom, " 5 ": Custom,
	} {
		got, err := ParseRegion(in)
		if err != nil || got != want {
			t.Errorf("ParseRegion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6", "mars", "cn-hangzhou"} {
		if _, err := ParseRegion(in); !errors.Is(err, ErrRegion) {
			t.Errorf("ParseRegion(%q) error = %v, want ErrRegion", in, err)
		}
	}
}

func TestRegionStringRoundTrip(t *testing.T) {
	for r := Shanghai; r <= Custom; r++ {
		got, err := ParseRegion(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRegion(%q) = %v, %v", r.String(), got, err)
		}
		if _, ok := r.Domain(); ok != (r != Custom) {
			t.Errorf("%v.Domain() ok = %v", r, ok)
		}
	}
	if s := Region(9).String(); s != "Region(9)" {
		t.Errorf("Region(9).String() = %q", s)
	}
}

func FuzzSign(f *testing.F) {
	f.Add(0, vec1.ProductKey, vec1.DeviceName, vec1.DeviceSecret, "", false, "", "", 0)
	f.Add(5, "p", "d", "s", "mqtt.example.test", true, SDK301, "authtype=id2", 1)
	f.Add(3, strings.Repeat("p", 20), strings.Repeat("d", 32), strings.Repeat("s", 64), "", false, SDK320, strings.Repeat("k", 90), 2)
	f.Add(6, "", "", "", "", false, "x", "", 0)
	f.Fuzz(func(t *testing.T, region int, pk, dn, ds, domain string, plain bool, version, custom string, ss int) {
		opts := Options{CustomDomain: domain, PlainTCP: plain, SDKVersion: version, CustomizeInfo: custom}
		switch ss % 3 {
		case 1:
			opts.AutoSubscribe = boolPtr(true)
		case 2:
			opts.AutoSubscribe = boolPtr(false)
		}
		c, err := Sign(Region(region), Meta{pk, dn, ds}, opts)
		if err != nil {
			return
		}
		if len(c.Password) != 64 || strings.ToUpper(c.Password) != c.Password || strings.Trim(c.Password, "0123456789ABCDEF") != "" {
			t.Fatalf("password %q is not 64 uppercase hex digits", c.Password)
		}
		if c.Password != Password(pk, dn, ds) {
			t.Fatalf("password differs from Password()")
		}
		if len(c.ClientID) >= 200 {
			t.Fatalf("client id of %d bytes", len(c.ClientID))
		}
		if !strings.HasPrefix(c.ClientID, pk+"."+dn+"|") || !strings.HasSuffix(c.ClientID, "|") {
			t.Fatalf("client id %q", c.ClientID)
		}
		if c.Username != dn+"&"+pk {
			t.Fatalf("username %q", c.Username)
		}
		if c.Port != 443 && c.Port != 1883 {
			t.Fatalf("port %d", c.Port)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(Shanghai, vec1, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Password(vec1.ProductKey, vec1.DeviceName, vec1.DeviceSecret)
	}
}
