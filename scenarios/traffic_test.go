package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTrafficGolden(t *testing.T) {
	s := loadTest(t, "testdata/traffic.yaml")
	golden(t, "traffic.golden", renderPlans(s))
}

func TestSplitShared(t *testing.T) {
	for _, tt := range []struct {
		filter, group, inner string
		ok                   bool
	}{
		{"$share/resp//pk/+/user/request", "resp", "/pk/+/user/request", true},
		{"$share/g/a/b", "g", "a/b", true},
		{"$share/g/#", "g", "#", true},
		{"/pk/+/user/request", "", "/pk/+/user/request", false},
		{"$share//a/b", "", "$share//a/b", false},   // empty group
		{"$share/g", "", "$share/g", false},         // no filter
		{"$share/g/", "", "$share/g/", false},       // empty filter
		{"$share/a+b/x", "", "$share/a+b/x", false}, // wildcard in the group
		{"$share/a#/x", "", "$share/a#/x", false},
		{"$shared/g/x", "", "$shared/g/x", false},
		{"$SHARE/g/x", "", "$SHARE/g/x", false},
		{"", "", "", false},
	} {
		g, in, ok := SplitShared(tt.filter)
		if g != tt.group || in != tt.inner || ok != tt.ok {
			t.Errorf("SplitShared(%q) = %q, %q, %t; want %q, %q, %t", tt.filter, g, in, ok, tt.group, tt.inner, tt.ok)
		}
	}
}

// replyScenario has a responder group whose replies are the same for every
// device (shared) and one whose replies depend on the device.
const replyScenario = `duration: 1m
devices:
  - name: resp
    count: 3
    product_key: a1R
    device_name: r-${index}
    subscribe:
      - topic: $share/g//${productKey}/+/user/request
        reply: {topic: "/${productKey}/${topic[2]}/user/response", qos: 1}
      - topic: /sys/${productKey}/${deviceName}/rrpc/request/+
        reply: {topic: "/sys/${productKey}/${deviceName}/rrpc/response/${topic[6]}"}
      - topic: multi/#
        reply: {topic: "out/${topic[0]}/${topic[3]}/${topic[1]}${topic[2]}", qos: 2}
      - topic: "+/+"
        reply: {topic: "fixed/to/${topic[0]}"}
`

func TestReplyTopic(t *testing.T) {
	s := mustParse(t, replyScenario)
	p, _ := s.Plan(1)
	subs := p.Subscriptions
	for _, tt := range []struct {
		sub      int
		received string
		want     string
		ok       bool
	}{
		{0, "/a1R/dev-7/user/request", "/a1R/dev-7/user/response", true},
		{0, "/a1R//user/request", "/a1R//user/response", true}, // an empty level is a level
		{0, "/a1R", "", false}, // level 2 is missing
		{0, "", "", false},
		{1, "/sys/a1R/r-1/rrpc/request/1234567890", "/sys/a1R/r-1/rrpc/response/1234567890", true},
		{1, "/sys/a1R/r-1/rrpc/request", "", false},
		{2, "multi/a/b/c", "out/multi/c/ab", true},
		{2, "multi/a/b/c/d/e", "out/multi/c/ab", true},
		{2, "multi/a/b", "", false}, // '#' matches shorter topics: level 3 is missing
		{3, "x/y", "fixed/to/x", true},
		{3, "x", "fixed/to/x", true}, // level 0 exists
	} {
		r := subs[tt.sub].Reply
		got, ok := r.Topic(tt.received)
		if got != tt.want || ok != tt.ok {
			t.Errorf("sub %d: Topic(%q) = %q, %t; want %q, %t", tt.sub, tt.received, got, ok, tt.want, tt.ok)
		}
	}
	if subs[0].Reply.QoS != 1 || subs[1].Reply.QoS != 0 || subs[2].Reply.QoS != 2 {
		t.Errorf("reply QoS: %d %d %d", subs[0].Reply.QoS, subs[1].Reply.QoS, subs[2].Reply.QoS)
	}
	if subs[1].Reply.Template() != "/sys/${productKey}/${deviceName}/rrpc/response/${topic[6]}" {
		t.Errorf("template %q", subs[1].Reply.Template())
	}
	// Replies that do not depend on the device are shared between plans;
	// the others are the device's own.
	q, _ := s.Plan(2)
	if q.Subscriptions[0].Reply != subs[0].Reply || q.Subscriptions[1].Reply == subs[1].Reply {
		t.Error("reply sharing")
	}
	if got, _ := q.Subscriptions[1].Reply.Topic("/sys/a1R/r-2/rrpc/request/9"); got != "/sys/a1R/r-2/rrpc/response/9" {
		t.Errorf("device 2 reply: %q", got)
	}
}

