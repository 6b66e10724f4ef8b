package scenarios

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func loadTest(t *testing.T, path string) *Scenario {
	t.Helper()
	doc, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc.Env = testEnv
	s, err := doc.Scenario()
	if err != nil {
		t.Fatalf("load %s:\n%v", path, err)
	}
	return s
}

// renderPlans writes one block per device, for golden files.
func renderPlans(s *Scenario) string {
	var b strings.Builder
	for gi, p := range s.Devices() {
		fmt.Fprintf(&b, "#%d %s[%d] auth=%s region=%q pk=%q dn=%q ds=%q\n", gi, p.Group.Name, p.Index,
			p.Auth, p.Region, p.ProductKey, p.DeviceName, p.DeviceSecret)
		fmt.Fprintf(&b, "  client=%q user=%q pass=%q keepalive=%s clean=%t connect_timeout=%s yield=%s\n",
			p.ClientID, p.Username, p.Password, p.KeepAlive, p.CleanSession, p.ConnectTimeout, p.Yield)
		for _, sub := range p.Subscriptions {
			fmt.Fprintf(&b, "  sub %q qos=%d", sub.Filter, sub.QoS)
			if group, inner, ok := SplitShared(sub.Filter); ok {
				fmt.Fprintf(&b, " share=%q inner=%q", group, inner)
			}
			b.WriteString("\n")
			if r := sub.Reply; r != nil {
				// Answer a message on the filter with its wildcards filled in.
				received := strings.NewReplacer("+", "dev-x", "#", "a/b").Replace(sub.Filter)
				if _, inner, ok := SplitShared(received); ok {
					received = inner
				}
				topic, ok := r.Topic(received)
				fmt.Fprintf(&b, "    reply %q qos=%d: %q -> %q ok=%t\n", r.Template(), r.QoS, received, topic, ok)
			}
		}
		for k, pub := range p.Publishes {
			fmt.Fprintf(&b, "  pub %q qos=%d every=%s count=%d retain=%t start=%s", pub.Topic, pub.QoS,
				pub.Interval, pub.Count, pub.Retain, pub.Start)
			if pub.Payload.IsTemplate() {
				body := pub.Payload.AppendTemplate(nil, RuntimeFields{Seq: 7, TS: 1700000000000000000,
					Publisher: uint64(p.GlobalIndex), Stream: uint64(k)})
				keys, _ := pub.Payload.StampKeys()
				fmt.Fprintf(&b, " stamped=%t keys=%+v max=%d body=%s\n", pub.Payload.Stamped(), keys, pub.Payload.MaxSize(), body)
			} else {
				fmt.Fprintf(&b, " size=%d\n", pub.Payload.Size)
			}
			if pub.Targets != nil {
				fmt.Fprintf(&b, "    targets %s:", pub.Targets.Name)
				for n := range uint64(pub.Targets.Count + 1) {
					ti := pub.Target(n)
					fmt.Fprintf(&b, " %d→%s", ti, pub.TopicFor(ti))
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestExpandGolden(t *testing.T) {
	s := loadTest(t, "testdata/expand.yaml")
	golden(t, "expand.golden", renderPlans(s))
}

func TestExpand(t *testing.T) {
	s := loadTest(t, "testdata/expand.yaml")
	if s.Total() != 8 {
		t.Fatalf("Total = %d, want 8", s.Total())
	}
	p, ok := s.Plan(2)
	if !ok {
		t.Fatal("Plan(2) not found")
	}
	checks := []struct{ got, want string }{
		{p.DeviceName, "s-002"},
		{p.ClientID, "sensors-00002"},
		{p.Subscriptions[0].Filter, "/a1Prod/s-002/user/get"},
		{p.Subscriptions[1].Filter, "fleet/sensors/+/cmd"},
		{p.Publishes[0].Topic, "/a1Prod/s-002/user/update"},
		{string(p.Publishes[0].Payload.AppendTemplate(nil, RuntimeFields{Seq: 1, TS: 2, Publisher: 3})),
			`{"dev":"s-002","cid":"sensors-00002","seq":1,"ts":2,"pub":"003","n":"0002","lit":"${x}"}`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	gw, _ := s.Plan(4) // gateways[1]
	if gw.Username != "gw-1" || gw.Password != "a1FromEnv-dflt" || gw.ClientID != "gateways.dev-1" ||
		gw.Publishes[0].Topic != "fleet/sensors/gateways.dev-1/cmd" || gw.Auth != AuthPassword {
		t.Errorf("gateway plan: %+v", gw)
	}
	pump, _ := s.Plan(7) // pumps[2], from the CSV
	if pump.ProductKey != "a1CsvProd01" || pump.DeviceName != "pump-long-name-07" ||
		pump.DeviceSecret != "s3cr3tC0000000000000000000000003" || pump.ClientID != "" ||
		pump.Auth != AuthAlibaba || pump.Region != "ap-southeast-1" {
		t.Errorf("pump plan: %+v", pump)
	}
	// The raw templates are kept as written, without environment values.
	if g := s.Groups[1]; g.Password != "${env:FLEET_PK}-${env:FLEET_UNSET:-dflt}" {
		t.Errorf("raw password template = %q", g.Password)
	}
	if _, ok := s.Plan(8); ok {
		t.Error("Plan(8) exists")
	}
	if _, ok := s.Plan(-1); ok {
		t.Error("Plan(-1) exists")
	}
}

func TestRange(t *testing.T) {
	s := loadTest(t, "testdata/expand.yaml")
	var got []string
	for gi, p := range s.Range(2, 6) {
		got = append(got, fmt.Sprintf("%d:%s", gi, p.DeviceName))
	}
	want := "2:s-002 3:dev-0 4:dev-1 5:pump-a"
	if strings.Join(got, " ") != want {
		t.Errorf("Range(2, 6) = %v, want %s", got, want)
	}
	n := 0
	for range s.Range(-5, 100) {
		n++
	}
	if n != 8 {
		t.Errorf("Range(-5, 100) yielded %d plans, want 8", n)
	}
	for range s.Devices() {
		break // stopping early must not panic
	}
	for gi := range s.Total() {
		g, i, ok := s.Locate(gi)
		if !ok || g.First+i != gi {
			t.Errorf("Locate(%d) = %s, %d, %t", gi, g.Name, i, ok)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := mustParse(t, "duration: 10s\ndevices: [{name: g, count: 2}]\n")
	if s.Name != "case" || s.Seed != 1 || s.Drain != 5*time.Second || !s.Broker.Embedded() || s.Broker.Addr() != "" {
		t.Errorf("scenario defaults: %+v", s)
	}
	g := s.Groups[0]
	if g.Auth != AuthNone || g.KeepAlive != 60*time.Second || g.CleanSession || g.Yield != 200*time.Millisecond ||
		g.Connect.Rate != (Rate{N: 100, Per: time.Second}) || g.Connect.Timeout != 10*time.Second ||
		g.DeviceName != "dev-${index}" || g.ClientID != "${group}.${deviceName}" || g.Region != "" {
		t.Errorf("group defaults: %+v", g)
	}
	p, _ := s.Plan(1)
	if p.DeviceName != "dev-1" || p.ClientID != "g.dev-1" || p.Username != "" || p.Password != "" {
		t.Errorf("plan: %+v", p)
	}
	// auth is inferred from the fields given.
	s = mustParse(t, `duration: 10s
devices:
  - {name: a, count: 1, product_key: a1B, device_secret: x}
  - {name: b, count: 1, password: pw}
  - {name: c, count: 1, product_key: a1B, device_name: "c-${index}"}
`)
	for i, want := range []Auth{AuthAlibaba, AuthPassword, AuthNone} {
		if got := s.Groups[i].Auth; got != want {
			t.Errorf("group %d auth = %s, want %s", i, got, want)
		}
	}
	if s.Groups[0].Region != "cn-shanghai" || s.Groups[0].ClientID != "" {
		t.Errorf("alibaba defaults: %+v", s.Groups[0])
	}
	if p, _ := s.Plan(1); p.Username != "dev-0" || p.Password != "pw" {
		t.Errorf("password plan: %+v", p)
	}
	if p, _ := s.Plan(2); p.ClientID != "a1B.c-0" {
		t.Errorf("client id with a product key: %q", p.ClientID)
	}
}

func TestBroker(t *testing.T) {
	for _, tt := range []struct {
		url       string
		transport Transport
		addr      string
	}{
		{"mqtt://localhost", TransportTCP, "localhost:1883"},
		{"tcp://10.0.0.1:1884", TransportTCP, "10.0.0.1:1884"},
		{"mqtts://broker.example", TransportTLS, "broker.example:8883"},
		{"ssl://broker.example:443", TransportTLS, "broker.example:443"},
		{"TLS://[::1]:8884", TransportTLS, "[::1]:8884"},
	} {
		s := mustParse(t, fmt.Sprintf("duration: 1s\nbroker: {url: %q}\ndevices: [{name: g, count: 1}]\n", tt.url))
		b := s.Broker
		if b.Embedded() || b.Transport != tt.transport || b.Addr() != tt.addr || (b.TLS != nil) != (tt.transport == TransportTLS) {
			t.Errorf("%s: %+v", tt.url, b)
		}
	}
	s := mustParse(t, `duration: 1s
broker:
  url: mqtts://broker.example
  tls: {ca: ca.pem, cert: client.pem, key: client.pem, server_name: b.example, insecure_skip_verify: true}
devices: [{name: g, count: 1}]
`)
	tls := s.Broker.TLS
	if tls.CA != filepath.Join("testdata", "ca.pem") || tls.Key != filepath.Join("testdata", "client.pem") ||
		tls.ServerName != "b.example" || !tls.InsecureSkipVerify {
		t.Errorf("tls: %+v", tls)
	}
}

func TestThresholds(t *testing.T) {
	s := loadTest(t, "testdata/thresholds.yaml")
	want := []Threshold{
		{Expr: "e2e p99 < 50ms", Pos: Position{File: "testdata/thresholds.yaml", Line: 5, Col: 5}},
		{Expr: "loss == 0", Pos: Position{File: "testdata/thresholds.yaml", Line: 6, Col: 5}},
	}
	if fmt.Sprint(s.Thresholds) != fmt.Sprint(want) {
		t.Errorf("thresholds = %v, want %v", s.Thresholds, want)
	}
}

func TestCredentials(t *testing.T) {
	c, errs := readCredentials("testdata/creds-bom-reordered.csv", "f", true)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(c.rows) != 2 || c.rows[1] != (credRow{pk: "a1CsvProd01", dn: "valve-2", ds: "secretB"}) {
		t.Errorf("rows: %+v", c.rows)
	}
	for _, tt := range []struct{ csv, want string }{
		{"ProductKey,DeviceName\na,b\n", "x.csv:1:1: f: the header has no DeviceSecret column"},
		{"a1B,dev/1,s\n", `x.csv:1:5: f: character '/' is not allowed in a device name ("dev/1")`},
		{"a1B,dev1,\n", "x.csv:1:10: f: empty device secret"},
		{"a1B,\"dev1,s\n", "x.csv:1:"},
		{"", "x.csv: f: no devices in the file"},
	} {
		_, errs := parseCredentials("x.csv", "f", []byte(tt.csv), true)
		if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), tt.want) {
			t.Errorf("%q: got %v, want %s", tt.csv, errs, tt.want)
		}
	}
	// Other auth modes accept an empty secret and looser names.
	if _, errs := parseCredentials("x.csv", "f", []byte("prod,dev 1,\n"), false); len(errs) > 0 {
		t.Errorf("auth none: %v", errs)
	}
}

func TestExamples(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc.Env = func(string) (string, bool) { return "", false } // must not need any
			s, err := doc.Scenario()
			if err != nil {
				t.Fatalf("%v", err)
			}
			if s.Total() == 0 || s.Duration <= 0 || s.Description == "" {
				t.Errorf("%s: total %d, duration %s, description %q", f, s.Total(), s.Duration, s.Description)
			}
			for _, p := range s.Devices() {
				if p.DeviceName == "" || (p.Auth != AuthAlibaba && p.ClientID == "") {
					t.Errorf("%s: incomplete plan %+v", f, p)
				}
			}
			if s.TargetAt(s.Duration) != s.Total() {
				t.Errorf("%s: %d of %d devices connected at the end", f, s.TargetAt(s.Duration), s.Total())
			}
		})
	}
	// What the examples promise in their comments.
	q := loadTest(t, "examples/quickstart.yaml")
	if q.Total() != 100 || q.Duration != 10*time.Second || !q.Broker.Embedded() {
		t.Errorf("quickstart: %d devices, %s", q.Total(), q.Duration)
	}
	p, _ := q.Plan(0)
	if p.Subscriptions[0].Filter != p.Publishes[0].Topic || p.Publishes[0].QoS != 1 || p.Publishes[0].Interval != time.Second {
		t.Errorf("quickstart is not a 1/s QoS 1 round trip: %+v", p)
	}
	soak := loadTest(t, "examples/soak-10k.yaml")
	if soak.Total() != 10000 || soak.Duration != 30*time.Minute || soak.TargetAt(time.Second) != 1000 {
		t.Errorf("soak: %d devices, %s, %d after 1s", soak.Total(), soak.Duration, soak.TargetAt(time.Second))
	}
	ali := loadTest(t, "examples/alibaba-fleet.yaml")
	for _, g := range ali.Groups {
		if g.Auth != AuthAlibaba {
			t.Errorf("alibaba-fleet group %s: auth %s", g.Name, g.Auth)
		}
	}
}

// TestQoSCompareSets runs the overrides the qos-compare example documents.
func TestQoSCompareSets(t *testing.T) {
	for _, q := range []string{"0", "1", "2"} {
		doc, err := ReadFile("examples/qos-compare.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{"devices[0].subscribe[0].qos=" + q, "devices[roundtrip].publish[0].qos=" + q} {
			if err := doc.ApplySetArg(set); err != nil {
				t.Fatal(err)
			}
		}
		s, err := doc.Scenario()
		if err != nil {
			t.Fatal(err)
		}
		p, _ := s.Plan(0)
		if fmt.Sprint(p.Subscriptions[0].QoS, p.Publishes[0].QoS) != q+" "+q {
			t.Errorf("qos %s: %+v", q, p)
		}
	}
}

func TestCredentialsCount(t *testing.T) {
	s := mustParse(t, `duration: 10s
devices:
  - name: pumps
    count: 2
    credentials_file: creds.csv
    subscribe: [{topic: "/${productKey}/${deviceName}/user/get"}]
`)
	g := s.Groups[0]
	if s.Total() != 2 || g.creds.maxDN != len("pump-b") || g.creds.longest != 0 || g.maxLen(&g.Subscribe[0].t) != len("/a1CsvProd01/pump-a/user/get") {
		t.Errorf("total %d, maxDN %d, longest %d", s.Total(), g.creds.maxDN, g.creds.longest)
	}
	if g.DeviceName != "" || g.ProductKey != "" || g.CredentialsFile != filepath.Join("testdata", "creds.csv") {
		t.Errorf("group: %+v", g)
	}
}
