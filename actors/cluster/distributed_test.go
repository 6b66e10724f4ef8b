package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/fleetbench/fleetbench/actors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
	"github.com/fleetbench/fleetbench/engine/hal"
	"github.com/fleetbench/fleetbench/engine/metrics"
	"github.com/fleetbench/fleetbench/scenarios"
)

// The distributed tests run every node as a process of its own, as in
// production: this test binary, started again as a worker or as a
// coordinator (Proto.Actor's remote sets gRPC's process-wide logger when it
// starts, so two remotes in one process race). Each child is checked for a
// clean exit, so a race inside one fails the test too.
func TestMain(m *testing.M) {
	switch os.Getenv("FLEETBENCH_TEST_ROLE") {
	case "worker":
		os.Exit(testWorkerMain())
	case "coordinator":
		os.Exit(testCoordinatorMain())
	}
	os.Exit(m.Run())
}

func testWorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ro := RemoteOptions{Listen: "127.0.0.1:0", Token: os.Getenv("FLEETBENCH_TEST_TOKEN")}
	if f := strings.Split(os.Getenv("FLEETBENCH_TEST_TLS"), ","); len(f) == 3 {
		ro.TLS = &RemoteTLS{CertFile: f[0], KeyFile: f[1], CAFile: f[2]}
	}
	var clock hal.Clock
	if skew, err := time.ParseDuration(os.Getenv("FLEETBENCH_TEST_SKEW")); err == nil {
		clock = hal.ShiftedClock{Clock: hal.NewSystemClock(), By: skew}
	}
	err := ServeWorker(ctx, WorkerOptions{
		Remote: ro, Clock: clock,
		Ready:  func(addr string) { fmt.Println(addr) },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// coordSpec is what a coordinator child runs.
type coordSpec struct {
	Example string // a shipped example, or
	File    string // a scenario file
	Sets    []string
	Dist    Distribution
	Out     string
	// MetricsAddr serves the live Prometheus metrics during the run.
	MetricsAddr string
	// PartialEvery, when set, has the coordinator write its partial
	// result to Out+".partial" that often: what a test waits on to act
	// mid-run (see waitPartial).
	PartialEvery time.Duration
}

func testCoordinatorMain() int {
	var spec coordSpec
	if err := json.Unmarshal([]byte(os.Getenv("FLEETBENCH_TEST_SPEC")), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	file := filepath.Join("..", "..", "scenarios", "examples", spec.Example)
	if spec.File != "" {
		file = spec.File
	}
	doc, err := scenarios.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, s := range spec.Sets {
		if err := doc.ApplySetArg(s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	sc, err := doc.Scenario()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if spec.Dist.Source, err = os.ReadFile(file); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spec.Dist.Sets = spec.Sets
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := actors.Options{MetricsAddr: spec.MetricsAddr, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if spec.PartialEvery > 0 {
		opts.PartialEvery = spec.PartialEvery
		opts.Partial = func(r *metrics.Result) {
			if b, err := r.Marshal(); err == nil {
				// temp file + rename: the test never reads half a file
				if os.WriteFile(spec.Out+".partial.tmp", b, 0o600) == nil {
					_ = os.Rename(spec.Out+".partial.tmp", spec.Out+".partial")
				}
			}
		}
	}
	res, err := Run(ctx, sc, opts, &spec.Dist)
	if err != nil {
		_ = os.WriteFile(spec.Out, []byte("error: "+err.Error()), 0o600)
		return 0
	}
	b, err := res.Marshal()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(spec.Out, b, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a node process of a test.
type child struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// startChild starts this test binary in a role. With firstLine it waits
// for the child's first line of output and returns it. The rest of the
// output is drained, and the child is waited for only once it is drained.
// Its stderr is kept for the failure log.
func startChild(t *testing.T, role string, firstLine bool, env ...string) (*child, string) {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), "FLEETBENCH_TEST_ROLE="+role), env...)
	c.cmd.Stderr = &syncWriter{w: &c.stderr}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(out)
	line := ""
	if firstLine {
		if line, err = rd.ReadString('\n'); err != nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
			t.Fatalf("%s did not start: %v\n%s", role, err, c.stderr.String())
		}
	}
	go func() {
		_, _ = io.Copy(io.Discard, rd)
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, strings.TrimSpace(line)
}

// syncWriter serialises writes into a buffer read after the child ends.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// wait waits for the child's end and fails the test on an unclean exit.
func (c *child) wait(t *testing.T, name string, killed bool) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Errorf("%s did not stop within 30 s", name)
	}
	if c.err != nil && !killed {
		t.Errorf("%s exited: %v\n%s", name, c.err, c.stderr.String())
	} else if t.Failed() {
		t.Logf("%s stderr:\n%s", name, c.stderr.String())
	}
}

// startWorker starts a worker process on a free loopback port; it is
// stopped (SIGTERM) and checked when the test ends.
func startWorker(t *testing.T, token string, env ...string) (string, *child) {
	t.Helper()
	c, addr := startChild(t, "worker", true, append([]string{"FLEETBENCH_TEST_TOKEN=" + token}, env...)...)
	t.Cleanup(func() {
		killed := false
		select {
		case <-c.done:
			killed = true // killed by the test itself
		default:
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
		c.wait(t, "worker "+addr, killed)
	})
	return addr, c
}

// runCoordinator runs a distributed run in a coordinator process and
// returns its result, or the run's error text. during, when set, runs
// while the coordinator does, with the path of its partial result (see
// coordSpec.PartialEvery).
func runCoordinator(t *testing.T, spec coordSpec, during func(partial string), env ...string) (*metrics.Result, string) {
	t.Helper()
	spec.Out = filepath.Join(t.TempDir(), "result.json")
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := startChild(t, "coordinator", false, append([]string{"FLEETBENCH_TEST_SPEC=" + string(b)}, env...)...)
	t.Cleanup(func() { // a test that failed in during leaves no coordinator behind
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	if during != nil {
		during(spec.Out + ".partial")
	}
	select {
	case <-c.done:
	case <-time.After(120 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatalf("coordinator did not finish within 120 s\n%s", c.stderr.String())
	}
	c.wait(t, "coordinator", false)
	out, err := os.ReadFile(spec.Out)
	if err != nil {
		t.Fatalf("coordinator wrote no result: %v\n%s", err, c.stderr.String())
	}
	if msg, ok := strings.CutPrefix(string(out), "error: "); ok {
		return nil, msg
	}
	res, err := metrics.UnmarshalResult(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("coordinator stderr:\n%s", c.stderr.String())
		}
	})
	return res, ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDistributedMatchesSingleNode runs fan-in over two workers (each has
// one of the two consumers and half of the publishers, so half of every
// consumer's deliveries cross nodes) and checks the merged totals equal a
// single-node run of the same scenario.
//
// The totals are compared exactly, so the schedule makes them exact: every
// publisher sends count: 4 messages (1 s apart, from 1 s after it
// connected), well within the 10 s duration; the single node drains as
// soon as all are sent, the nodes of the distributed run at the end of the
// duration (together). A rate over a duration is not exact: how many slots
// fit depends on when each device got connected and when the end of the
// load reached it (a loaded machine once published 431 where 400 was
// meant).
func TestDistributedMatchesSingleNode(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	const perDevice = 4
	sets := []string{"duration=10s", "drain=2s", "devices[devices].count=100", fmt.Sprintf("devices[devices].publish[0].count=%d", perDevice)}
	single := runSingle(t, loadExample(t, "fan-in.yaml", sets...))

	const token = "s3cret-token"
	w1, _ := startWorker(t, token)
	w2, _ := startWorker(t, token)
	multi, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: sets, Dist: Distribution{
		Workers: []string{w1, w2}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 8,
	}}, nil)
	if errText != "" {
		t.Fatal(errText)
	}
	s, m := single.Totals, multi.Totals
	t.Logf("single: published %d expected %d received %d lost %d", s.Published, s.Expected, s.Received, s.Lost)
	t.Logf("multi:  published %d expected %d received %d lost %d cross-node %d, bound ±%d µs",
		m.Published, m.Expected, m.Received, m.Lost, m.CrossNodeReceived, multi.ClockBoundUs)
	if s.Published != 100*perDevice || s.Expected != 2*s.Published || s.Received != s.Expected || s.Lost != 0 {
		t.Fatalf("the single-node run did not follow its plan of %d publishes, each to 2 consumers", 100*perDevice)
	}
	if m.Published != s.Published || m.Expected != s.Expected || m.Received != s.Received || m.Lost != 0 {
		t.Fatalf("distributed totals differ from the single-node run (every publisher has %d messages to send within the duration)", perDevice)
	}
	if m.Devices != 102 || m.ConnectOK != 102 {
		t.Fatalf("devices %d connect_ok %d, want 102", m.Devices, m.ConnectOK)
	}
	// Half of each consumer's deliveries come from the other worker.
	if m.CrossNodeReceived != m.Received/2 {
		t.Fatalf("cross-node deliveries %d, want half of %d", m.CrossNodeReceived, m.Received)
	}
	if n := multi.Latency.E2E.Count; n != m.Received {
		t.Fatalf("e2e latencies %d, want one per delivery (%d), cross-node ones included", n, m.Received)
	}
	// Every cross-node delivery has its latency, on the shared clock.
	x := multi.Latency.E2ECrossNode
	if x.Count != m.CrossNodeReceived || x.P50 <= 0 || x.Max > 1_000_000 {
		t.Fatalf("cross-node e2e: %d samples (want %d), p50 %d µs, max %d µs", x.Count, m.CrossNodeReceived, x.P50, x.Max)
	}
	t.Logf("cross-node e2e p50 %d µs p99 %d µs; all e2e p50 %d µs", x.P50, x.P99, multi.Latency.E2E.P50)
	if len(multi.Nodes) != 2 {
		t.Fatalf("nodes %+v", multi.Nodes)
	}
	var sum metrics.Totals
	for _, n := range multi.Nodes {
		if n.Lost || n.Devices != 51 || n.Totals.Published == 0 {
			t.Fatalf("node %+v", n)
		}
		sum.Add(&n.Totals)
		// The node's own series: connected, publishing, and (each node
		// has a consumer) receiving with latencies.
		var pub, recv, p99, conn bool
		for _, p := range n.Series {
			pub, recv, p99, conn = pub || p.PublishRate > 0, recv || p.ReceiveRate > 0, p99 || p.E2EP99Us > 0, conn || p.Connected == 51
		}
		if len(n.Series) < 5 || !pub || !recv || !p99 || !conn {
			t.Fatalf("node %s series: %+v", n.Name, n.Series)
		}
	}
	if sum.Published != m.Published || sum.Received != m.Received || sum.Expected != m.Expected {
		t.Fatalf("per-node totals %+v do not add up to %+v", sum, m)
	}
	if len(multi.Series) < 5 {
		t.Fatalf("series has %d points", len(multi.Series))
	}
	var published int64
	for _, p := range multi.Series {
		published += p.Published
	}
	if published != m.Published {
		t.Fatalf("series publishes add up to %d, want %d", published, m.Published)
	}
}

// TestDistributedStartErrors: a worker that is not there, or that refuses
// our token, is a clear error before any device connects.
func TestDistributedStartErrors(t *testing.T) {
	sets := []string{"duration=2s", "devices[devices].count=4"}
	w, _ := startWorker(t, "right")
	for _, tc := range []struct {
		name string
		d    Distribution
		want string
	}{
		{"unreachable", Distribution{Workers: []string{freeAddr(t)}, Remote: RemoteOptions{Token: "right"}}, "cannot reach worker"},
		{"wrong token", Distribution{Workers: []string{w}, Remote: RemoteOptions{Token: "wrong"}}, "refused our token"},
		{"no token", Distribution{Workers: []string{w}}, "refused our token"},
		{"open listen without token", Distribution{Workers: []string{w}, Remote: RemoteOptions{Listen: "0.0.0.0:0", Advertise: "127.0.0.1:1"}}, "needs a shared token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: sets, Dist: tc.d}, nil)
			if res != nil || !strings.Contains(errText, tc.want) {
				t.Fatalf("err = %q, want %q", errText, tc.want)
			}
			t.Log(errText)
		})
	}
}

// TestDistributedWorkerKilled kills one worker (SIGKILL) mid-run: the run
// completes, the result names the lost node, its devices and when, and
// what it reported before dying is kept.
func TestDistributedWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	// count: 9 per publisher (the last one 10 s after connecting) makes
	// the live node's total exact; the 15 s duration leaves room for slow
	// connects.
	sets := []string{"duration=15s", "drain=2s", "devices[devices].count=100", "devices[devices].publish[0].count=9"}
	const token = "t"
	w1, _ := startWorker(t, token)
	w2, victim := startWorker(t, token)
	res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: sets, PartialEvery: 500 * time.Millisecond, Dist: Distribution{
		Workers: []string{w1, w2}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 4,
	}}, func(partial string) {
		// Kill once both nodes have reported all their devices connected
		// and some of their messages published.
		waitPartial(t, partial, func(r *metrics.Result) bool {
			return everyNode(r, 2, func(n metrics.NodeResult) bool { return n.Totals.ConnectOK == 51 && n.Totals.Published > 0 })
		}, "both nodes connected and publishing")
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Error(err)
		}
	})
	if errText != "" {
		t.Fatal(errText)
	}
	if len(res.Nodes) != 2 {
		t.Fatalf("nodes %+v", res.Nodes)
	}
	alive, dead := res.Nodes[0], res.Nodes[1]
	t.Logf("lost node: %s at %.1f s (%s), %d devices, published %d before", dead.Name, dead.LostAtS, dead.LostReason, dead.Devices, dead.Totals.Published)
	t.Logf("run: published %d expected %d received %d lost %d", res.Totals.Published, res.Totals.Expected, res.Totals.Received, res.Totals.Lost)
	if alive.Lost || !dead.Lost || dead.Name != w2 || dead.Devices != 51 || dead.LostAtS <= 0 || dead.LostAtS > 12 || dead.LostReason == "" {
		t.Fatalf("nodes: %+v / %+v", alive, dead)
	}
	// Which devices were on it.
	if got := strings.Join(dead.Ranges, " "); got != "cloud[1,2) devices[50,100)" {
		t.Fatalf("the dead node's devices: %q", got)
	}
	// What the dead node measured before it died is in the result.
	if dead.Totals.Published == 0 || dead.Totals.ConnectOK != 51 {
		t.Fatalf("the dead node's measurements are gone: %+v", dead.Totals)
	}
	if res.Totals.Published != alive.Totals.Published+dead.Totals.Published {
		t.Fatalf("published %d ≠ %d + %d", res.Totals.Published, alive.Totals.Published, dead.Totals.Published)
	}
	// The live node ran its whole plan: 50 publishers × 9 messages.
	if alive.Totals.Published != 450 {
		t.Fatalf("live node published %d, want 450", alive.Totals.Published)
	}
	// Deliveries to the dead node's consumer after its death are lost;
	// deliveries of what it published after its last report are expected
	// (by the plan) and received, so they hide no loss.
	tot := res.Totals
	t.Logf("the dead node's unreported deliveries: %d", dead.UnreportedDeliveries)
	if tot.Lost == 0 || tot.Lost != tot.Expected-tot.Received+tot.Duplicates || tot.Received > tot.Expected {
		t.Fatalf("lost %d, expected %d received %d", tot.Lost, tot.Expected, tot.Received)
	}
	found := false
	for _, f := range res.Faults {
		found = found || (f.Kind == "node lost" && f.Devices == 51)
	}
	if !found {
		t.Fatalf("no node-lost window in %+v", res.Faults)
	}
}

