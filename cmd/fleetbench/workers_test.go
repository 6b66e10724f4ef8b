package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// worker is a `fleetbench worker` process of a test.
type worker struct {
	addr   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func (w *worker) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stderr.Write(p)
}

// startWorker starts `fleetbench worker` on a free loopback port; at the
// end of the test it is stopped with SIGTERM and must exit cleanly (unless
// the test killed it).
func startWorker(t *testing.T, bin string, args ...string) *worker {
	t.Helper()
	w := &worker{done: make(chan struct{})}
	w.cmd = exec.Command(bin, append([]string{"worker", "--listen", "127.0.0.1:0"}, args...)...)
	w.cmd.Stderr = w
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { w.err = w.cmd.Wait(); close(w.done) }()
	if err != nil {
		w.cmd.Process.Kill()
		<-w.done
		t.Fatalf("worker did not start: %v\n%s", err, w.stderr.String())
	}
	// "fleetbench worker listening on 127.0.0.1:PORT (token: …"
	f := strings.Fields(strings.TrimPrefix(line, "fleetbench worker listening on "))
	if len(f) == 0 {
		t.Fatalf("worker said %q", line)
	}
	w.addr = f[0]
	t.Cleanup(func() {
		select {
		case <-w.done: // killed by the test
			return
		default:
		}
		w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			w.cmd.Process.Kill()
			<-w.done
			t.Errorf("worker %s did not stop on SIGTERM", w.addr)
		}
		if w.err != nil {
			t.Errorf("worker %s: %v\n%s", w.addr, w.err, w.stderr.String())
		}
	})
	return w
}

func tokenFile(t *testing.T, token string) string {
	t.Helper()
	return writeFile(t, "token", token+"\n")
}

// runBin runs the binary and returns its exit code, stdout and stderr.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	code, _ := waitExit(t, cmd, 2*time.Minute)
	return code, stdout.String(), stderr.String()
}

var fanIn = filepath.Join("..", "..", "scenarios", "examples", "fan-in.yaml")

// TestWorkersFanInMatchesSingleNode: fan-in over two `fleetbench worker`
// processes (each holds one consumer and half the publishers) gives the
// same totals as the same scenario on one node, and every cross-node
// delivery has its latency.
func TestWorkersFanInMatchesSingleNode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "fleet-token-1")
	w1, w2 := startWorker(t, bin, "--token-file", tok), startWorker(t, bin, "--token-file", tok)
	// The totals are compared exactly, so the plan is exact: count: 4
	// messages per publisher (1 s apart, from 1 s after connecting), well
	// within the duration; the single node drains once all are sent, the
	// workers at the end of the duration. A rate over a duration is not
	// exact: how many slots fit depends on when each device connected.
	args := []string{"run", fanIn, "--quiet", "--duration", "10s", "--set", "drain=2s", "--set", "devices[devices].count=100",
		"--set", "devices[devices].publish[0].count=4"}

	single := t.TempDir()
	if code, _, stderr := runBin(t, bin, append(args, "--out", single)...); code != 0 {
		t.Fatalf("single-node run: exit %d\n%s", code, stderr)
	}
	multi := t.TempDir()
	code, stdout, stderr := runBin(t, bin, append(args, "--out", multi, "--workers", w1.addr+","+w2.addr, "--local=false", "--token-file", tok)...)
	if code != 0 {
		t.Fatalf("distributed run: exit %d\n%s", code, stderr)
	}
	s := readResult(t, filepath.Join(single, "result.json")).Totals
	res := readResult(t, filepath.Join(multi, "result.json"))
	m := res.Totals
	t.Logf("single: published %d expected %d received %d lost %d", s.Published, s.Expected, s.Received, s.Lost)
	t.Logf("two workers: published %d expected %d received %d lost %d, %d cross-node (bound ±%d µs)", m.Published, m.Expected, m.Received, m.Lost, m.CrossNodeReceived, res.ClockBoundUs)
	if s.Published != 400 || s.Expected != 800 || s.Received != 800 || s.Lost != 0 {
		t.Fatal("the single-node run did not follow its plan: 100 publishers × 4 messages, each to 2 consumers")
	}
	if m.Published != s.Published || m.Expected != s.Expected || m.Received != s.Received || m.Lost != 0 {
		t.Fatal("the distributed totals differ from the single-node run")
	}
	x := res.Latency.E2ECrossNode
	if m.CrossNodeReceived != m.Received/2 || res.Latency.E2E.Count != m.Received || x.Count != m.CrossNodeReceived || x.P99 <= 0 {
		t.Fatalf("cross-node %d of %d received; %d e2e latencies, %d of them cross-node", m.CrossNodeReceived, m.Received, res.Latency.E2E.Count, x.Count)
	}
	if !strings.Contains(stdout, "e2e_cross_node") {
		t.Fatalf("the summary has no cross-node latency line:\n%s", stdout)
	}
	t.Logf("cross-node e2e p50 %d µs, p99 %d µs", x.P50, x.P99)
	if len(res.Nodes) != 2 || res.Nodes[0].Name != w1.addr || res.Nodes[1].Name != w2.addr {
		t.Fatalf("nodes %+v", res.Nodes)
	}
	if !strings.Contains(stdout, "Nodes") || !strings.Contains(stdout, "cross-node latencies corrected for clock offsets") {
		t.Fatalf("the summary has no node breakdown:\n%s", stdout)
	}
}

