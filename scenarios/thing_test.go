package scenarios

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

const thingScenario = `duration: 10s
broker: {platform: alibaba}
devices:
  - name: meters
    count: 3
    product_key: a1PK
    device_secret: s-${index}
    publish:
      - thing: property_post
        rate: 2/s
        qos: 1
        params: '{"temperature": ${random:20.0..30.0}, "humidity": ${random:40..60}, "name": "${deviceName}", "n": ${seq}}'
      - thing: event_post
        event: alarm
        interval: 5s
        params: '{"level": ${random:1..3}}'
    rrpc: {rate: 1/s, timeout: 2s, answer_delay: 100ms, count: 4}
`

func TestThingPostPlan(t *testing.T) {
	s := mustParse(t, thingScenario)
	g := s.Groups[0]
	if g.Publish[0].Thing == nil || g.Publish[0].Thing.Method != "thing.event.property.post" {
		t.Fatalf("property post spec %+v", g.Publish[0].Thing)
	}
	var plans []DevicePlan
	for _, p := range s.Devices() {
		plans = append(plans, p)
	}
	p := plans[1]
	prop, ev := &p.Publishes[0], &p.Publishes[1]
	if prop.Topic != "/sys/a1PK/dev-1/thing/event/property/post" || prop.ReplyTopic() != "/sys/a1PK/dev-1/thing/event/property/post_reply" {
		t.Errorf("property topics %q %q", prop.Topic, prop.ReplyTopic())
	}
	if ev.Topic != "/sys/a1PK/dev-1/thing/event/alarm/post" || !ev.IsThing() || prop.Interval != 500*time.Millisecond {
		t.Errorf("event topic %q, interval %s", ev.Topic, prop.Interval)
	}
	seen := map[string]bool{}
	for seq := uint64(0); seq < 200; seq++ {
		body := prop.AppendThingPost(nil, uint32(seq+7), RuntimeFields{Seq: seq})
		var req struct {
			ID      string `json:"id"`
			Version string `json:"version"`
			Method  string `json:"method"`
			Params  struct {
				Temperature float64 `json:"temperature"`
				Humidity    int     `json:"humidity"`
				Name        string  `json:"name"`
				N           uint64  `json:"n"`
			} `json:"params"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("post %s: %v", body, err)
		}
		if !strings.HasPrefix(string(body), `{"id":"`) {
			t.Fatalf("post %s: id first, as the SDK sends it", body)
		}
		if req.Version != "1.0" || req.Method != "thing.event.property.post" || req.Params.Name != "dev-1" || req.Params.N != seq {
			t.Fatalf("post %s", body)
		}
		if req.ID != itoa(int(seq+7)) {
			t.Fatalf("id %q, want %d", req.ID, seq+7)
		}
		if tp := req.Params.Temperature; tp < 20 || tp > 30 {
			t.Fatalf("temperature %v out of 20..30", tp)
		}
		if h := req.Params.Humidity; h < 40 || h > 60 {
			t.Fatalf("humidity %v out of 40..60", h)
		}
		seen[itoa(req.Params.Humidity)] = true
	}
	if len(seen) < 15 {
		t.Errorf("humidity takes only %d distinct values over 200 posts", len(seen))
	}
	again := prop.AppendThingPost(nil, 1, RuntimeFields{Seq: 3})
	if string(again) != string(prop.AppendThingPost(nil, 1, RuntimeFields{Seq: 3})) {
		t.Error("random params are not deterministic")
	}
	r := g.RRPC
	if r == nil || r.Interval != time.Second || r.Timeout != 2*time.Second || r.AnswerDelay != 100*time.Millisecond || r.Count != 4 {
		t.Fatalf("rrpc %+v", r)
	}
	if f := p.RRPCRequestFilter(); f != "/sys/a1PK/dev-1/rrpc/request/+" {
		t.Errorf("request filter %q", f)
	}
	if got, ok := RRPCResponseTopic("/sys/a1PK/dev-1/rrpc/request/12345"); !ok || got != "/sys/a1PK/dev-1/rrpc/response/12345" {
		t.Errorf("response topic %q %v", got, ok)
	}
	if _, ok := RRPCResponseTopic("/sys/a1PK/dev-1/rrpc/request/"); ok {
		t.Error("empty message id accepted")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestThingAndRRPCErrors(t *testing.T) {
	base := `duration: 10s
broker: {platform: alibaba}
devices:
  - name: g
    count: 2
    product_key: a1PK
    device_secret: s
`
	for _, tc := range []struct{ name, src, want string }{
		{"unknown kind", `    publish: [{thing: property_set, rate: 1/s}]`, `devices[0].publish[0].thing: unknown thing-model post "property_set"`},
		{"event without identifier", `    publish: [{thing: event_post, rate: 1/s}]`, `devices[0].publish[0].event: required for thing: event_post`},
		{"bad identifier", `    publish: [{thing: event_post, event: 9lives, rate: 1/s}]`, `"9lives" is not an event identifier`},
		{"topic on a thing post", `    publish: [{thing: property_post, topic: /x, rate: 1/s}]`, `devices[0].publish[0].topic: topic cannot be set on a thing-model post`},
		{"payload on a thing post", `    publish: [{thing: property_post, payload: {size: 30}, rate: 1/s}]`, `payload cannot be set on a thing-model post`},
		{"params without thing", `    publish: [{topic: /a1PK/x/user/a, params: '{}', rate: 1/s}]`, `devices[0].publish[0].params: params is for thing-model posts only`},
		{"params not an object", `    publish: [{thing: property_post, params: '[1]', rate: 1/s}]`, `params are not a JSON object`},
		{"params not JSON", `    publish: [{thing: property_post, params: '{"a": x}', rate: 1/s}]`, `params are not a JSON object`},
		{"bad random", `    publish: [{thing: property_post, params: '{"a": ${random:9..1}}', rate: 1/s}]`, `the low bound is above the high bound`},
		{"random not numbers", `    publish: [{thing: property_post, params: '{"a": ${random:a..b}}', rate: 1/s}]`, `bounds must be numbers`},
		{"unterminated random", `    publish: [{thing: property_post, params: '{"a": ${random:1..2', rate: 1/s}]`, `unterminated ${random:`},
		{"rrpc timeout too long", `    rrpc: {rate: 1/s, timeout: 9s}`, `devices[0].rrpc.timeout: timeout 9s is out of range`},
		{"rrpc timeout too short", `    rrpc: {rate: 1/s, timeout: 500ms}`, `timeout 500ms is out of range`},
		{"rrpc without rate", `    rrpc: {timeout: 2s}`, `devices[0].rrpc: needs interval or rate`},
		{"rrpc too fast", `    rrpc: {rate: 1000/s}`, `is too fast for one device`},
		{"rrpc unknown key", `    rrpc: {rate: 1/s, timout: 2s}`, `did you mean "timeout"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTest(t, base+tc.src+"\n")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	_, err := parseTest(t, strings.Replace(base, "broker: {platform: alibaba}\n", "", 1)+"    rrpc: {rate: 1/s}\n")
	if err == nil || !strings.Contains(err.Error(), "rrpc is a feature of the Alibaba Cloud IoT Platform") {
		t.Fatalf("rrpc without the platform: %v", err)
	}
}

// TestAlibabaFleetCSV checks that the CSV shipped with alibaba-fleet.yaml
// is in the console's export format and holds the gateways' identities.
func TestAlibabaFleetCSV(t *testing.T) {
	s, err := Parse("examples/csv-check.yaml", []byte(`duration: 1s
broker: {platform: alibaba}
devices:
  - name: gateways
    credentials_file: alibaba-fleet-devices.csv
    publish: [{thing: property_post, rate: 1/s}]
    rrpc: {rate: 1/s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Total() != 5 || s.Groups[0].Auth != AuthAlibaba {
		t.Fatalf("%d devices, auth %s", s.Total(), s.Groups[0].Auth)
	}
	for i, p := range s.Devices() {
		if want := "gw-000" + strconv.Itoa(i+1); p.DeviceName != want || p.ProductKey != "a1X2bEnP82z" || p.DeviceSecret == "" {
			t.Errorf("device %d: %s/%s", i, p.ProductKey, p.DeviceName)
		}
	}
}
