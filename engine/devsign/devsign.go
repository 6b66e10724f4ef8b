// Package devsign reproduces IOT_Sign_MQTT of the Alibaba Cloud iotkit-embedded
// C SDK 3.x (branches v3.0.1 and v3.2.0), together with the client id
// rework IOT_MQTT_Construct does for customize_info, and the signing of
// the Link SDK 4.x (core_auth.c): from a region and a device triple
// (product key, device name, device secret) it derives the MQTT host,
// port, client id, username and password a real device would use.
//
// What is reproduced, byte for byte:
//
//   - host: "${pk}.iot-as-mqtt.${region}.aliyuncs.com", or the custom domain
//     verbatim for region Custom;
//   - port: 443 in 3.2.0; 443 with TLS and 1883 without in 3.0.1;
//   - username: "${dn}&${pk}";
//   - client id: "${pk}.${dn}|timestamp=2524608000000,_v=sdk-c-<version>,
//     securemode=<2|3|8>,signmethod=hmacsha256,lan=C[,_ss=1],gw=0,ext=0
//     [,customize_info]|" (one line; securemode 2 = TLS, 3 = plain TCP,
//     8 = customize_info contains "authtype=id2");
//   - password: uppercase hex HMAC-SHA256, keyed with the device secret, of
//     "clientId${pk}.${dn}deviceName${dn}productKey${pk}timestamp2524608000000"
//     (the timestamp is the SDK's fixed constant, not the clock, so the
//     password of a device never changes; see Password);
//   - the SDK's length checks, which fail rather than truncate: product key
//     ≤ 20, device name ≤ 32, device secret ≤ 64 bytes, none empty (the
//     checks IOT_MQTT_Construct makes before signing), then the fixed C
//     buffers: client id < 200, sign source < 200, hostname < 64 (3.0.1:
//     < 256), username < 64. Violations are *LengthError values.
//
// The Link SDK 4.x (SDK4x) signs the same username and password (its
// core_auth_mqtt_password hashes the same text with the same fixed
// timestamp) but builds another client id, in core_auth_mqtt_clientid of
// core/utils/core_auth.c:
//
//	"${pk}.${dn}|timestamp=2524608000000,_ss=1,_v=sdk-c-4.0.0,
//	securemode=<2|3>,signmethod=hmacsha256,ext=3,<extend_clientid>|"
//
// (one line; "_v" is CORE_AUTH_SDK_VERSION of core_auth.h; ext=3 is a
// bitmap, bit 0 RRPC, bit 1 ext_notify; extend_clientid, the
// AIOT_MQTTOPT_EXTEND_CLIENTID option, is CustomizeInfo here, and an empty
// one leaves "ext=3,|"). Its securemode comes from the transport only
// (_core_mqtt_connect in core/aiot_mqtt_api.c: "3" without a TLS
// credential, "2" with one): the 4.x source has no "authtype=id2" test, so
// customize_info does not give securemode 8 there. 4.x allocates its
// strings, so the 3.x buffer checks do not apply; the triple limits do.
//
// Not reproduced: the pre-auth "guider" mode of 3.0.1 (securemode -1, an
// HTTPS round trip), dynamic registration, and the 2.x HMAC-SHA1 scheme.
package devsign

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// SDK versions whose behaviour Sign reproduces (Options.SDKVersion).
const (
	SDK301 = "3.0.1"
	SDK320 = "3.2.0"
	// SDK4x is the Link SDK 4.x; its client id carries "_v=sdk-c-4.0.0"
	// (SDK4Version).
	SDK4x = "4.x"
)

// SDK4Version is CORE_AUTH_SDK_VERSION of the Link SDK 4.x (core_auth.h),
// the "_v" of its client id.
const SDK4Version = "sdk-c-4.0.0"

// Timestamp is the fixed timestamp every 3.x device puts in its client id and
// sign source (2050-01-01T00:00:00Z in milliseconds).
const Timestamp = "2524608000000"

// Input limits (IOTX_PRODUCT_KEY_LEN, IOTX_DEVICE_NAME_LEN,
// IOTX_DEVICE_SECRET_LEN): the longest accepted value, in bytes.
const (
	MaxProductKeyLen   = 20
	MaxDeviceNameLen   = 32
	MaxDeviceSecretLen = 64
)

