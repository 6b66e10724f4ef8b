package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// startPlatform starts a broker emulating the platform, with devsign
// devices a1pk/dev0…dev(n-1).
func startPlatform(t *testing.T, n int) *Broker {
	t.Helper()
	return startBroker(t, Options{Auth: AuthDevSign, Registry: fleet(t, "a1pk", n), Platform: PlatformAlibaba})
}

func dev(t *testing.T, b *Broker, i int, configure ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	dn := fmt.Sprintf("dev%d", i)
	return mustConnect(t, b, viaMem, deviceCreds(t, "a1pk", dn, "secret-"+dn), configure...)
}

func TestPlatformUnknown(t *testing.T) {
	if _, err := New(Options{Platform: "aws", DisableTCP: true}); err == nil || !strings.Contains(err.Error(), "unknown platform") {
		t.Fatalf("New with platform aws: %v", err)
	}
}

func TestPlatformThingReply(t *testing.T) {
	b := startPlatform(t, 1)
	d := dev(t, b, 0)
	_, replies := subscribe(t, d, "/sys/a1pk/dev0/thing/event/+/post_reply", 0)
	for _, tc := range []struct {
		name, topic, body string
		qos               byte
		want              alinkReply
	}{
		{"property post", "/sys/a1pk/dev0/thing/event/property/post", `{"id":"42","version":"1.0","params":{"t":21.5},"method":"thing.event.property.post"}`, 1,
			alinkReply{Code: 200, ID: "42", Message: "success", Method: "thing.event.property.post", Version: "1.0"}},
		{"event post", "/sys/a1pk/dev0/thing/event/alarm/post", `{"id":"4294967295","version":"1.0","params":{"value":{"level":3}},"method":"thing.event.alarm.post"}`, 0,
			alinkReply{Code: 200, ID: "4294967295", Message: "success", Method: "thing.event.alarm.post", Version: "1.0"}},
		{"id not digits", "/sys/a1pk/dev0/thing/event/property/post", `{"id":"a-1","version":"1.0","params":{},"method":"thing.event.property.post"}`, 1,
			alinkReply{Code: 460, ID: "a-1", Message: "request parameter error", Method: "thing.event.property.post", Version: "1.0"}},
		{"id too large", "/sys/a1pk/dev0/thing/event/property/post", `{"id":"4294967296","version":"1.0","params":{},"method":"thing.event.property.post"}`, 0,
			alinkReply{Code: 460, ID: "4294967296", Message: "request parameter error", Method: "thing.event.property.post", Version: "1.0"}},
		{"method of another topic", "/sys/a1pk/dev0/thing/event/property/post", `{"id":"7","version":"1.0","params":{},"method":"thing.event.alarm.post"}`, 0,
			alinkReply{Code: 460, ID: "7", Message: "request parameter error", Method: "thing.event.property.post", Version: "1.0"}},
		{"not JSON", "/sys/a1pk/dev0/thing/event/property/post", `hello`, 0,
			alinkReply{Code: 460, Message: "request parameter error", Method: "thing.event.property.post", Version: "1.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			publish(t, d, tc.topic, tc.qos, tc.body)
			m := receive(t, replies)
			if m.Topic() != tc.topic+"_reply" {
				t.Fatalf("reply on %s, want %s_reply", m.Topic(), tc.topic)
			}
			if m.Qos() != tc.qos {
				t.Errorf("reply at QoS %d, want the post's QoS %d (subscribed at 0)", m.Qos(), tc.qos)
			}
			var got alinkReply
			if err := json.Unmarshal(m.Payload(), &got); err != nil {
				t.Fatalf("reply %q: %v", m.Payload(), err)
			}
			if string(got.Data) != "{}" {
				t.Errorf("data %s, want {}", got.Data)
			}
			got.Data = nil
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("reply %+v, want %+v", got, tc.want)
			}
			// The platform's field order.
			if !strings.HasPrefix(string(m.Payload()), `{"code":`) || !strings.Contains(string(m.Payload()), `"message":`) {
				t.Errorf("reply %s", m.Payload())
			}
		})
	}
	s := b.PlatformStats()
	if s.ThingPosts != 6 || s.ThingReplies != 6 || s.ThingReplyErrors != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// answerRRPC makes d answer every RRPC request with "re:"+payload, each