func TestTopicLevel(t *testing.T) {
	for _, tt := range []struct {
		topic string
		n     int
		want  string
		ok    bool
	}{
		{"/pk/dev-1/user/request", 0, "", true},
		{"/pk/dev-1/user/request", 1, "pk", true},
		{"/pk/dev-1/user/request", 2, "dev-1", true},
		{"/pk/dev-1/user/request", 4, "request", true},
		{"/pk/dev-1/user/request", 5, "", false},
		{"a", 0, "a", true},
		{"a/", 1, "", true},
		{"", 0, "", true},
		{"", 1, "", false},
	} {
		got, ok := topicLevel(tt.topic, tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("topicLevel(%q, %d) = %q, %t", tt.topic, tt.n, got, ok)
		}
	}
}

const targetScenario = `duration: 1m
devices:
  - name: devices
    count: 4
    product_key: a1T
    device_name: dev-${index:02}
  - name: pumps
    credentials_file: creds.csv
  - name: cloud
    count: 3
    product_key: a1C
    device_name: c${index}
    publish:
      - {topic: "/${productKey}/${target.deviceName}/user/get", targets: devices, rate: 10/s}
      - {topic: "t/${target.index:03}/${target.clientId}/${target.productKey}/${index}", targets: devices, rate: 1/s}
      - {topic: "/${target.productKey}/${target.deviceName}/user/get", targets: pumps, rate: 1/s}
      - {topic: "/${productKey}/${deviceName}/user/update", rate: 1/s}
`

func TestTopicFor(t *testing.T) {
	s := mustParse(t, targetScenario)
	p, _ := s.Plan(s.Groups[2].First + 1) // cloud[1]
	devices, pumps := s.Groups[0], s.Groups[1]
	for _, tt := range []struct {
		pub, target int
		want        string
	}{
		{0, 0, "/a1C/dev-00/user/get"},
		{0, 3, "/a1C/dev-03/user/get"},
		{0, 4, "/a1C/dev-00/user/get"},  // modulo the group
		{0, -1, "/a1C/dev-03/user/get"}, // negative indices too
		{1, 2, "t/002/a1T.dev-02/a1T/1"},
		{2, 0, "/a1CsvProd01/pump-a/user/get"},
		{2, 2, "/a1CsvProd01/pump-long-name-07/user/get"},
		{3, 2, "/a1C/c1/user/update"}, // not targeted: Topic
	} {
		if got := p.Publishes[tt.pub].TopicFor(tt.target); got != tt.want {
			t.Errorf("publish %d: TopicFor(%d) = %q, want %q", tt.pub, tt.target, got, tt.want)
		}
	}
	if p.Publishes[0].Targets != devices || p.Publishes[2].Targets != pumps || p.Publishes[3].Targets != nil {
		t.Error("Targets")
	}
	// Topic is the topic for target 0.
	if p.Publishes[0].Topic != "/a1C/dev-00/user/get" || p.Publishes[3].Topic != "/a1C/c1/user/update" {
		t.Errorf("Topic: %q %q", p.Publishes[0].Topic, p.Publishes[3].Topic)
	}
	if p.Publishes[3].Target(0) != -1 {
		t.Error("Target of an untargeted publication")
	}
}

func TestTarget(t *testing.T) {
	s := mustParse(t, targetScenario)
	cloud := s.Groups[2]
	// Each cloud device goes round robin from its own offset (0, 1 and 2
	// of 4 targets: i·4/3), so at any time the three hit different devices.
	var got []string
	for i := range cloud.Count {
		p, _ := s.Plan(cloud.First + i)
		var seq []string
		for n := range uint64(9) {
			seq = append(seq, fmt.Sprint(p.Publishes[0].Target(n)))
		}
		got = append(got, strings.Join(seq, ","))
	}
	want := []string{"0,1,2,3,0,1,2,3,0", "1,2,3,0,1,2,3,0,1", "2,3,0,1,2,3,0,1,2"}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
	p, _ := s.Plan(cloud.First)
	if p.Publishes[0].Target(1<<63+5) != int((1<<63+5)%4) {
		t.Error("large message numbers")
	}
}