// TestDistributedWorkerPartitioned freezes one worker (SIGSTOP): its
// connection stays open but it reports nothing, as behind a partition;
// the heartbeat declares it lost and the run completes without it.
func TestDistributedWorkerPartitioned(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	sets := []string{"duration=8s", "drain=1s", "devices[devices].count=20"}
	const token = "t"
	w1, _ := startWorker(t, token)
	w2, victim := startWorker(t, token)
	t.Cleanup(func() { _ = victim.cmd.Process.Signal(syscall.SIGCONT) })
	res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: sets, PartialEvery: 500 * time.Millisecond, Dist: Distribution{
		Workers: []string{w1, w2}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 4,
	}}, func(partial string) {
		// Freeze it once both nodes have reported published messages.
		waitPartial(t, partial, func(r *metrics.Result) bool {
			return everyNode(r, 2, func(n metrics.NodeResult) bool { return n.Totals.Published > 0 })
		}, "both nodes publishing")
		if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Error(err)
		}
	})
	if errText != "" {
		t.Fatal(errText)
	}
	dead := res.Nodes[1]
	t.Logf("lost node: %s at %.1f s (%s)", dead.Name, dead.LostAtS, dead.LostReason)
	if res.Nodes[0].Lost || !dead.Lost || !strings.Contains(dead.LostReason, "no report") || dead.Totals.Published == 0 {
		t.Fatalf("nodes %+v", res.Nodes)
	}
}