// after the delay that delay returns for it.
func answerRRPC(t *testing.T, d paho.Client, dn string, delay func(payload string) <-chan struct{}) {
	t.Helper()
	tok := d.Subscribe("/sys/a1pk/"+dn+"/rrpc/request/+", 0, func(c paho.Client, m paho.Message) {
		id := m.Topic()[strings.LastIndexByte(m.Topic(), '/')+1:]
		payload := string(m.Payload())
		go func() {
			if delay != nil {
				<-delay(payload)
			}
			c.Publish("/sys/a1pk/"+dn+"/rrpc/response/"+id, 0, false, "re:"+payload)
		}()
	})
	if !tok.WaitTimeout(wait) || tok.Error() != nil {
		t.Fatalf("subscribe rrpc: %v", tok.Error())
	}
}

func TestPlatformRRPC(t *testing.T) {
	b := startPlatform(t, 3)
	ctx := context.Background()
	answerRRPC(t, dev(t, b, 0), "dev0", nil)

	for i := range 20 {
		body := fmt.Sprintf("call-%d", i)
		reply, lat, err := b.RRPC(ctx, "a1pk", "dev0", []byte(body), wait)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if string(reply) != "re:"+body || lat <= 0 || lat > wait {
			t.Fatalf("call %d: reply %q latency %v", i, reply, lat)
		}
	}

	// dev1 answers only when released: after the timeout.
	release := make(chan struct{})
	answerRRPC(t, dev(t, b, 1), "dev1", func(string) <-chan struct{} { return release })
	_, _, err := b.RRPC(ctx, "a1pk", "dev1", []byte("slow"), 50*time.Millisecond)
	if !errors.Is(err, ErrRRPCTimeout) {
		t.Fatalf("slow device: %v, want ErrRRPCTimeout", err)
	}
	close(release)
	waitFor(t, "late answer counted", func() bool { return b.PlatformStats().RRPCLate == 1 })

	// dev2 is registered but not connected.
	if _, _, err := b.RRPC(ctx, "a1pk", "dev2", []byte("x"), wait); !errors.Is(err, ErrRRPCOffline) {
		t.Fatalf("offline device: %v, want ErrRRPCOffline", err)
	}
	s := b.PlatformStats()
	if s.RRPCRequests != 21 || s.RRPCAnswered != 20 || s.RRPCLate != 1 || s.RRPCOffline != 1 {
		t.Fatalf("stats %+v", s)
	}

	plain := startBroker(t, Options{DisableTCP: true})
	if _, _, err := plain.RRPC(ctx, "a1pk", "dev0", nil, time.Second); !errors.Is(err, ErrNoPlatform) {
		t.Fatalf("plain broker: %v", err)
	}
}