// Sizes of the SDK's fixed buffers (iotx_sign_mqtt_t and the sign source);
// a value must be strictly shorter than its buffer.
const (
	clientIDBuf       = 200 // DEV_SIGN_CLIENT_ID_MAXLEN
	signSourceBuf     = 200 // DEV_SIGN_SOURCE_MAXLEN
	usernameBuf       = 64  // DEV_SIGN_USERNAME_MAXLEN
	hostnameBuf320    = 64  // DEV_SIGN_HOSTNAME_MAXLEN in 3.2.0
	hostnameBuf301    = 256 // hostname[256] in 3.0.1
	signFmtLen        = 50  // SIGN_FMT_LEN, the SDK's allowance for the format text
	securemodeTLS     = "2"
	securemodeTCP     = "3"
	securemodeID2     = "8"
	id2Marker         = "authtype=id2"
	portTLS           = 443
	portTCP301        = 1883
	defaultSDKVersion = SDK320
)

// ErrSDKVersion is returned (wrapped) when Options.SDKVersion is not
// SDK301, SDK320 or SDK4x.
var ErrSDKVersion = errors.New("unsupported SDK version")

// LengthError reports an empty input, or an input or derived value that
// exceeds a limit of the C SDK. The SDK fails in these cases; it never
// truncates, and neither does Sign.
type LengthError struct {
	Field  string // "product key", "device name", "device secret", "custom domain", "client id", "sign source", "hostname" or "username"
	Len    int    // the length the SDK checks (0 means empty)
	Max    int    // the largest accepted Len
	Detail string // how the SDK computes Len, when it is not just the field's length
}

// Error implements error.
func (e *LengthError) Error() string {
	if e.Len == 0 {
		return e.Field + " is empty"
	}
	if e.Detail != "" {
		return fmt.Sprintf("%s too long: %s = %d, limit %d", e.Field, e.Detail, e.Len, e.Max)
	}
	return fmt.Sprintf("%s too long: %d bytes, limit %d", e.Field, e.Len, e.Max)
}

// Meta is a device triple (iotx_dev_meta_info_t without the fields
// IOT_Sign_MQTT ignores).
type Meta struct {
	ProductKey   string
	DeviceName   string
	DeviceSecret string
}

// Validate applies the checks IOT_MQTT_Construct makes on the triple: each
// field non-empty and within MaxProductKeyLen, MaxDeviceNameLen and
// MaxDeviceSecretLen. The error is a *LengthError.
func (m Meta) Validate() error {
	for _, f := range [...]struct {
		name string
		v    string
		max  int
	}{
		{"product key", m.ProductKey, MaxProductKeyLen},
		{"device name", m.DeviceName, MaxDeviceNameLen},
		{"device secret", m.DeviceSecret, MaxDeviceSecretLen},
	} {
		if len(f.v) == 0 || len(f.v) > f.max {
			return &LengthError{Field: f.name, Len: len(f.v), Max: f.max}
		}
	}
	return nil
}

// Options are the build-time and Construct-time switches of the SDK that
// change what Sign produces. The zero value is a default 3.2.0 build: TLS,
// port 443, _ss=1, no customize_info.
type Options struct {
	// CustomDomain is the MQTT host for region Custom, used verbatim
	// (IOTX_IOCTL_SET_MQTT_DOMAIN). Required for Custom, ignored otherwise.
	CustomDomain string
	// PlainTCP models a connection without TLS: securemode=3 (a 3.x build
	// without SUPPORT_TLS, a 4.x connection without a TLS credential), and
	// port 1883 in 3.0.1 and 4.x (3.2.0 reports 443 either way). The
	// default is TLS, securemode=2.
	PlainTCP bool
	// SDKVersion is SDK301, SDK320 (default) or SDK4x. It appears in the
	// client id as _v=sdk-c-<version> (SDK4Version for 4.x) and selects
	// the client id format, the port rule, the buffer limits and the
	// AutoSubscribe default.
	SDKVersion string
	// AutoSubscribe models MQTT_AUTO_SUBSCRIBE, the ",_ss=1" client id pair.
	// nil means the version's default: on for 3.2.0, off for 3.0.1. The
	// 4.x client id always has _ss=1 (it is part of the format string), so
	// it is ignored for SDK4x.
	AutoSubscribe *bool
	// CustomizeInfo is iotx_mqtt_param_t.customize_info (3.x) or the
	// extend_clientid option (4.x): "k=v" text appended to the client id.
	// In 3.x, if it contains "authtype=id2", securemode becomes 8 (4.x has
	// no such rule). Empty means none (NULL in C).
	CustomizeInfo string
}