// TestWorkerKilledMidRun: SIGKILL one of two workers mid-run: the run
// completes, exits 1, and its result and reports name the lost node, its
// devices and when; what the node measured before is kept.
func TestWorkerKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "fleet-token-2")
	w1, w2 := startWorker(t, bin, "--token-file", tok), startWorker(t, bin, "--token-file", tok)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", fanIn, "--quiet", "--duration", "10s", "--set", "drain=2s", "--set", "devices[devices].count=100",
		"--out", out, "--workers", w1.addr+","+w2.addr, "--local=false", "--token-file", tok, "--partial-every", "200ms")
	var stderr enginetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// Kill the worker once both nodes have reported every device
	// connected and messages published.
	waitPartial(t, out, time.Minute, func(r *metrics.Result) bool { return everyNode(r, 2, 51) }, "both nodes connected and publishing")
	if err := w2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, time.Minute)
	t.Logf("exit %d after %v more: %s", code, took.Round(time.Second), lastLine(stderr.String()))
	if code != exitRunFailed || !strings.Contains(stderr.String(), "FAILED: node "+w2.addr+" lost") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	var lost *metrics.NodeResult
	for i := range res.Nodes {
		if res.Nodes[i].Lost {
			lost = &res.Nodes[i]
		}
	}
	if lost == nil || lost.Name != w2.addr || lost.Devices != 51 || lost.LostAtS <= 0 || lost.Totals.Published == 0 {
		t.Fatalf("nodes %+v", res.Nodes)
	}
	t.Logf("lost %s at %.1f s (%s); it had published %d", lost.Name, lost.LostAtS, lost.LostReason, lost.Totals.Published)
	for file, want := range map[string]string{"report.html": "LOST", "junit.xml": "node " + w2.addr + " lost", "summary.md": "LOST"} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s does not say %q (%v)", file, want, err)
		}
	}
}

// everyNode reports whether the result has n nodes, each with all of its
// devices connected (connect_ok = devices, the consumer included) and
// something published.
func everyNode(r *metrics.Result, n int, devices int64) bool {
	if len(r.Nodes) != n {
		return false
	}
	for _, node := range r.Nodes {
		if node.Totals.ConnectOK < devices || node.Totals.Published == 0 {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestWorkerRefusesWrongToken: a worker refuses a coordinator without its
// token, and the run fails before any device connects; half a set of TLS
// flags is a usage error. (Mutual TLS between nodes is tested in engine.)
func TestWorkerRefusesWrongToken(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "right")
	w := startWorker(t, bin, "--token-file", tok)
	base := []string{"run", fanIn, "--quiet", "--duration", "2s", "--set", "drain=1s", "--set", "devices[devices].count=4", "--local=false", "--workers", w.addr}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong token", []string{"--token-file", writeFile(t, "wrong", "wrong")}, exitRunFailed, "refused our token"},
		{"no token", nil, exitRunFailed, "refused our token"},
		{"empty token file", []string{"--token-file", writeFile(t, "empty", "\n")}, exitUsage, "is empty"},
		{"half the tls flags", []string{"--token-file", tok, "--tls-cert", tok}, exitUsage, "needs --tls-cert, --tls-key and --tls-ca together"},
		{"bad worker address", []string{"--workers", "nohostport"}, exitUsage, "want HOST:PORT"},
		{"right token", []string{"--token-file", tok}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runBin(t, bin, append(append(base, "--out", t.TempDir()), tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, tc.code, tc.want, stderr)
			}
			t.Log(lastLine(stderr))
		})
	}
}