// TestDistributedMutualTLS: with --tls-* the transport is mutual TLS: a
// coordinator without TLS, or with a certificate of another CA, cannot
// reach the worker; with the run's CA the run goes through.
func TestDistributedMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	ca := testpki.NewCA(t, "fleet CA")
	other := testpki.NewCA(t, "someone else's CA")
	wCert, wKey := ca.Node(t, "worker", "127.0.0.1")
	cCert, cKey := ca.Node(t, "coordinator", "127.0.0.1")
	xCert, xKey := other.Node(t, "intruder", "127.0.0.1")
	w, _ := startWorker(t, "tok", "FLEETBENCH_TEST_TLS="+wCert+","+wKey+","+ca.CertFile)
	sets := []string{"duration=2s", "drain=1s", "devices[devices].count=4"}
	for _, tc := range []struct {
		name string
		tls  *RemoteTLS
		want string
	}{
		{"plaintext", nil, "cannot reach worker"},
		{"foreign certificate", &RemoteTLS{CertFile: xCert, KeyFile: xKey, CAFile: ca.CertFile}, "cannot reach worker"},
		{"distrusting the worker", &RemoteTLS{CertFile: cCert, KeyFile: cKey, CAFile: other.CertFile}, "cannot reach worker"},
		{"run CA", &RemoteTLS{CertFile: cCert, KeyFile: cKey, CAFile: ca.CertFile}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: sets, Dist: Distribution{
				Workers: []string{w}, NoLocal: true, Remote: RemoteOptions{Token: "tok", TLS: tc.tls}, Pings: 2,
			}}, nil)
			if tc.want == "" {
				if errText != "" || res.Totals.Received == 0 || res.Totals.Lost != 0 {
					t.Fatalf("err %q, result %+v", errText, res)
				}
				return
			}
			if !strings.Contains(errText, tc.want) {
				t.Fatalf("err %q, want %q", errText, tc.want)
			}
			t.Log(errText)
		})
	}
}