func TestStampKeys(t *testing.T) {
	for _, tt := range []struct {
		tmpl string
		want StampKeys
		ok   bool
	}{
		{`{"seq":${seq},"ts":${ts},"pub":${publisher},"stream":${stream}}`, StampKeys{"seq", "ts", "pub", "stream"}, true},
		{`{"id":"${seq}", "t" : "${ts}" ,"p":"${publisher:05}"}`, StampKeys{"id", "t", "p", ""}, true},
		{` { "a\"b" : ${seq}, "ts":${ts}, "x":{"y":[1,"]}"]}, "pub":${publisher} } `, StampKeys{`a"b`, "ts", "pub", ""}, true},
		// Not top-level, not exactly the placeholder, or missing.
		{`{"n":{"seq":${seq}},"ts":${ts},"pub":${publisher}}`, StampKeys{"", "ts", "pub", ""}, false},
		{`{"seq":"s-${seq}","ts":${ts},"pub":${publisher}}`, StampKeys{"", "ts", "pub", ""}, false},
		{`{"seq":${seq},"ts":${ts}}`, StampKeys{"seq", "ts", "", ""}, false},
		{`[${seq},${ts},${publisher}]`, StampKeys{}, false},
		// A member name with a placeholder differs between devices.
		{`{"${deviceName}":${seq},"ts":${ts},"pub":${publisher}}`, StampKeys{"", "ts", "pub", ""}, false},
		// The first member wins.
		{`{"a":${seq},"b":${seq},"ts":${ts},"pub":${publisher}}`, StampKeys{"a", "ts", "pub", ""}, true},
		{`{"dev":"${deviceName}","seq":${seq},"ts":${ts},"pub":${publisher},"s":"${stream}"}`, StampKeys{"seq", "ts", "pub", "s"}, true},
	} {
		src := fmt.Sprintf("duration: 1s\ndevices:\n  - name: g\n    count: 2\n    publish:\n      - {topic: t, rate: 1/s, payload: {template: %q}}\n", tt.tmpl)
		s := mustParse(t, src)
		p, _ := s.Plan(0)
		k, ok := p.Publishes[0].Payload.StampKeys()
		if k != tt.want || ok != tt.ok || p.Publishes[0].Payload.Stamped() != tt.ok {
			t.Errorf("%s: StampKeys = %+v, %t; want %+v, %t", tt.tmpl, k, ok, tt.want, tt.ok)
		}
	}
	// Binary payloads carry the binary stamp.
	s := mustParse(t, "duration: 1s\ndevices: [{name: g, count: 1, publish: [{topic: t, rate: 1/s}]}]\n")
	p, _ := s.Plan(0)
	if _, ok := p.Publishes[0].Payload.StampKeys(); ok || !p.Publishes[0].Payload.Stamped() {
		t.Error("binary payload")
	}
}

func TestScenarioStampKeys(t *testing.T) {
	s := loadTest(t, "examples/alibaba-fleet.yaml")
	want := []StampKeys{{"id", "ts", "pub", "stream"}, {"seq", "ts", "pub", "stream"}}
	if got := s.StampKeys(); !slices.Equal(got, want) {
		t.Errorf("StampKeys = %+v, want %+v", got, want)
	}
	s.StampKeys()[0].Seq = "changed"
	if s.StampKeys()[0].Seq != "id" {
		t.Error("StampKeys returns the scenario's slice")
	}
	// Duplicates are dropped.
	for _, f := range []string{"examples/fan-in.yaml", "examples/c2d.yaml", "examples/request-response.yaml"} {
		if got := loadTest(t, f).StampKeys(); !slices.Equal(got, []StampKeys{{"id", "ts", "pub", "stream"}}) {
			t.Errorf("%s: %+v", f, got)
		}
	}
}

// TestStreamPlaceholder checks ${stream} and RuntimeFields.Stream.
func TestStreamPlaceholder(t *testing.T) {
	s := mustParse(t, `duration: 1s
devices:
  - name: g
    count: 1
    publish:
      - {topic: a, rate: 1/s}
      - {topic: b, rate: 1/s, payload: {template: '{"seq":${seq},"ts":${ts},"pub":${publisher},"stream":"${stream:03}"}'}}
`)
	p, _ := s.Plan(0)
	body := p.Publishes[1].Payload.AppendTemplate(nil, RuntimeFields{Seq: 1, TS: 2, Publisher: 3, Stream: 1})
	if string(body) != `{"seq":1,"ts":2,"pub":3,"stream":"001"}` {
		t.Errorf("body %s", body)
	}
}

