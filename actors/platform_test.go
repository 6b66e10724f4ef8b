package actors

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/iot"
	"github.com/fleetbench/fleetbench/scenarios"
)

// TestSignOptionsFollowTransport: every device of every SDK profile signs
// securemode 3 against the embedded broker (plain TCP) and 2 against an
// mqtts:// broker, with the profile's client id format and the group's
// customize_info; authtype=id2 gives 8 in the 3.x profiles only.
func TestSignOptionsFollowTransport(t *testing.T) {
	const groups = `devices:
  - {name: a, count: 2, product_key: a1X2bEnP82z, device_name: "a-${index}", device_secret: s, sdk: 3.0.1}
  - {name: b, count: 2, product_key: a1X2bEnP82z, device_name: "b-${index}", device_secret: s, sdk: 3.2.0}
  - {name: c, count: 2, product_key: a1X2bEnP82z, device_name: "c-${index}", device_secret: s, sdk: 4.x}
  - {name: d, count: 1, product_key: a1X2bEnP82z, device_name: "d-${index}", device_secret: s, sdk: 3.2.0, customize_info: authtype=id2}
  - {name: e, count: 1, product_key: a1X2bEnP82z, device_name: "e-${index}", device_secret: s, sdk: 4.x, customize_info: "authtype=id2,k=v"}
`
	for _, tc := range []struct {
		name, broker, mode string
	}{
		{"embedded (TCP)", "", "3"},
		{"mqtts", "broker: {url: \"mqtts://127.0.0.1:8883\"}\n", "2"},
		{"mqtt", "broker: {url: \"mqtt://127.0.0.1:1883\"}\n", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenarios.Parse("sign.yaml", []byte("duration: 1s\n"+tc.broker+groups))
			if err != nil {
				t.Fatal(err)
			}
			env, _, _, err := NewNodeEnv(sc, hal.NewSystemClock(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, p := range sc.Devices() {
				d := &device{env: env, plan: p}
				id, user, pass, err := d.credentials()
				if err != nil {
					t.Fatal(err)
				}
				mode := tc.mode
				if p.Group.Name == "d" {
					mode = "8" // 3.x: customize_info authtype=id2
				}
				var want string
				switch p.Group.SDK {
				case scenarios.SDK301:
					want = fmt.Sprintf("a1X2bEnP82z.%s|timestamp=2524608000000,_v=sdk-c-3.0.1,securemode=%s,signmethod=hmacsha256,lan=C,gw=0,ext=0|", p.DeviceName, mode)
				case scenarios.SDK320:
					want = fmt.Sprintf("a1X2bEnP82z.%s|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=%s,signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|", p.DeviceName, mode)
					if p.Group.Name == "d" {
						want = strings.TrimSuffix(want, "|") + ",authtype=id2|"
					}
				case scenarios.SDK4x:
					extend := ""
					if p.Group.Name == "e" {
						extend = "authtype=id2,k=v"
					}
					want = fmt.Sprintf("a1X2bEnP82z.%s|timestamp=2524608000000,_ss=1,_v=sdk-c-4.0.0,securemode=%s,signmethod=hmacsha256,ext=3,%s|", p.DeviceName, mode, extend)
				}
				if id != want {
					t.Errorf("%s: client id\n got %s\nwant %s", p.DeviceName, id, want)
				}
				if user != p.DeviceName+"&a1X2bEnP82z" || len(pass) != 64 {
					t.Errorf("%s: username %q password %q", p.DeviceName, user, pass)
				}
				checked++
			}
			if checked != 8 {
				t.Fatalf("checked %d devices", checked)
			}
		})
	}
}

// TestPlatformDeliveryQoS: under the platform a delivery is expected at the
// publisher's QoS, in the plan's index and in the receiver's check.
func TestPlatformDeliveryQoS(t *testing.T) {
	const text = `duration: 1s
%sdevices:
  - name: g
    count: 1
    product_key: a1X2bEnP82z
    device_secret: s
    subscribe:
      - topic: /a1X2bEnP82z/${deviceName}/user/get
        qos: 0
    publish:
      - topic: /a1X2bEnP82z/${deviceName}/user/get
        qos: 1
        interval: 1s
`
	for _, tc := range []struct {
		broker string
		want   [3]int
		qos    int
	}{
		{"", [3]int{1, 0, 0}, 0},                              // MQTT: min(1, 0)
		{"broker: {platform: alibaba}\n", [3]int{0, 1, 0}, 1}, // the platform: the publisher's
	} {
		sc, err := scenarios.Parse("qos.yaml", []byte(fmt.Sprintf(text, tc.broker)))
		if err != nil {
			t.Fatal(err)
		}
		env, _, _, err := NewNodeEnv(sc, hal.NewSystemClock(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got := env.Index.Count("/a1X2bEnP82z/dev-0/user/get", iot.QoS1); got != tc.want {
			t.Errorf("%q: expected deliveries by QoS %v, want %v", tc.broker, got, tc.want)
		}
		if got := env.deliveryQoS(1, 0); got != tc.qos {
			t.Errorf("%q: delivery QoS %d, want %d", tc.broker, got, tc.qos)
		}
	}
}

// TestKickedDuplicateID: two devices with the same client id against the
// embedded broker, which (as mochi does by default) takes the client id
// over: the older connection is closed when the second device connects.
// The kicked device reconnects after its 1 s backoff and kicks the other
// in turn, so the run has a kick about every second: every disconnect of
// the run is one of them, and each is classified kicked_duplicate_id.
func TestKickedDuplicateID(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a fleet run")
	}
	sc, err := scenarios.Parse("dup.yaml", []byte(`duration: 2s
hold: true
drain: 200ms
devices:
  - {name: a, count: 1, device_name: x, client_id: same-id}
  - {name: b, count: 1, device_name: y, client_id: same-id}
`))
	if err != nil {
		t.Fatal(err)
	}
	res := runHonest(t, sc, Options{NoFailFast: true})
	kicked := res.ReasonCodes["disconnect:"+iot.KickedDuplicateID]
	t.Logf("disconnects %d, reason codes %v", res.Totals.Disconnects, res.ReasonCodes)
	if kicked < 1 || kicked != res.Totals.Disconnects {
		t.Fatalf("%d disconnects, %d classified %s (reasons %v); every disconnect of this run is a takeover", res.Totals.Disconnects, kicked, iot.KickedDuplicateID, res.ReasonCodes)
	}
}

// TestKickedNeedsAnotherDevice: a disconnect is a kick only while another
// device has a connection open with the client id.
func TestKickedNeedsAnotherDevice(t *testing.T) {
	c := NewConnections()
	c.Opened("id", 1)
	if c.Kicked("id", 1) {
		t.Fatal("a device kicked by itself")
	}
	c.Opened("id", 2)
	if !c.Kicked("id", 1) || !c.Kicked("id", 2) {
		t.Fatal("two open connections with one client id: either disconnect is a kick")
	}
	c.Closed("id", 1)
	if c.Kicked("id", 2) {
		t.Fatal("device 1 closed its connection: device 2 is not kicked")
	}
	c.Opened("id", 1)
	c.Closed("id", 2)
	c.Opened("id", 3)
	if !c.Kicked("id", 1) || !c.Kicked("id", 3) {
		t.Fatal("devices 1 and 3 have connections open")
	}
	c.Closed("id", 1)
	c.Closed("id", 3)
	if c.Kicked("id", 3) || c.Kicked("other", 1) {
		t.Fatal("stale entries")
	}
	for i := range c.shards {
		if n := len(c.shards[i].open); n != 0 {
			t.Fatalf("shard %d keeps %d client ids with nothing open", i, n)
		}
	}
	var none *Connections
	none.Opened("id", 1)
	none.Closed("id", 1)
	if none.Kicked("id", 2) {
		t.Fatal("a nil index classifies nothing")
	}
}

// reasonBroker is an MQTT 5 broker that accepts every CONNECT, or refuses
// it with connack, and then, when disconnect is non-zero, at once sends
// DISCONNECT with that reason code and closes.
func reasonBroker(t *testing.T, connack, disconnect byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				if typ, err := readPacket(r); err != nil || typ != 1 { // CONNECT
					return
				}
				// CONNACK: flags, reason code, no properties.
				if _, err := c.Write([]byte{0x20, 3, 0, connack, 0}); err != nil || connack != 0 {
					return
				}
				if disconnect != 0 {
					_, _ = c.Write([]byte{0xE0, 2, disconnect, 0}) // DISCONNECT: reason code, no properties
					return
				}
				for {
					if _, err := readPacket(r); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// readPacket reads one MQTT packet and returns its type.
func readPacket(r *bufio.Reader) (byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return 0, err
	}
	return h >> 4, nil
}

// TestThrottlingReasons: MQTT 5 DISCONNECT 0x96 is counted as rate_limited
// and 0x97 as quota_exceeded, and a CONNACK refusing with 0x96 as
// rate_limited (the spec's names are message_rate_too_high and
// quota_exceeded).
func TestThrottlingReasons(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: fleet runs")
	}
	for _, tc := range []struct {
		name                string
		connack, disconnect byte
		key, raw            string
	}{
		{"disconnect 0x96", 0, 0x96, "disconnect:" + iot.RateLimited, "disconnect:message_rate_too_high"},
		{"disconnect 0x97", 0, 0x97, "disconnect:" + iot.QuotaExceeded, ""},
		{"connack 0x96", 0x96, 0, "connack:" + iot.RateLimited, "connack:message_rate_too_high"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := reasonBroker(t, tc.connack, tc.disconnect)
			sc, err := scenarios.Parse("throttle.yaml", []byte(`duration: 1500ms
drain: 100ms
broker: {url: "mqtt://`+addr+`"}
devices:
  - {name: g, count: 1, mqtt_version: 5, clean_session: true}
`))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := Run(ctx, sc, Options{NoFailFast: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("reason codes %v", res.ReasonCodes)
			if res.ReasonCodes[tc.key] < 1 {
				t.Fatalf("no %s in %v", tc.key, res.ReasonCodes)
			}
			if tc.raw != "" && res.ReasonCodes[tc.raw] != 0 {
				t.Fatalf("%s still counted under its spec name: %v", tc.key, res.ReasonCodes)
			}
		})
	}
}

// TestSignedIdentityIsTheDevices: what validate prints is what the device
// sends.
func TestSignedIdentityIsTheDevices(t *testing.T) {
	for _, broker := range []string{"", "broker: {url: \"mqtts://127.0.0.1:8883\"}\n"} {
		sc, err := scenarios.Parse("id.yaml", []byte("duration: 1s\n"+broker+`devices:
  - {name: a, count: 2, product_key: a1X2bEnP82z, device_secret: s, sdk: 4.x, customize_info: "k=v"}
  - {name: b, count: 1, product_key: a1X2bEnP82z, device_name: b, device_secret: s, client_id: own-id}
  - {name: c, count: 1, username: u, password: p}
`))
		if err != nil {
			t.Fatal(err)
		}
		env, _, _, err := NewNodeEnv(sc, hal.NewSystemClock(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range sc.Devices() {
			id, user, pass, err := (&device{env: env, plan: p}).credentials()
			if err != nil {
				t.Fatal(err)
			}
			id2, user2, pass2, _, err := SignedIdentity(sc, &p)
			if err != nil || id != id2 || user != user2 || pass != pass2 {
				t.Errorf("%s: device sends %q %q %q, SignedIdentity gives %q %q %q (%v)", p.DeviceName, id, user, pass, id2, user2, pass2, err)
			}
		}
	}
}