// TestDistributedSkewedClocks: two workers whose clocks are 1.5 s fast and
// 0.7 s slow. The coordinator measures both offsets, the nodes start
// together and stamp on the shared epoch, and cross-node latencies come
// out right (uncorrected, they would be 2.2 s too long or negative).
func TestDistributedSkewedClocks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	const token = "t"
	fast, _ := startWorker(t, token, "FLEETBENCH_TEST_SKEW=1500ms")
	slow, _ := startWorker(t, token, "FLEETBENCH_TEST_SKEW=-700ms")
	res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: []string{"duration=5s", "drain=2s", "devices[devices].count=40"},
		Dist: Distribution{Workers: []string{fast, slow}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 8}}, nil)
	if errText != "" {
		t.Fatal(errText)
	}
	for i, want := range []int64{1_500_000, -700_000} {
		n := res.Nodes[i]
		t.Logf("node %s: offset %+d µs ± %d µs (skew %+d µs)", n.Name, n.ClockOffsetUs, n.ClockUncertaintyUs, want)
		if d := n.ClockOffsetUs - want; d < -10_000 || d > 10_000 {
			t.Fatalf("node %s: measured offset %d µs, skew %d µs", n.Name, n.ClockOffsetUs, want)
		}
	}
	tot, x := res.Totals, res.Latency.E2ECrossNode
	t.Logf("cross-node e2e: %d samples, p50 %d µs, p99 %d µs, max %d µs; negative %d", x.Count, x.P50, x.P99, x.Max, tot.LatencyNegative)
	if tot.Lost != 0 || tot.Received != tot.Expected || x.Count != tot.CrossNodeReceived || x.Count == 0 {
		t.Fatalf("totals %+v, cross-node e2e %d", tot, x.Count)
	}
	if tot.LatencyNegative != 0 || x.P99 > 200_000 || res.Latency.E2E.P99 > 200_000 {
		t.Fatalf("latencies are off by the skew: e2e p99 %d µs, cross-node p99 %d µs, %d negative", res.Latency.E2E.P99, x.P99, tot.LatencyNegative)
	}
}

