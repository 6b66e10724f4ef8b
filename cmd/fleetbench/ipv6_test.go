package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/engine/enginetest"
)

// needIPv6Loopback skips the test when the host has no ::1.
func needIPv6Loopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
}

// freeIPv6Addr returns [::1]:PORT of a port nothing listens on now.
func freeIPv6Addr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const ipv6Scenario = `name: v6
duration: 2s
drain: 1s
devices:
  - name: d
    count: 3
    subscribe:
      - topic: /v6/${deviceName}
        qos: 1
    publish:
      - topic: /v6/${deviceName}
        qos: 1
        interval: 100ms
`

// TestIPv6BrokerURL: a broker URL with an IPv6 literal works end to end.
func TestIPv6BrokerURL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3 s run")
	}
	needIPv6Loopback(t)
	b, err := broker.New(broker.Options{Addr: "[::1]:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	url := "mqtt://" + b.Addr()
	if !strings.HasPrefix(url, "mqtt://[::1]:") {
		t.Fatalf("broker listens on %s", b.Addr())
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := fb(t, "run", writeFile(t, "v6.yaml", ipv6Scenario), "--quiet", "--out", out, "--broker", url)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	if res.Totals.ConnectOK != 3 || res.Totals.Received == 0 || res.Totals.Lost != 0 {
		t.Fatalf("against %s: %+v", url, res.Totals)
	}
}

// TestIPv6MetricsAddr: --metrics-addr [::1]:PORT serves /metrics.
func TestIPv6MetricsAddr(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 3 s run")
	}
	needIPv6Loopback(t)
	addr := freeIPv6Addr(t)
	done := make(chan string, 1)
	go func() {
		code, stdout, stderr := fb(t, "run", writeFile(t, "v6.yaml", ipv6Scenario), "--quiet", "--out", filepath.Join(t.TempDir(), "out"), "--metrics-addr", addr)
		if code != exitOK {
			done <- fmt.Sprintf("exit %d\n%s%s", code, stdout, stderr)
			return
		}
		done <- ""
	}()
	var body string
	for body == "" {
		select {
		case msg := <-done:
			t.Fatalf("the run ended before /metrics answered: %s", msg)
		default:
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "fleetbench_devices_connected") {
				body = string(b)
			}
		}
		if body == "" {
			time.Sleep(50 * time.Millisecond) // polling the condition
		}
	}
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
}

// TestIPv6Workers: a worker listening on [::1]:PORT and a coordinator
// listening on [::1] run a fleet together.
func TestIPv6Workers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	needIPv6Loopback(t)
	bin := buildBinary(t)
	w := exec.Command(bin, "worker", "--listen", "[::1]:0")
	var werr enginetest.Buffer
	w.Stderr = &werr
	pipe, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	line, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil {
		t.Fatalf("worker did not start: %v\n%s", err, werr.String())
	}
	f := strings.Fields(strings.TrimPrefix(line, "fleetbench worker listening on "))
	if len(f) == 0 || !strings.HasPrefix(f[0], "[::1]:") {
		t.Fatalf("worker said %q", line)
	}
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := fb(t, "run", writeFile(t, "v6.yaml", ipv6Scenario), "--quiet", "--out", out,
		"--workers", f[0], "--listen", "[::1]:0", "--local=false")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s\nworker:\n%s", code, stdout, stderr, werr.String())
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	if res.Totals.ConnectOK != 3 || res.Totals.Received == 0 || len(res.Nodes) != 1 || res.Nodes[0].Name != f[0] {
		t.Fatalf("distributed over %s: totals %+v, %d nodes", f[0], res.Totals, len(res.Nodes))
	}
}