func TestPlatformACLCategories(t *testing.T) {
	a, err := newPlatformACL([]string{"/${productKey}/${deviceName}/update"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic    string
		sub, pub bool
	}{
		{"/pk/dn/user/get", true, true},
		{"/pk/dn/user/#", true, false},
		{"/sys/pk/dn/thing/event/property/post", true, true},
		{"/sys/pk/dn/rrpc/request/+", true, false},
		{"/sys/pk/dn/rrpc/response/123", true, true},
		{"/broadcast/pk/all", true, false},
		{"/broadcast/pk/#", true, false},
		{"/ext/ntp/pk/dn/request", true, true},
		{"/ota/device/inform/pk/dn", true, true},
		{"/pk/dn/update", true, true}, // Options.Grants
		{"/pk/dn/get", false, false},  // not a user category
		{"/pk/other/user/get", false, false},
		{"/sys/pk/other/thing/event/property/post", false, false},
		{"/broadcast/other/all", false, false},
		{"/#", false, false},
	} {
		if got := a.allows("pk", "dn", tc.topic, true); got != tc.sub {
			t.Errorf("subscribe %s: %v, want %v", tc.topic, got, tc.sub)
		}
		if !strings.ContainsAny(tc.topic, "+#") {
			if got := a.allows("pk", "dn", tc.topic, false); got != tc.pub {
				t.Errorf("publish %s: %v, want %v", tc.topic, got, tc.pub)
			}
		}
	}

	b := startPlatform(t, 1)
	d := dev(t, b, 0)
	if got, _ := subscribe(t, d, "/a1pk/dev0/get", 0); got != 0x80 {
		t.Errorf("subscribe outside the categories: SUBACK %#x, want 0x80", got)
	}
	if got, _ := subscribe(t, d, "/broadcast/a1pk/#", 0); got != 0 {
		t.Errorf("subscribe broadcast: SUBACK %#x, want 0", got)
	}
	_, own := subscribe(t, d, "/a1pk/dev0/user/get", 0)
	publish(t, d, "/broadcast/a1pk/all", 0, "denied")  // subscribe-only category
	publish(t, d, "/a1pk/dev0/user/get", 0, "allowed") // in order after it
	if m := receive(t, own); string(m.Payload()) != "allowed" {
		t.Fatalf("got %q", m.Payload())
	}
	if got := b.Stats().PublishDenied; got != 1 {
		t.Errorf("PublishDenied %d, want 1", got)
	}
}

func TestPlatformDeliversAtPublisherQoS(t *testing.T) {
	b := startPlatform(t, 1)
	d := dev(t, b, 0)
	granted, ch := subscribe(t, d, "/a1pk/dev0/user/get", 0)
	if granted != 0 {
		t.Fatalf("granted %d, want the 0 asked for", granted)
	}
	if g, _ := subscribe(t, d, "/a1pk/dev0/user/two", 2); g != 1 {
		t.Fatalf("QoS 2 subscription granted %d, want 1", g)
	}
	publish(t, d, "/a1pk/dev0/user/get", 1, "one")
	publish(t, d, "/a1pk/dev0/user/get", 0, "zero")
	for _, want := range []struct {
		body string
		qos  byte
	}{{"one", 1}, {"zero", 0}} {
		m := receive(t, ch)
		if string(m.Payload()) != want.body || m.Qos() != want.qos {
			t.Fatalf("got %q at QoS %d, want %q at %d", m.Payload(), m.Qos(), want.body, want.qos)
		}
	}
}

func TestPlatformRefusesQoS2RetainWill(t *testing.T) {
	b := startPlatform(t, 3)
	obs := dev(t, b, 0)
	_, ch := subscribe(t, obs, "/a1pk/dev0/user/#", 0)

	t.Run("QoS 2 publish closes the connection", func(t *testing.T) {
		lost := make(chan error, 1)
		d := dev(t, b, 1, func(o *paho.ClientOptions) {
			o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		})
		d.Publish("/a1pk/dev1/user/x", 2, false, "q2")
		select {
		case <-lost:
		case <-time.After(wait):
			t.Fatal("not disconnected")
		}
		if got := b.PlatformStats().QoS2Refused; got != 1 {
			t.Fatalf("QoS2Refused %d", got)
		}
	})

	t.Run("retain is not kept", func(t *testing.T) {
		tok := obs.Publish("/a1pk/dev0/user/retained", 1, true, "kept?")
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		if m := receive(t, ch); string(m.Payload()) != "kept?" || m.Retained() {
			t.Fatalf("live delivery %q retained=%v", m.Payload(), m.Retained())
		}
		// A new subscription gets no retained message: the marker
		// published after it is the first thing it sees.
		_, late := subscribe(t, obs, "/a1pk/dev0/user/retained", 0)
		publish(t, obs, "/a1pk/dev0/user/retained", 0, "marker")
		if m := receive(t, late); string(m.Payload()) != "marker" {
			t.Fatalf("first message on the new subscription %q, want marker", m.Payload())
		}
		if got := b.PlatformStats().RetainIgnored; got != 1 {
			t.Fatalf("RetainIgnored %d", got)
		}
	})

	t.Run("will is dropped, older connection kicked", func(t *testing.T) {
		_, wills := subscribe(t, obs, "/a1pk/dev0/user/will", 0)
		lost := make(chan error, 1)
		c := deviceCreds(t, "a1pk", "dev2", "secret-dev2")
		first := mustConnect(t, b, viaTCP, c, func(o *paho.ClientOptions) {
			o.SetWill("/a1pk/dev0/user/will", "gone", 0, false)
			o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
		})
		_ = first
		mustConnect(t, b, viaMem, c) // the same identity again
		select {
		case <-lost:
		case <-time.After(wait):
			t.Fatal("older connection not kicked")
		}
		waitFor(t, "kick counted", func() bool { return b.PlatformStats().Kicked == 1 })
		publish(t, obs, "/a1pk/dev0/user/will", 0, "marker")
		if m := receive(t, wills); string(m.Payload()) != "marker" {
			t.Fatalf("will delivered: %q", m.Payload())
		}
		if got := b.PlatformStats().WillsDropped; got != 1 {
			t.Fatalf("WillsDropped %d", got)
		}
	})
}