// TestDistributedWorkerBusy: a worker takes one run at a time; a second
// coordinator is told so before any of its devices connects, and the first
// run is not disturbed.
func TestDistributedWorkerBusy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	const token = "t"
	w, _ := startWorker(t, token)
	dist := Distribution{Workers: []string{w}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 2}
	var second string
	first, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: []string{"duration=6s", "drain=1s", "devices[devices].count=10"},
		PartialEvery: 500 * time.Millisecond, Dist: dist}, func(partial string) {
		// The second run asks once the first is running on the worker.
		waitPartial(t, partial, func(r *metrics.Result) bool {
			return everyNode(r, 1, func(n metrics.NodeResult) bool { return n.Totals.Published > 0 })
		}, "the first run publishing on the worker")
		_, second = runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: []string{"duration=2s", "devices[devices].count=2"}, Dist: dist}, nil)
	})
	if errText != "" {
		t.Fatal(errText)
	}
	t.Log(second)
	if !strings.Contains(second, "worker is busy with another run") {
		t.Fatalf("second run: %q", second)
	}
	if first.Totals.Lost != 0 || first.Totals.Received == 0 || first.Nodes[0].Lost {
		t.Fatalf("first run disturbed: %+v", first.Totals)
	}
}

// TestDistributedPrepareFails: a node that cannot load the scenario (here
// a ${env:…} set on the coordinator and one worker but not the other)
// fails the run before any device connects, names the node and the field,
// and the worker that had loaded its share is given back at once.
func TestDistributedPrepareFails(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	const token = "t"
	file := filepath.Join(t.TempDir(), "env.yaml")
	if err := os.WriteFile(file, []byte(`name: env
duration: 2s
drain: 1s
devices:
  - name: d
    count: 4
    product_key: ${env:FB_TEST_PK}
    subscribe:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
    publish:
      - topic: /${productKey}/${deviceName}/user/get
        qos: 1
        interval: 500ms
`), 0o600); err != nil {
		t.Fatal(err)
	}
	with, _ := startWorker(t, token, "FB_TEST_PK=pk1")
	without, _ := startWorker(t, token)
	dist := Distribution{Workers: []string{with, without}, NoLocal: true, Remote: RemoteOptions{Token: token}, Pings: 2}
	res, errText := runCoordinator(t, coordSpec{File: file, Dist: dist}, nil, "FB_TEST_PK=pk1")
	t.Log(errText)
	if res != nil || !strings.Contains(errText, "node "+without) || !strings.Contains(errText, "FB_TEST_PK") {
		t.Fatalf("err %q", errText)
	}
	// The first worker was prepared, then released: it takes a run now.
	dist.Workers = []string{with}
	res, errText = runCoordinator(t, coordSpec{File: file, Dist: dist}, nil, "FB_TEST_PK=pk1")
	if errText != "" || res.Totals.Received == 0 {
		t.Fatalf("the released worker: %q %+v", errText, res)
	}
}

