package scenarios

import "testing"

// A broker list may mix WebSocket endpoints with the others; each keeps its
// path, and broker.tls applies to the wss:// one.
func TestBrokerListWebSocket(t *testing.T) {
	sc, err := Parse("ws-list.yaml", []byte(`name: ws-list
duration: 10s
broker:
  url: [ws://127.0.0.1:8080/gw, "wss://127.0.0.1:8443", mqtt://127.0.0.1:1883]
  tls: {insecure_skip_verify: true}
devices:
  - name: d
    count: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	eps := sc.Broker.Endpoints
	if len(eps) != 3 {
		t.Fatalf("%d endpoints, want 3", len(eps))
	}
	want := []Endpoint{
		{URL: "ws://127.0.0.1:8080/gw", Transport: TransportWS, Host: "127.0.0.1", Port: 8080, Path: "/gw", Weight: 1},
		{URL: "wss://127.0.0.1:8443", Transport: TransportWSS, Host: "127.0.0.1", Port: 8443, Weight: 1},
		{URL: "mqtt://127.0.0.1:1883", Transport: TransportTCP, Host: "127.0.0.1", Port: 1883, Weight: 1},
	}
	for i := range want {
		if eps[i] != want[i] {
			t.Errorf("endpoint %d: %+v, want %+v", i, eps[i], want[i])
		}
	}
	if sc.Broker.Path != "/gw" || sc.Broker.TLS == nil || !sc.Broker.TLS.InsecureSkipVerify {
		t.Errorf("first endpoint path %q, tls %+v", sc.Broker.Path, sc.Broker.TLS)
	}
}
