package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/mosquitto"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// selfRoundTrip is N devices each publishing M messages at QoS qos to the
// topic it subscribes to.
func selfRoundTrip(t *testing.T, url string, n, m, qos int) *scenarios.Scenario {
	t.Helper()
	broker := ""
	if url != "" {
		broker = "broker:\n  url: " + url + "\n"
	}
	text := fmt.Sprintf(`name: exact-counts
duration: 3s
drain: 1s
%sdevices:
  - name: d
    count: %d
    product_key: pk
    device_name: dev-${index}
    clean_session: true
    connect:
      rate: 1000/s
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: %d
    publish:
      - topic: /${productKey}/${deviceName}/user/get
        qos: %d
        interval: 50ms
        count: %d
        payload:
          size: 48
`, broker, n, qos, qos, m)
	sc, err := scenarios.Parse("exact.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestRunExactCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	const n, m = 50, 20
	mq := mosquitto.Start(t, mosquitto.Options{})
	cases := []struct {
		name string
		url  string
		opts Options
	}{
		{"embedded-tcp", "", Options{}},
		{"embedded-mem", "", Options{Memory: true}},
		{"mosquitto", mq.URL(), Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := selfRoundTrip(t, tc.url, n, m, 1)
			sc.Hold = true // the whole 3 s, for the series below
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := Run(ctx, sc, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tot := res.Totals
			t.Logf("totals %+v broker %+v", tot, res.Broker)
			want := int64(n * m)
			if tot.Published != want || tot.Acked != want || tot.Received != want || tot.Expected != want || tot.Lost != 0 {
				t.Fatalf("totals: published %d acked %d received %d expected %d lost %d; want %d each and lost 0",
					tot.Published, tot.Acked, tot.Received, tot.Expected, tot.Lost, want)
			}
			if tot.Devices != n || tot.ConnectFailed != 0 || tot.Foreign != 0 {
				t.Fatalf("devices %d connect_failed %d foreign %d", tot.Devices, tot.ConnectFailed, tot.Foreign)
			}
			for _, k := range []metrics.Kind{metrics.Connect, metrics.Subscribe, metrics.PublishAck, metrics.E2E} {
				s := res.Latency.Get(k)
				wantN := want
				if k == metrics.Connect || k == metrics.Subscribe {
					wantN = n
				}
				if s == nil || s.Count != wantN || s.P50 <= 0 || s.Max < s.P99 {
					t.Fatalf("%s latency: %+v, want %d samples", k, s, wantN)
				}
			}
			if len(res.Series) < 3 {
				t.Fatalf("series has %d points", len(res.Series))
			}
			if res.Interrupted {
				t.Fatal("run marked interrupted")
			}
			if len(res.Groups) != 1 || res.Groups[0].Name != "d" || res.Groups[0].Devices != n || res.Groups[0].Published != want ||
				res.Groups[0].Acked != want || res.Groups[0].Received != want {
				t.Fatalf("group lines %+v", res.Groups)
			}
		})
	}
}

// TestClientsAgree runs one scenario on the native session and on paho
// (the reference client) against mosquitto and the embedded broker: the
// counts are the same and exact.
func TestClientsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a full fleet run")
	}
	const n, m = 20, 20
	mq := mosquitto.Start(t, mosquitto.Options{})
	for _, url := range []string{"", mq.URL()} {
		var got []metrics.Totals
		for _, client := range []string{scenarios.ClientNative, scenarios.ClientPaho} {
			sc := selfRoundTrip(t, url, n, m, 1)
			sc.Groups[0].Client = client
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			res, err := Run(ctx, sc, Options{})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res.Totals)
		}
		for i, tot := range got {
			want := int64(n * m)
			if tot.ConnectOK != n || tot.SubscribeOK != n || tot.Published != want || tot.Acked != want ||
				tot.Expected != want || tot.Received != want || tot.Lost != 0 || tot.Duplicates != 0 {
				t.Errorf("broker %q client %d: totals %+v", url, i, tot)
			}
		}
		a, b := got[0], got[1]
		if a.Published != b.Published || a.Received != b.Received || a.Acked != b.Acked || a.Lost != b.Lost {
			t.Errorf("broker %q: native %+v, paho %+v", url, a, b)
		}
	}
}