// TestTrafficAllocs guards the costs the documentation states: a reply
// topic or a targeted topic costs one allocation (the result), and plans
// with targets or shared replies stay within three allocations.
func TestTrafficAllocs(t *testing.T) {
	s := mustParse(t, replyScenario)
	p, _ := s.Plan(1)
	r0, r1 := p.Subscriptions[0].Reply, p.Subscriptions[1].Reply
	if a := testing.AllocsPerRun(1000, func() { _, _ = r0.Topic("/a1R/dev-7/user/request") }); a != 1 {
		t.Errorf("shared Reply.Topic: %.1f allocations", a)
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = r1.Topic("/sys/a1R/r-1/rrpc/request/1234") }); a != 1 {
		t.Errorf("per-device Reply.Topic: %.1f allocations", a)
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = r0.Topic("/a1R") }); a != 0 {
		t.Errorf("missing level: %.1f allocations", a)
	}
	// Per-device replies: one more allocation per plan for all of them.
	var b planBuf
	g := s.Groups[0]
	g.plan(0, &b)
	if a := testing.AllocsPerRun(1000, func() { g.plan(1, &b) }); a > 4 {
		t.Errorf("plan with per-device replies: %.1f allocations, want ≤ 4", a)
	}

	s = mustParse(t, targetScenario)
	p, _ = s.Plan(s.Groups[2].First)
	pub := &p.Publishes[1]
	if a := testing.AllocsPerRun(1000, func() { _ = pub.TopicFor(3) }); a != 1 {
		t.Errorf("TopicFor: %.1f allocations", a)
	}
	g = s.Groups[2]
	g.plan(0, &b)
	if a := testing.AllocsPerRun(1000, func() { g.plan(1, &b) }); a > 3 {
		t.Errorf("plan with targets: %.1f allocations, want ≤ 3", a)
	}

	s = mustParse(t, `duration: 1s
devices:
  - name: resp
    count: 10
    product_key: a1R
    subscribe:
      - topic: $share/g//${productKey}/+/user/request
        reply: {topic: "/${productKey}/${topic[2]}/user/response"}
`)
	g = s.Groups[0]
	g.plan(0, &b)
	if a := testing.AllocsPerRun(1000, func() { g.plan(3, &b) }); a > 3 {
		t.Errorf("plan with shared replies: %.1f allocations, want ≤ 3", a)
	}
}

func TestTargetsAnyOrder(t *testing.T) {
	// A group may target a group defined after it, and itself.
	s := mustParse(t, `duration: 1s
devices:
  - name: peers
    count: 3
    publish:
      - {topic: "p/${target.deviceName}", targets: peers, rate: 1/s}
      - {topic: "s/${target.deviceName}", targets: sinks, rate: 1/s}
  - name: sinks
    count: 2
    device_name: sink-${index}
`)
	p, _ := s.Plan(0)
	if p.Publishes[0].TopicFor(2) != "p/dev-2" || p.Publishes[1].TopicFor(1) != "s/sink-1" {
		t.Errorf("%q %q", p.Publishes[0].TopicFor(2), p.Publishes[1].TopicFor(1))
	}
}

func TestReplyLoopCheck(t *testing.T) {
	g := testGroup(t)
	for _, tt := range []struct {
		filter, reply string
		loops         bool
	}{
		{"/a/+/user/request", "/a/${topic[2]}/user/response", false},
		{"/a/+/user/request", "/a/${topic[2]}/user/request", true},
		{"/a/+/user/request", "/a/x-${topic[2]}/user/request", true},
		{"/a/+/user/request", "/a/${topic[2]}/user/request/x", false},
		{"/a/#", "/a/${topic[2]}/response", true},
		{"/a/#", "/b/${topic[2]}", false},
		{"a/b", "a/${topic[1]}", true},
		{"a/b", "a/x${topic[1]}", false},
		{"a/bc", "a/b${topic[0]}c", true},
		{"a/bc", "a/c${topic[0]}b", false},
		{"$share/g/a/+", "a/${topic[1]}", true},
		{"/${productKey}/+/req", "/${productKey}/${topic[2]}/req", true},
		{"/${productKey}/${deviceName}/req", "/${productKey}/${deviceName}/resp", false},
	} {
		f, _ := compileTemplate(tt.filter, phForTopic, "f", testEnv)
		r, errs := compileTemplate(tt.reply, phForReply, "r", testEnv)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := g.replyCanMatch(&f, &r); got != tt.loops {
			t.Errorf("filter %q, reply %q: loops = %t", tt.filter, tt.reply, got)
		}
	}
}

