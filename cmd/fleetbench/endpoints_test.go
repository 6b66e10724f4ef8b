package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// TestBrokerListRun runs a count-driven fleet with --broker url1,url2,url3
// against three brokers, in one process and with --local-workers 2: the
// per-endpoint lines of result.json are exact, add up to the totals, and
// the two runs agree endpoint by endpoint.
func TestBrokerListRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end runs of the command against three brokers")
	}
	var urls []string
	for range 3 {
		b, err := broker.New(broker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		urls = append(urls, "mqtt://"+b.Addr())
	}
	bin := buildBinary(t)
	sc := localScenario(t, "5s", 20)
	list := strings.Join(urls, ",")
	var results []*metrics.Result
	for _, extra := range [][]string{nil, {"--local-workers", "2"}} {
		out := t.TempDir()
		args := append([]string{"run", sc, "--quiet", "--broker", list, "--out", out}, extra...)
		code, stdout, stderr := runBin(t, bin, args...)
		if code != 0 {
			t.Fatalf("fleetbench %s: exit %d\n%s\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		r := readResult(t, filepath.Join(out, "result.json"))
		if r.Totals.Published != 60*20 || r.Totals.Received != 60*20 || r.Totals.Lost != 0 {
			t.Fatalf("%v: totals %+v", extra, r.Totals)
		}
		if len(r.Endpoints) != 3 {
			t.Fatalf("%v: endpoints %+v", extra, r.Endpoints)
		}
		var sum metrics.EndpointResult
		for i, e := range r.Endpoints {
			if e.URL != urls[i] || e.Devices != 20 || e.ConnectOK != 20 || e.Published != 20*20 || e.Acked != 20*20 ||
				e.Received != 20*20 || e.Connect.Count != 20 || e.PublishAck.Count != 20*20 {
				t.Errorf("%v: endpoint %d = %+v, want 20 devices and 400 messages", extra, i, e)
			}
			if err := sum.Add(&e); err != nil {
				t.Fatal(err)
			}
		}
		if sum.Devices != r.Totals.Devices || sum.ConnectOK != r.Totals.ConnectOK || sum.Published != r.Totals.Published ||
			sum.Acked != r.Totals.Acked || sum.Received != r.Totals.Received {
			t.Errorf("%v: endpoint sums %+v, totals %+v", extra, sum, r.Totals)
		}
		summary, err := os.ReadFile(filepath.Join(out, "summary.md"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(summary), urls[2]) {
			t.Errorf("%v: summary.md has no line for %s:\n%s", extra, urls[2], summary)
		}
		results = append(results, r)
	}
	if n := len(results[1].Nodes); n != 2 {
		t.Fatalf("--local-workers 2 ran on %d nodes", n)
	}
	for i := range 3 {
		a, b := results[0].Endpoints[i], results[1].Endpoints[i]
		if a.Devices != b.Devices || a.Published != b.Published || a.Received != b.Received {
			t.Errorf("endpoint %d: single process %+v, local workers %+v", i, a, b)
		}
	}
}

func TestBrokerArg(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"mqtt://a:1", "broker.url=mqtt://a:1", ""},
		{"mqtt://a:1,mqtt://b:2", `broker.url=["mqtt://a:1", "mqtt://b:2"]`, ""},
		{" mqtt://a:1 , mqtts://b ", `broker.url=["mqtt://a:1", "mqtts://b"]`, ""},
		{"mqtt://a:1,,mqtt://b:2", "", "URL 2 of 3 is empty"},
	} {
		got, err := brokerArg(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("brokerArg(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("brokerArg(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
