package scenarios

import (
	"strings"
	"testing"
)

func TestBrokerURLList(t *testing.T) {
	s := mustParse(t, `duration: 10s
broker:
  url: [mqtt://127.0.0.1:1883, "mqtts://127.0.0.2", tcp://b.example:1884]
  failover: next
  tls: {insecure_skip_verify: true}
devices: [{name: g, count: 8, auth: none}]
`)
	b := s.Broker
	if len(b.Endpoints) != 3 {
		t.Fatalf("endpoints = %+v, want 3", b.Endpoints)
	}
	want := []Endpoint{
		{URL: "mqtt://127.0.0.1:1883", Transport: TransportTCP, Host: "127.0.0.1", Port: 1883, Weight: 1},
		{URL: "mqtts://127.0.0.2", Transport: TransportTLS, Host: "127.0.0.2", Port: 8883, Weight: 1},
		{URL: "tcp://b.example:1884", Transport: TransportTCP, Host: "b.example", Port: 1884, Weight: 1},
	}
	for i := range want {
		if b.Endpoints[i] != want[i] {
			t.Errorf("endpoint %d = %+v, want %+v", i, b.Endpoints[i], want[i])
		}
	}
	if b.URL != want[0].URL || b.Host != "127.0.0.1" || b.Port != 1883 || b.Transport != TransportTCP {
		t.Errorf("first endpoint fields = %q %q %d %q", b.URL, b.Host, b.Port, b.Transport)
	}
	if b.TLS == nil || !b.TLS.InsecureSkipVerify {
		t.Errorf("TLS = %+v: the TLS settings apply to the mqtts:// endpoint of a mixed list", b.TLS)
	}
	if b.Failover != FailoverNext || b.NextEndpoint(2) != 0 || b.NextEndpoint(0) != 1 {
		t.Errorf("failover %q, next(2)=%d next(0)=%d", b.Failover, b.NextEndpoint(2), b.NextEndpoint(0))
	}
	for i := range 9 {
		if got := b.EndpointOf(i); got != i%3 {
			t.Errorf("EndpointOf(%d) = %d, want %d (round robin)", i, got, i%3)
		}
	}
}

func TestBrokerSingleURL(t *testing.T) {
	s := mustParse(t, `duration: 10s
broker: {url: "mqtt://127.0.0.1:1999"}
devices: [{name: g, count: 2, auth: none}]
`)
	if len(s.Broker.Endpoints) != 1 || s.Broker.Endpoints[0].Port != 1999 || s.Broker.Addr() != "127.0.0.1:1999" {
		t.Fatalf("broker = %+v", s.Broker)
	}
	if s.Broker.Failover != FailoverNone || s.Broker.NextEndpoint(0) != 0 || s.Broker.EndpointOf(5) != 0 {
		t.Errorf("one endpoint: failover %q next %d of %d", s.Broker.Failover, s.Broker.NextEndpoint(0), s.Broker.EndpointOf(5))
	}
	emb := mustParse(t, "duration: 10s\ndevices: [{name: g, count: 2}]\n")
	if !emb.Broker.Embedded() || len(emb.Broker.Endpoints) != 0 || emb.Broker.EndpointOf(7) != 0 {
		t.Errorf("embedded broker = %+v", emb.Broker)
	}
}

func TestBrokerWeightsSpread(t *testing.T) {
	s := mustParse(t, `duration: 10s
broker:
  url: [mqtt://127.0.0.1:1, mqtt://127.0.0.1:2, mqtt://127.0.0.1:3]
  weights: [2, 1, 1]
devices: [{name: g, count: 4000, auth: none}]
`)
	seq := []int{0, 0, 1, 2}
	counts := make([]int, 3)
	for i := range 4000 {
		e := s.Broker.EndpointOf(i)
		if e != seq[i%4] {
			t.Fatalf("EndpointOf(%d) = %d, want %d (slots a,a,b,c repeated)", i, e, seq[i%4])
		}
		counts[e]++
	}
	if counts[0] != 2000 || counts[1] != 1000 || counts[2] != 1000 {
		t.Errorf("spread = %v, want exactly [2000 1000 1000]", counts)
	}
	for i, w := range []int{2, 1, 1} {
		if s.Broker.Endpoints[i].Weight != w {
			t.Errorf("endpoint %d weight %d, want %d", i, s.Broker.Endpoints[i].Weight, w)
		}
	}
}