// TestSetTraffic applies --set to the new fields.
func TestSetTraffic(t *testing.T) {
	doc, err := ReadFile("examples/request-response.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{
		"devices[responders].subscribe[0].reply.qos=2",
		"devices[responders].count=4",
	} {
		if err := doc.ApplySetArg(arg); err != nil {
			t.Fatal(err)
		}
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if s.Groups[0].Subscribe[0].Reply.QoS != 2 || s.Groups[0].Count != 4 {
		t.Errorf("%+v", s.Groups[0].Subscribe[0].Reply)
	}
	doc, _ = ReadFile("examples/c2d.yaml")
	if err := doc.ApplySetArg("devices[cloud].publish[0].targets=nobody"); err != nil {
		t.Fatal(err)
	}
	_, err = doc.Scenario()
	if err == nil || !strings.Contains(err.Error(), `devices[1].publish[0].targets: no device group "nobody"; the groups are cloud, devices (from --set devices[cloud].publish[0].targets=nobody)`) {
		t.Errorf("got %v", err)
	}
}

// TestTrafficExamples checks what the traffic examples promise in their
// comments.
func TestTrafficExamples(t *testing.T) {
	expect := func(name string, ok bool, format string, args ...any) {
		t.Helper()
		if !ok {
			t.Errorf("%s: "+format, append([]any{name}, args...)...)
		}
	}
	// fan-in: each consumer gets every message.
	s := loadTest(t, "examples/fan-in.yaml")
	cloud, dev := s.Groups[0], s.Groups[1]
	c, _ := s.Plan(0)
	d, _ := s.Plan(dev.First + 7)
	expect("fan-in", cloud.Name == "cloud" && cloud.Count == 2 && dev.Count == 500 &&
		c.Subscriptions[0].Filter == "/a1FanInDemo/+/user/update" &&
		d.Publishes[0].Topic == "/a1FanInDemo/dev-007/user/update" &&
		d.Publishes[0].Interval == time.Second && d.Publishes[0].QoS == 1, "%+v %+v", c, d)
	// fan-in-shared: the same, through $share/cloud/.
	s = loadTest(t, "examples/fan-in-shared.yaml")
	c, _ = s.Plan(1)
	group, inner, ok := SplitShared(c.Subscriptions[0].Filter)
	expect("fan-in-shared", ok && group == "cloud" && inner == "/a1FanInDemo/+/user/update" && s.Groups[1].Count == 500,
		"%q", c.Subscriptions[0].Filter)
	// fan-out: one publisher at 5/s, 500 subscribers of its topic.
	s = loadTest(t, "examples/fan-out.yaml")
	c, _ = s.Plan(s.Total() - 1)
	d, _ = s.Plan(0)
	expect("fan-out", s.Groups[1].Name == "cloud" && s.Groups[1].Count == 1 && s.Groups[0].Count == 500 &&
		c.Publishes[0].Topic == "/a1FanOutDemo/broadcast" && c.Publishes[0].Interval == 200*time.Millisecond &&
		d.Subscriptions[0].Filter == c.Publishes[0].Topic, "%+v %+v", c, d)
	// c2d: 100/s round robin over the 500 devices' own /user/get.
	s = loadTest(t, "examples/c2d.yaml")
	c, _ = s.Plan(s.Total() - 1)
	d, _ = s.Plan(123)
	pub := c.Publishes[0]
	expect("c2d", pub.Targets == s.Groups[0] && pub.Interval == 10*time.Millisecond &&
		pub.TopicFor(123) == d.Subscriptions[0].Filter && d.Subscriptions[0].Filter == "/a1C2dDemo/dev-123/user/get",
		"%+v %+v", pub, d)
	// request-response: the reply reaches the requester's response topic.
	s = loadTest(t, "examples/request-response.yaml")
	resp, _ := s.Plan(0)
	d, _ = s.Plan(s.Groups[1].First + 42)
	reply := resp.Subscriptions[0].Reply
	_, inner, ok = SplitShared(resp.Subscriptions[0].Filter)
	got, replied := reply.Topic(d.Publishes[0].Topic)
	expect("request-response", ok && s.Groups[0].Count == 2 && inner == "/a1RrpcDemo/+/user/request" &&
		replied && got == d.Subscriptions[0].Filter && got == "/a1RrpcDemo/dev-042/user/response" &&
		d.Publishes[0].Topic == "/a1RrpcDemo/dev-042/user/request" && d.Publishes[0].Interval == time.Second &&
		d.Publishes[0].QoS == 1 && reply.QoS == 1, "%q", got)
}