// e2eCount returns the count of the QoS 1 latency histogram of a kind in a
// Prometheus text body (0 when it is not there).
func e2eCount(body, kind string) int64 {
	prefix := `fleetbench_latency_seconds_count{kind="` + kind + `",qos="1"} `
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// TestDistributedMetricsEndpoint: --metrics-addr on a distributed run's
// coordinator serves the merged live metrics, latency histograms included.
func TestDistributedMetricsEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a distributed run")
	}
	const token = "t"
	w, _ := startWorker(t, token)
	addr := freeAddr(t)
	var body string
	res, errText := runCoordinator(t, coordSpec{Example: "fan-in.yaml", Sets: []string{"duration=8s", "drain=1s", "devices[devices].count=20"},
		MetricsAddr: addr, Dist: Distribution{Workers: []string{w}, Remote: RemoteOptions{Token: token}, Pings: 2}}, func(string) {
		// Mid-run, the merged metrics show every device connected and
		// e2e latencies, cross-node ones included.
		waitFor(t, 60*time.Second, func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return e2eCount(body, "e2e") > 0 && e2eCount(body, "e2e_cross_node") > 0 && strings.Contains(body, "fleetbench_devices_connected 22\n")
		}, "22 connected devices and e2e latencies (cross-node too) at /metrics")
	})
	if errText != "" {
		t.Fatal(errText)
	}
	t.Logf("e2e latencies mid-run: %d, cross-node %d", e2eCount(body, "e2e"), e2eCount(body, "e2e_cross_node"))
	if res.Totals.Received == 0 {
		t.Fatalf("%+v", res.Totals)
	}
}