// Credentials is iotx_sign_mqtt_t: where and how the device connects.
type Credentials struct {
	Host     string
	Port     uint16
	ClientID string
	Username string
	Password string
}

// Addr returns Host:Port, suitable for net.Dial.
func (c Credentials) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
}

// Sign reproduces IOT_Sign_MQTT for the device meta in the given region,
// with the client id rebuilt as IOT_MQTT_Construct does when
// Options.CustomizeInfo is set. Errors name the offending field and limit
// (*LengthError), or wrap ErrRegion or ErrSDKVersion.
func Sign(region Region, meta Meta, opts Options) (Credentials, error) {
	c, err := sign(region, meta, opts)
	if err != nil {
		return Credentials{}, fmt.Errorf("devsign: sign %s.%s: %w", meta.ProductKey, meta.DeviceName, err)
	}
	return c, nil
}

func sign(region Region, meta Meta, opts Options) (Credentials, error) {
	if region < Shanghai || region > Custom {
		return Credentials{}, fmt.Errorf("region %d: %w", int(region), ErrRegion)
	}
	if err := meta.Validate(); err != nil {
		return Credentials{}, err
	}
	version := opts.SDKVersion
	if version == "" {
		version = defaultSDKVersion
	}
	if version != SDK301 && version != SDK320 && version != SDK4x {
		return Credentials{}, fmt.Errorf("%q (want %s, %s or %s): %w", version, SDK301, SDK320, SDK4x, ErrSDKVersion)
	}
	if version == SDK4x {
		return sign4(region, meta, opts)
	}
	autoSub := version == SDK320
	if opts.AutoSubscribe != nil {
		autoSub = *opts.AutoSubscribe
	}
	mode := securemodeTLS
	if opts.PlainTCP {
		mode = securemodeTCP
	}
	if strings.Contains(opts.CustomizeInfo, id2Marker) {
		mode = securemodeID2
	}
	pk, dn := meta.ProductKey, meta.DeviceName

	clientID, err := buildClientID(pk+"."+dn, version, mode, autoSub, opts.CustomizeInfo)
	if err != nil {
		return Credentials{}, err
	}
	if _, err := buildSignSource(pk, dn); err != nil {
		return Credentials{}, err
	}
	hostBuf := hostnameBuf320
	if version == SDK301 {
		hostBuf = hostnameBuf301
	}
	host, err := buildHost(region, pk, opts.CustomDomain, hostBuf)
	if err != nil {
		return Credentials{}, err
	}
	username, err := buildUsername(pk, dn)
	if err != nil {
		return Credentials{}, err
	}
	port := uint16(portTLS)
	if version == SDK301 && opts.PlainTCP {
		port = portTCP301
	}
	return Credentials{
		Host:     host,
		Port:     port,
		ClientID: clientID,
		Username: username,
		Password: Password(pk, dn, meta.DeviceSecret),
	}, nil
}

// sign4 is the Link SDK 4.x: core_auth_mqtt_username, _password and
// _clientid (core/utils/core_auth.c), securemode as _core_mqtt_connect
// (core/aiot_mqtt_api.c) picks it, and the host its demos build
// ("${pk}.iot-as-mqtt.${region}.aliyuncs.com"; 4.x takes the host from the
// application, AIOT_MQTTOPT_HOST). The demos connect to port 443 with TLS
// and say to use 1883 without (demos/mqtt_basic_demo.c).
func sign4(region Region, meta Meta, opts Options) (Credentials, error) {
	pk, dn := meta.ProductKey, meta.DeviceName
	mode := securemodeTLS
	port := uint16(portTLS)
	if opts.PlainTCP {
		mode, port = securemodeTCP, portTCP301
	}
	host, err := buildHost(region, pk, opts.CustomDomain, hostnameBuf301)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		Host:     host,
		Port:     port,
		ClientID: clientID4(pk, dn, mode, opts.CustomizeInfo),
		Username: dn + "&" + pk,
		Password: Password(pk, dn, meta.DeviceSecret),
	}, nil
}

// clientID4 is the format of core_auth_mqtt_clientid; a NULL
// extend_clientid renders as "" (core_sprintf), leaving "ext=3,|".
func clientID4(pk, dn, mode, extend string) string {
	var b strings.Builder
	b.Grow(len(pk) + len(dn) + 100 + len(extend))
	b.WriteString(pk)
	b.WriteByte('.')
	b.WriteString(dn)
	b.WriteString("|timestamp=" + Timestamp + ",_ss=1,_v=" + SDK4Version + ",securemode=")
	b.WriteString(mode)
	b.WriteString(",signmethod=hmacsha256,ext=3,")
	b.WriteString(extend)
	b.WriteByte('|')
	return b.String()
}