func TestBrokerListErrors(t *testing.T) {
	head := "duration: 10s\n"
	tail := "devices: [{name: g, count: 4, auth: none}]\n"
	tests := []struct{ name, broker, want string }{
		{"bad entry names its index", "broker:\n  url: [mqtt://a:1, mqtt://b:1, http://c:1]\n",
			`testdata/case.yaml:3:33: broker.url[2]: scheme http:// is not an MQTT URL`},
		{"empty entry", "broker:\n  url: [mqtt://a:1, \"\"]\n",
			`broker.url[1]: empty URL`},
		{"duplicate", "broker:\n  url: [mqtt://a:1, mqtt://A:1]\n",
			`broker.url[1]: mqtt://A:1 is listed twice (also broker.url[0])`},
		{"empty list", "broker:\n  url: []\n",
			`broker.url: the list is empty`},
		{"not a string", "broker:\n  url: [mqtt://a:1, 7]\n",
			`broker.url[1]:`},
		{"weights length", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: [1, 2, 3]\n",
			`broker.weights: 3 weights for 2 URLs`},
		{"weight zero", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: [1, 0]\n",
			`broker.weights[1]: weight 0 is out of range`},
		{"weight negative", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: [-1, 1]\n",
			`broker.weights[0]: weight -1 is out of range`},
		{"weight too large", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: [1001, 1]\n",
			`broker.weights[0]: weight 1001 is out of range`},
		{"weight not integer", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: [1, x]\n",
			`broker.weights[1]:`},
		{"weights not a list", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  weights: 2\n",
			`broker.weights: want a list of positive integers`},
		{"weights without urls", "broker:\n  weights: [1]\n",
			`broker.weights: weights need broker URLs`},
		{"failover unknown", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  failover: random\n",
			`broker.failover: unknown failover "random"`},
		{"failover without urls", "broker:\n  failover: next\n",
			`broker.failover: failover needs broker URLs`},
		{"tls with plain list", "broker:\n  url: [mqtt://a:1, mqtt://b:1]\n  tls: {insecure_skip_verify: true}\n",
			`broker.tls: TLS settings with a plain TCP URL`},
		{"too many", "broker:\n  url: [" + strings.Repeat("mqtt://a:1, ", MaxEndpoints) + "mqtt://b:1]\n",
			`broker.url: 65 URLs exceed the limit of 64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTest(t, head+tt.broker+tail)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBrokerURLListSet(t *testing.T) {
	doc, err := ParseDocument("testdata/case.yaml", []byte("duration: 10s\nbroker: {url: mqtt://127.0.0.1:1}\ndevices: [{name: g, count: 4, auth: none}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg(`broker.url=["mqtt://127.0.0.1:5", "mqtt://127.0.0.1:6"]`); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("broker.url[2]=mqtt://127.0.0.1:7"); err != nil {
		t.Fatal(err)
	}
	if err := doc.ApplySetArg("broker.weights=[1,1,2]"); err != nil {
		t.Fatal(err)
	}
	s, err := doc.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Broker.Endpoints) != 3 || s.Broker.Endpoints[2].Port != 7 || s.Broker.Endpoints[2].Weight != 2 {
		t.Fatalf("endpoints after --set = %+v", s.Broker.Endpoints)
	}
	if err := doc.ApplySetArg("broker.url[0]=ftp://x"); err != nil {
		t.Fatal(err)
	}
	if _, err := doc.Scenario(); err == nil || !strings.Contains(err.Error(), "broker.url[0]") {
		t.Errorf("error = %v, want one naming broker.url[0]", err)
	}
}

// FuzzBrokerSection feeds arbitrary broker sections (url lists, weights,
// failover) through the loader: it never panics, and an accepted section
// spreads every device over its endpoints, weights respected.
func FuzzBrokerSection(f *testing.F) {
	for _, s := range []string{
		"url: [mqtt://a:1, mqtt://b:2]",
		"url: [mqtt://a:1, mqtts://b]\nweights: [2, 1]\nfailover: next",
		"url: mqtt://a:1\nweights: [1]",
		"url: [mqtt://a:1, mqtt://a:1]",
		"url: []\nfailover: none",
		"url: [mqtt://a:1, {x: 1}]\nweights: [0, -1]",
		"url: ['mqtt://[::1]:1883', tcp://h]\nweights: [1000, 999]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, section string) {
		var b strings.Builder
		b.WriteString("duration: 1s\nbroker:\n")
		for _, line := range strings.Split(section, "\n") {
			b.WriteString("  " + line + "\n")
		}
		b.WriteString("devices: [{name: g, count: 10, auth: none}]\n")
		s, err := Parse("fuzz.yaml", []byte(b.String()))
		if err != nil {
			return
		}
		br := s.Broker
		n := len(br.Endpoints)
		if br.Embedded() != (n == 0) || n > MaxEndpoints {
			t.Fatalf("accepted broker with %d endpoints, embedded %v", n, br.Embedded())
		}
		if n == 0 {
			return
		}
		if br.URL != br.Endpoints[0].URL || br.Port != br.Endpoints[0].Port {
			t.Fatalf("broker.URL %q is not the first endpoint %+v", br.URL, br.Endpoints[0])
		}
		total := 0
		for _, e := range br.Endpoints {
			if e.Weight < 1 || e.Weight > MaxEndpointWeight {
				t.Fatalf("weight %d accepted", e.Weight)
			}
			total += e.Weight
		}
		counts := make([]int, n)
		for i := range total {
			e := br.EndpointOf(i)
			if e < 0 || e >= n {
				t.Fatalf("EndpointOf(%d) = %d of %d endpoints", i, e, n)
			}
			counts[e]++
			if next := br.NextEndpoint(e); next < 0 || next >= n {
				t.Fatalf("NextEndpoint(%d) = %d", e, next)
			}
		}
		for i, e := range br.Endpoints {
			if counts[i] != e.Weight {
				t.Fatalf("one cycle of %d devices gives endpoint %d %d devices, its weight is %d", total, i, counts[i], e.Weight)
			}
		}
	})
}