// TestWorkerSurvivesCoordinatorKill: when the coordinator is killed
// (SIGKILL) mid-run, its last result.partial.json holds what the nodes had
// reported, and the worker stops that run's devices by itself and serves
// the next run.
func TestWorkerSurvivesCoordinatorKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "fleet-token-3")
	w := startWorker(t, bin, "--token-file", tok)
	killed := t.TempDir()
	cmd := exec.Command(bin, "run", fanIn, "--quiet", "--duration", "60s", "--set", "devices[devices].count=20",
		"--out", killed, "--workers", w.addr, "--local=false", "--token-file", tok, "--partial-every", "200ms")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// Kill the coordinator once its partial result holds the node's
	// publishes and deliveries.
	waitPartial(t, killed, time.Minute, func(r *metrics.Result) bool { return everyNode(r, 1, 22) && r.Totals.Received > 0 }, "the node's publishes and deliveries")
	cmd.Process.Kill()
	cmd.Wait()
	partial := readResult(t, filepath.Join(killed, "result.partial.json"))
	if !partial.Partial || len(partial.Nodes) != 1 || partial.Nodes[0].Totals.Published == 0 || partial.Totals.Received == 0 {
		t.Fatalf("partial result: %+v, nodes %+v", partial.Totals, partial.Nodes)
	}
	waitFor(t, 15*time.Second, func() bool { return strings.Contains(w.log(), "coordinator went away") }, "the worker to notice its coordinator's death")
	out := t.TempDir()
	code, _, stderr := runBin(t, bin, "run", fanIn, "--quiet", "--duration", "2s", "--set", "drain=1s", "--set", "devices[devices].count=4",
		"--out", out, "--workers", w.addr, "--local=false", "--token-file", tok)
	if code != 0 {
		t.Fatalf("the next run: exit %d\n%s", code, stderr)
	}
	if res := readResult(t, filepath.Join(out, "result.json")); res.Totals.Received == 0 || res.Totals.Lost != 0 {
		t.Fatalf("the next run: %+v", res.Totals)
	}
}

func (w *worker) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stderr.String()
}

// TestWorkersInterrupt: Ctrl-C on the coordinator of a distributed run
// stops publishing on every node, drains, and writes a result marked
// interrupted with every node's share; exit 130.
func TestWorkersInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "fleet-token-4")
	w := startWorker(t, bin, "--token-file", tok)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", fanIn, "--quiet", "--duration", "60s", "--set", "drain=2s", "--set", "devices[devices].count=20",
		"--out", out, "--workers", w.addr, "--token-file", tok, "--partial-every", "200ms")
	var stderr enginetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// Interrupt once both nodes (local and worker) have published.
	waitPartial(t, out, time.Minute, func(r *metrics.Result) bool {
		return len(r.Nodes) == 2 && r.Nodes[0].Totals.Published > 0 && r.Nodes[1].Totals.Published > 0
	}, "both nodes publishing")
	cmd.Process.Signal(os.Interrupt)
	code, took := waitExit(t, cmd, 30*time.Second)
	if code != exitInterrupted {
		t.Fatalf("exit %d after SIGINT, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	t.Logf("exit %d %v after SIGINT: published %d received %d lost %d", code, took.Round(time.Millisecond), res.Totals.Published, res.Totals.Received, res.Totals.Lost)
	if !res.Interrupted || len(res.Nodes) != 2 || res.Totals.Lost != 0 || res.Totals.Received != res.Totals.Expected {
		t.Fatalf("result: interrupted %v, nodes %d, %+v", res.Interrupted, len(res.Nodes), res.Totals)
	}
	for _, n := range res.Nodes {
		if n.Lost || n.Totals.Published == 0 {
			t.Fatalf("node %+v", n)
		}
	}
}

// TestValidateWorkers: validate --workers reaches the workers, prints each
// node's capacity, clock offset and share, and leaves them free for a run.
func TestValidateWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	tok := tokenFile(t, "fleet-token-5")
	w1, w2 := startWorker(t, bin, "--token-file", tok), startWorker(t, bin, "--token-file", tok)
	code, stdout, stderr := runBin(t, bin, "validate", fanIn, "--workers", w1.addr+","+w2.addr, "--token-file", tok)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	t.Log(stdout)
	for _, want := range []string{"3 nodes", "local", w1.addr, w2.addr, "devices[0,167)", "devices[167,334)", "devices[334,500)", "cloud[0,1)", "cloud[1,2)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	if code, _, stderr := runBin(t, bin, "validate", fanIn, "--workers", w1.addr, "--token-file", writeFile(t, "bad", "bad")); code != exitRunFailed || !strings.Contains(stderr, "refused our token") {
		t.Fatalf("wrong token: exit %d\n%s", code, stderr)
	}
	out := t.TempDir()
	if code, _, stderr := runBin(t, bin, "run", fanIn, "--quiet", "--duration", "2s", "--set", "drain=1s", "--set", "devices[devices].count=4",
		"--out", out, "--workers", w1.addr+","+w2.addr, "--token-file", tok); code != 0 {
		t.Fatalf("a run after validate: exit %d\n%s", code, stderr)
	}
}