// buildClientID follows _sign_get_clientid: every pair is checked against
// the 200-byte buffer before it is appended, then customize_info, then the
// trailing ',' becomes '|'.
func buildClientID(deviceID, version, mode string, autoSub bool, custom string) (string, error) {
	kv := [...][2]string{
		{"timestamp", Timestamp},
		{"_v", "sdk-c-" + version},
		{"securemode", mode},
		{"signmethod", "hmacsha256"},
		{"lan", "C"},
		{"_ss", "1"},
		{"gw", "0"},
		{"ext", "0"},
	}
	var b strings.Builder
	b.Grow(len(deviceID) + 112 + len(custom))
	b.WriteString(deviceID)
	b.WriteByte('|')
	for _, p := range kv {
		if p[0] == "_ss" && !autoSub {
			continue
		}
		if n := b.Len() + len(p[0]) + len(p[1]) + 2; n >= clientIDBuf {
			return "", &LengthError{Field: "client id", Len: n, Max: clientIDBuf - 1,
				Detail: "running length + len(" + p[0] + ") + value + 2"}
		}
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(p[1])
		b.WriteByte(',')
	}
	if custom != "" {
		if n := b.Len() + len(custom) + 1; n >= clientIDBuf {
			return "", &LengthError{Field: "client id", Len: n, Max: clientIDBuf - 1,
				Detail: "running length + len(customize_info) + 1"}
		}
		b.WriteString(custom)
		b.WriteByte(',')
	}
	s := b.String()
	return s[:len(s)-1] + "|", nil
}

// buildSignSource returns the HMAC message after the SDK's length check.
func buildSignSource(pk, dn string) (string, error) {
	deviceID := len(pk) + 1 + len(dn)
	if n := signFmtLen + deviceID + len(dn) + len(pk) + len(Timestamp); n >= signSourceBuf {
		return "", &LengthError{Field: "sign source", Len: n, Max: signSourceBuf - 1,
			Detail: "50 + len(pk.dn) + len(dn) + len(pk) + 13"}
	}
	return string(appendSignSource(make([]byte, 0, 64+2*deviceID), pk, dn)), nil
}

func appendSignSource(b []byte, pk, dn string) []byte {
	b = append(b, "clientId"...)
	b = append(b, pk...)
	b = append(b, '.')
	b = append(b, dn...)
	b = append(b, "deviceName"...)
	b = append(b, dn...)
	b = append(b, "productKey"...)
	b = append(b, pk...)
	b = append(b, "timestamp"...)
	return append(b, Timestamp...)
}

func buildHost(region Region, pk, custom string, buf int) (string, error) {
	if region == Custom {
		if custom == "" {
			return "", &LengthError{Field: "custom domain"}
		}
		if n := len(custom) + 1; n >= buf {
			return "", &LengthError{Field: "hostname", Len: n, Max: buf - 1, Detail: "len(custom domain) + 1"}
		}
		return custom, nil
	}
	domain, _ := region.Domain()
	if n := len(pk) + len(domain) + 2; n >= buf {
		return "", &LengthError{Field: "hostname", Len: n, Max: buf - 1, Detail: "len(pk) + len(domain) + 2"}
	}
	return pk + "." + domain, nil
}

func buildUsername(pk, dn string) (string, error) {
	if n := len(dn) + len(pk) + 2; n >= usernameBuf {
		return "", &LengthError{Field: "username", Len: n, Max: usernameBuf - 1, Detail: "len(dn) + len(pk) + 2"}
	}
	return dn + "&" + pk, nil
}

// Password returns the 3.x MQTT password of a device: the uppercase hex
// HMAC-SHA256, keyed with the device secret, of
// "clientId${pk}.${dn}deviceName${dn}productKey${pk}timestamp2524608000000".
// It does no validation; it is what a broker computes to verify a device.
func Password(pk, dn, ds string) string {
	var src [256]byte
	mac := hmac.New(sha256.New, []byte(ds))
	mac.Write(appendSignSource(src[:0], pk, dn))
	var sum [sha256.Size]byte
	const digits = "0123456789ABCDEF"
	var out [2 * sha256.Size]byte
	for i, v := range mac.Sum(sum[:0]) {
		out[2*i] = digits[v>>4]
		out[2*i+1] = digits[v&0x0f]
	}
	return string(out[:])
}
