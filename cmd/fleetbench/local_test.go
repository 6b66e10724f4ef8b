package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest"
	"github.com/fleetbench/fleetbench/engine/metrics"
)

// localScenario is a count-driven fleet: every device publishes exactly
// count QoS 1 messages to its own topic, so the totals are exact whatever
// the split over processes.
func localScenario(t *testing.T, duration string, count int) string {
	t.Helper()
	return writeFile(t, "local.yaml", fmt.Sprintf(`name: local-workers
duration: %s
drain: 2s
devices:
  - name: d
    count: 60
    client_id: lw-${index}
    subscribe:
      - topic: lw/${clientId}
        qos: 1
    publish:
      - topic: lw/${clientId}
        qos: 1
        interval: 100ms
        count: %d
`, duration, count))
}

// TestLocalWorkersMatchSingleProcess: `--local-workers 2` runs the fleet
// in two worker processes the coordinator starts itself, and its merged
// totals equal a single-process run's exactly.
func TestLocalWorkersMatchSingleProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: end-to-end runs of the command")
	}
	bin := buildBinary(t)
	sc := localScenario(t, "5s", 20)
	single, multi := t.TempDir(), t.TempDir()
	if code, _, stderr := runBin(t, bin, "run", sc, "--quiet", "--out", single); code != 0 {
		t.Fatalf("single process: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runBin(t, bin, "run", sc, "--local-workers", "2", "--out", multi)
	if code != 0 {
		t.Fatalf("--local-workers 2: exit %d\n%s", code, stderr)
	}
	s := readResult(t, filepath.Join(single, "result.json"))
	m := readResult(t, filepath.Join(multi, "result.json"))
	t.Logf("single: published %d received %d; local workers: published %d received %d", s.Totals.Published, s.Totals.Received, m.Totals.Published, m.Totals.Received)
	for _, r := range []*metrics.Result{s, m} {
		if r.Totals.Published != 60*20 || r.Totals.Acked != 60*20 || r.Totals.Expected != 60*20 || r.Totals.Received != 60*20 || r.Totals.Lost != 0 {
			t.Fatalf("totals %+v, want 1200 published, acked, expected and received", r.Totals)
		}
	}
	// The load phase (first to last intended publish) is the same span:
	// every device publishes 20 messages 100 ms apart after connecting.
	sl, ml := s.LastPublishS-s.FirstPublishS, m.LastPublishS-m.FirstPublishS
	t.Logf("load phase: single %.2fs (from %.2fs), local workers %.2fs (from %.2fs); drain %.2fs / %.2fs", sl, s.FirstPublishS, ml, m.FirstPublishS, s.DrainS, m.DrainS)
	if ml < 1.9 || ml > sl+1.5 || m.FirstPublishS <= 0 || m.DrainS <= 0 || strings.Contains(stdout, "load phase not recorded") {
		t.Fatalf("the merged load phase %.2fs from %.2fs (drain %.2fs) is not the single run's %.2fs", ml, m.FirstPublishS, m.DrainS, sl)
	}
	if len(m.Nodes) != 2 || m.Nodes[0].Name != "local-1" || m.Nodes[1].Name != "local-2" {
		t.Fatalf("nodes %+v, want local-1 and local-2", m.Nodes)
	}
	if m.Nodes[0].Devices+m.Nodes[1].Devices != 60 {
		t.Fatalf("node devices %d + %d, want 60", m.Nodes[0].Devices, m.Nodes[1].Devices)
	}
	pids := localPIDs(t, stderr)
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("local worker %d still runs after the run ended", pid)
		}
	}
	if !strings.Contains(stdout, "local-1") || strings.Contains(stderr+stdout, "interrupted — stopping") {
		t.Fatalf("the summary lacks the local nodes, or the workers' stop notices leaked:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// TestLocalWorkersInterrupted: Ctrl-C (SIGINT to the coordinator, as the
// terminal sends it to the foreground process, which is the coordinator
// alone: the workers have a process group of their own) drains the run,
// writes an interrupted result with both workers' counts, and leaves no
// worker running.
func TestLocalWorkersInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", localScenario(t, "10m", 1000000), "--local-workers", "2", "--out", out, "--partial-every", "300ms")
	var stderr enginetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Condition: the partial result shows the whole fleet connected and
	// messages received.
	waitPartial(t, out, time.Minute, func(r *metrics.Result) bool { return r.Totals.ConnectOK >= 60 && r.Totals.Received > 0 },
		"every device connected and receiving")
	pids := localPIDs(t, stderr.String())
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code, took := waitExit(t, cmd, time.Minute)
	t.Logf("exit %d, %v after SIGINT", code, took.Round(time.Millisecond))
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	if res.Verdict.Status != metrics.StatusInterrupted || len(res.Nodes) != 2 || res.Totals.Published == 0 || res.Nodes[0].Totals.Published == 0 || res.Nodes[1].Totals.Published == 0 {
		t.Fatalf("verdict %q, nodes %+v, published %d", res.Verdict.Status, res.Nodes, res.Totals.Published)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("local worker %d still runs after the coordinator exited", pid)
		}
	}
}

// TestLocalWorkersFirstPartial: a distributed run writes its first partial
// result at the first tick after the nodes report a connect, not after
// the 10 s period, so a run killed early still leaves a result. The check
// is on the run's own clock (the partial result's span), so a slow machine
// does not make it flaky.
func TestLocalWorkersFirstPartial(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", localScenario(t, "10m", 1000000), "--local-workers", "2", "--out", out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); waitExit(t, cmd, time.Minute) }()
	first := waitPartial(t, out, time.Minute, func(*metrics.Result) bool { return true }, "the first partial result")
	span := first.EndedAt.Sub(first.StartedAt)
	t.Logf("first partial result after %v of the run, %d connects", span.Round(time.Millisecond), first.Totals.ConnectOK)
	if first.Totals.ConnectOK == 0 || span >= 10*time.Second {
		t.Fatalf("first partial result after %v with %d connects: want one soon after the first connect", span, first.Totals.ConnectOK)
	}
}

// TestLocalWorkersCoordinatorKilled: kill -9 of the coordinator takes its
// workers with it (the parent-death signal), so nothing is left behind.
func TestLocalWorkersCoordinatorKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	cmd := exec.Command(bin, "run", localScenario(t, "10m", 1000000), "--local-workers", "2", "--out", t.TempDir())
	var stderr enginetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var pids []int
	waitFor(t, time.Minute, func() bool {
		pids = localPIDsIn(stderr.String())
		return len(pids) == 2
	}, "the local workers' pids on stderr")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitFor(t, 10*time.Second, func() bool { return !alive(pids[0]) && !alive(pids[1]) }, "both local workers gone")
}

// TestLocalWorkerKilled: a local worker that dies mid-run is a lost node,
// as in any distributed run: exit 1, the node named.
func TestLocalWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", localScenario(t, "8s", 1000000), "--local-workers", "2", "--out", out, "--partial-every", "300ms")
	var stderr enginetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitPartial(t, out, time.Minute, func(r *metrics.Result) bool { return r.Totals.ConnectOK >= 60 }, "every device connected")
	pids := localPIDs(t, stderr.String())
	if err := syscall.Kill(pids[1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	code, _ := waitExit(t, cmd, time.Minute)
	if code != exitRunFailed || !strings.Contains(stderr.String(), "node local-2 lost") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if alive(pids[0]) {
		t.Errorf("the surviving local worker %d still runs after the coordinator exited", pids[0])
	}
}

func TestLocalWorkerFlags(t *testing.T) {
	sc := localScenario(t, "5s", 1)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--local-workers", "-1"}, "--local-workers -1: want a number of processes"},
		{[]string{"--local-workers", "2", "--workers", "127.0.0.1:1"}, "--local-workers cannot be used with --workers"},
		{[]string{"--local-workers", "2", "--memory"}, "--memory cannot be used with --local-workers"},
		{[]string{"--local-workers", "61"}, "more processes than the scenario's 60 devices"},
	} {
		code, _, stderr := fb(t, append([]string{"run", sc, "--out", t.TempDir()}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

var pidsLine = regexp.MustCompile(`local workers listening \(pids \[([0-9 ]+)\]\)`)

func localPIDsIn(stderr string) []int {
	m := pidsLine.FindStringSubmatch(stderr)
	if m == nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(m[1]) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	return pids
}

func localPIDs(t *testing.T, stderr string) []int {
	t.Helper()
	pids := localPIDsIn(stderr)
	if len(pids) != 2 {
		t.Fatalf("no two local worker pids on stderr:\n%s", stderr)
	}
	return pids
}

// alive reports whether a process exists (and is not a zombie: the
// coordinator must have reaped its workers).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// RRPC's cloud side is the embedded emulator of one process: a
// distributed run of an rrpc: group is refused before any node starts.
func TestRRPCRefusedDistributed(t *testing.T) {
	example := filepath.Join("..", "..", "scenarios", "examples", "alibaba-fleet.yaml")
	code, _, stderr := fb(t, "run", example, "--workers", "127.0.0.1:1", "--out", t.TempDir())
	if code != exitRunFailed || !strings.Contains(stderr, "rrpc runs on a single node only") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestLocalWorkersThingReplies: nodes ship their MQTT and Alink reason
// codes (reply_code:200 here) and their thing_reply latencies, so a
// distributed platform run counts every reply exactly as one process does.
func TestLocalWorkersThingReplies(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	bin := buildBinary(t)
	sc := writeFile(t, "thing.yaml", `name: thing-local
duration: 6s
drain: 1s
broker: {platform: alibaba}
devices:
  - name: meters
    count: 20
    product_key: a1PK
    device_secret: secret-${index}
    connect: {rate: 1000/s}
    publish:
      - thing: property_post
        qos: 1
        interval: 50ms
        count: 5
        params: '{"temperature": ${random:20.0..30.0}}'
`)
	out := t.TempDir()
	if code, _, stderr := runBin(t, bin, "run", sc, "--local-workers", "2", "--quiet", "--out", out); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	res := readResult(t, filepath.Join(out, "result.json"))
	if res.Totals.ThingPosts != 100 || res.Latency.ThingReply.Count != 100 || res.ReasonCodes["reply_code:200"] != 100 || len(res.Nodes) != 2 {
		t.Fatalf("thing posts %d, thing_reply %d, reason codes %v, %d nodes; want 100, 100, reply_code:200 100, 2",
			res.Totals.ThingPosts, res.Latency.ThingReply.Count, res.ReasonCodes, len(res.Nodes))
	}
}
