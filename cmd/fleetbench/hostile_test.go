package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetbench/fleetbench/engine/enginetest/testpki"
)

// hostileBase is a valid scenario that, should a hostile case not be
// rejected, finishes quickly against the embedded broker.
const hostileBase = `name: t
duration: 1s
drain: 1s
devices:
  - name: d
    count: 2
`

// hostileTLSHead starts a scenario whose broker is reached over TLS; the
// "tls:" section follows.
const hostileTLSHead = `name: t
duration: 1s
drain: 1s
broker:
  url: mqtts://127.0.0.1:8883
  tls:
`

const hostileDevices = `devices:
  - name: d
    count: 2
`

// hostileFiles writes the files hostile scenarios refer to into dir:
// notes.txt (not PEM), bad.csv (a row with two fields and a broken quote),
// empty.csv, and sub/ (a directory).
func hostileFiles(t *testing.T, dir string) {
	t.Helper()
	for name, text := range map[string]string{
		"notes.txt": "just some notes, not a certificate\n",
		"bad.csv":   "a1X2bEnP82z,dev1\n\"unterminated,x,y\n",
		"empty.csv": "",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// assertNoPanic fails the test when the CLI's output shows a panic or a
// goroutine dump.
func assertNoPanic(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, "panic:") || strings.Contains(o, "goroutine ") {
			t.Fatalf("the CLI panicked:\n%s", o)
		}
	}
}

// knownBug reports problems of a case marked as blocked by a product bug
// (described in the case) as a skip, and any other case's as a failure.
// Remove the marker when the product is fixed.
func knownBug(t *testing.T, bug string, problems []string) {
	t.Helper()
	if len(problems) == 0 {
		return
	}
	if bug != "" {
		t.Skipf("known product bug: %s\n%s", bug, strings.Join(problems, "\n"))
	}
	t.Fatal(strings.Join(problems, "\n"))
}

// TestHostileScenarios feeds malformed scenarios to validate and run: each
// must exit 2 with a message that names the scenario (or the file it
// refers to), the position where known, and the field, and must not
// panic. It complements TestMalformedScenariosExit2.
func TestHostileScenarios(t *testing.T) {
	pub := func(lines string) string {
		return hostileBase + "    publish:\n      - topic: /a\n" + lines
	}
	cases := []struct {
		name, text string
		// want are fragments stderr must contain (besides the file, see
		// wantFile).
		want []string
		// wantFile is the file the error must name, relative to the
		// scenario's directory; "" means the scenario itself.
		wantFile string
		bug      string
	}{
		// counts and rates
		{name: "negative publish count", text: pub("        interval: 1s\n        count: -1\n"),
			want: []string{":10:16: devices[0].publish[0].count"}},
		{name: "huge publish count", text: pub("        interval: 1s\n        count: 1000000000000000000000\n"),
			want: []string{":10:16: devices[0].publish[0].count"}},
		{name: "zero publish rate", text: pub("        rate: 0/s\n"),
			want: []string{":9:15: devices[0].publish[0].rate"}},
		{name: "negative publish rate", text: pub("        rate: -3/s\n"),
			want: []string{":9:15: devices[0].publish[0].rate"}},
		{name: "zero interval", text: pub("        interval: 0s\n"),
			want: []string{":9:19: devices[0].publish[0].interval"}},
		{name: "fractional device count", text: strings.Replace(hostileBase, "count: 2", "count: 2.5", 1),
			want: []string{":6:12: devices[0].count"}},
		{name: "negative payload size", text: pub("        interval: 1s\n        payload: { size: -1 }\n"),
			want: []string{":10:26: devices[0].publish[0].payload.size"}},
		{name: "huge payload size", text: pub("        interval: 1s\n        payload: { size: 999999999999 }\n"),
			want: []string{":10:26: devices[0].publish[0].payload.size"}},
		// QoS
		{name: "negative qos", text: hostileBase + "    subscribe:\n      - topic: /a\n        qos: -1\n",
			want: []string{":9:14: devices[0].subscribe[0].qos"}},
		{name: "qos as a word", text: hostileBase + "    subscribe:\n      - topic: /a\n        qos: two\n",
			want: []string{":9:14: devices[0].subscribe[0].qos"}},
		// times
		{name: "negative keepalive", text: hostileBase + "    keepalive: -10s\n",
			want: []string{":7:16: devices[0].keepalive"}},
		{name: "zero connect timeout", text: hostileBase + "    connect: { rate: 10/s, timeout: 0s }\n",
			want: []string{":7:37: devices[0].connect.timeout"}},
		{name: "negative drain", text: strings.Replace(hostileBase, "drain: 1s", "drain: -1s", 1),
			want: []string{":3:8: drain"}},
		{name: "overflowing duration", text: strings.Replace(hostileBase, "duration: 1s", "duration: 99999999h", 1),
			want: []string{":2:11: duration"}},
		{name: "negative stage duration", text: hostileBase + "stages:\n  - { duration: -1s, target: 2 }\n",
			want: []string{":8:17: stages[0].duration"}},
		{name: "negative stage target", text: hostileBase + "stages:\n  - { duration: 1s, target: -2 }\n",
			want: []string{":8:29: stages[0].target"}},
		// broker URLs
		{name: "port out of range", text: "name: t\nduration: 1s\nbroker:\n  url: mqtt://host:99999\n" + hostileDevices,
			want: []string{":4:8: broker.url", "99999"}},
		{name: "port zero", text: "name: t\nduration: 1s\nbroker:\n  url: mqtt://127.0.0.1:0\n" + hostileDevices,
			want: []string{":4:8: broker.url"}},
		{name: "mqtts without host", text: "name: t\nduration: 1s\nbroker:\n  url: \"mqtts://\"\n" + hostileDevices,
			want: []string{":4:8: broker.url", "no host"}},
		{name: "websocket url with a query", text: "name: t\nduration: 1s\nbroker:\n  url: ws://127.0.0.1:8080/mqtt?x=1\n" + hostileDevices,
			want: []string{":4:8: broker.url", "has a query or fragment"}},
		{name: "url with a path", text: "name: t\nduration: 1s\nbroker:\n  url: mqtt://host:1883/x\n" + hostileDevices,
			want: []string{":4:8: broker.url"}},
		{name: "url with a space", text: "name: t\nduration: 1s\nbroker:\n  url: \"mqtt://exa mple:1883\"\n" + hostileDevices,
			want: []string{":4:8: broker.url"}},
		// credentials files
		{name: "credentials file missing", text: "name: t\nduration: 1s\ndevices:\n  - name: d\n    auth: alibaba\n    credentials_file: nope.csv\n",
			want: []string{":6:23: devices[0].credentials_file", "nope.csv"}},
		{name: "credentials file malformed", text: "name: t\nduration: 1s\ndevices:\n  - name: d\n    auth: alibaba\n    credentials_file: bad.csv\n",
			wantFile: "bad.csv", want: []string{"bad.csv:1:1: devices[0].credentials_file", "bad.csv:2:19: devices[0].credentials_file"}},
		{name: "credentials file empty", text: "name: t\nduration: 1s\ndevices:\n  - name: d\n    auth: alibaba\n    credentials_file: empty.csv\n",
			wantFile: "empty.csv", want: []string{"devices[0].credentials_file", "no devices"}},
		{name: "credentials file is a directory", text: "name: t\nduration: 1s\ndevices:\n  - name: d\n    auth: alibaba\n    credentials_file: sub\n",
			wantFile: "sub", want: []string{"devices[0].credentials_file", "is a directory"}},
		// TLS files
		{name: "tls ca missing", text: hostileTLSHead + "    ca: nope.pem\n" + hostileDevices,
			want: []string{":7:9: broker.tls.ca", "nope.pem"}},
		{name: "tls key missing", text: hostileTLSHead + "    cert: notes.txt\n    key: nokey.pem\n" + hostileDevices,
			want: []string{":8:10: broker.tls.key", "nokey.pem"}},
		{name: "tls server_name not a string", text: hostileTLSHead + "    server_name: 12\n" + hostileDevices,
			want: []string{":7:18: broker.tls.server_name"}},
		{name: "tls ca not PEM", text: hostileTLSHead + "    ca: notes.txt\n" + hostileDevices,
			want: []string{":7:9: broker.tls.ca", "PEM"}},
		{name: "tls ca is a directory", text: hostileTLSHead + "    ca: sub\n" + hostileDevices,
			want: []string{":7:9: broker.tls.ca"}},
		{name: "tls client certificate not PEM", text: hostileTLSHead + "    cert: notes.txt\n    key: notes.txt\n" + hostileDevices,
			want: []string{":7:11: broker.tls.cert"}},
		// documents
		{name: "list document", text: "- 1\n- 2\n", want: []string{":1:1:", "mapping"}},
		{name: "null document", text: "~\n", want: []string{":1:1:", "mapping"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hostileFiles(t, dir)
			path := filepath.Join(dir, "hostile.yaml")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			wantFile := path
			if tc.wantFile != "" {
				wantFile = filepath.Join(dir, tc.wantFile)
			}
			var problems []string
			for _, args := range [][]string{
				{"validate", path},
				// Should run accept the scenario, keep its output out of the
				// working directory.
				{"run", path, "--quiet", "--out", t.TempDir()},
			} {
				cmd := args[0]
				code, stdout, stderr := fb(t, args...)
				assertNoPanic(t, stdout, stderr)
				if code != exitUsage {
					problems = append(problems, fmt.Sprintf("%s: exit %d, want 2; stderr:\n%s", cmd, code, stderr))
					continue
				}
				if !strings.Contains(stderr, wantFile) {
					problems = append(problems, fmt.Sprintf("%s: stderr does not name %s:\n%s", cmd, wantFile, stderr))
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						problems = append(problems, fmt.Sprintf("%s: stderr does not contain %q:\n%s", cmd, w, stderr))
					}
				}
			}
			knownBug(t, tc.bug, problems)
		})
	}
}

// TestHostileArguments feeds bad arguments and flags to the commands: each
// must exit 2 with a message naming the flag, field or file at fault, and
// must not panic. It complements TestUsageErrorsExit2.
func TestHostileArguments(t *testing.T) {
	dir := t.TempDir()
	hostileFiles(t, dir)
	good := filepath.Join(dir, "ok.yaml")
	pubsub := filepath.Join(dir, "pubsub.yaml")
	notes := filepath.Join(dir, "notes.txt")
	sub := filepath.Join(dir, "sub")
	dangling := filepath.Join(dir, "dangling.yaml")
	loop := filepath.Join(dir, "loop.yaml")
	empty := filepath.Join(dir, "empty.json")
	notResult := filepath.Join(dir, "other.json")
	for p, text := range map[string]string{
		good:      hostileBase,
		pubsub:    hostileBase + "    subscribe:\n      - topic: /a\n    publish:\n      - topic: /a\n        interval: 100ms\n",
		empty:     "",
		notResult: `{"hello": "world"}`,
	} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere.yaml"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	out := func() string { return filepath.Join(t.TempDir(), "out") }

	cases := []struct {
		name string
		args []string
		want []string
		// absent are fragments stderr must not contain.
		absent []string
		bug    string
	}{
		// unreadable scenario files (the tests run as root, so a mode-000
		// file would still be readable: use paths that cannot be read)
		{name: "scenario is a directory", args: []string{"run", sub}, want: []string{sub, "is a directory"}},
		{name: "scenario is a dangling symlink", args: []string{"run", dangling}, want: []string{dangling, "no such file"}},
		{name: "scenario is a symlink loop", args: []string{"validate", loop}, want: []string{loop, "too many levels"}},
		// --duration
		{name: "negative duration", args: []string{"run", good, "--duration", "-5s"}, want: []string{"duration", "-5s", "negative"}},
		{name: "zero duration", args: []string{"run", good, "--duration", "0s"}, want: []string{"duration", "positive"}},
		// --set
		{name: "set unknown top-level path", args: []string{"run", good, "--set", "no.such.path=1"}, want: []string{"--set", `no field "no"`}},
		{name: "set unknown group field", args: []string{"run", good, "--set", "devices[0].nope=1"}, want: []string{"--set", "devices[0].nope"}},
		{name: "set unknown group name", args: []string{"run", good, "--set", "devices[x].count=1"}, want: []string{"--set", "devices[x]"}},
		{name: "set list element the file lacks", args: []string{"run", good, "--set", "devices[0].publish[0].qos=1"}, want: []string{"--set", "devices[0].publish"}},
		{name: "set empty path", args: []string{"run", good, "--set", "="}, want: []string{"--set", "empty path"}},
		{name: "set double dot", args: []string{"run", good, "--set", "devices[0]..count=1"}, want: []string{"--set", "devices[0]..count"}},
		{name: "set wrong type", args: []string{"run", good, "--set", "devices[0].count=abc"}, want: []string{"devices[0].count", "--set devices[0].count=abc"}},
		{name: "set empty device list", args: []string{"run", good, "--set", "devices=[]"}, want: []string{"devices", "empty"}},
		// --threshold
		{name: "threshold garbage", args: []string{"run", good, "--threshold", "garbage"}, want: []string{"--threshold", "garbage"}},
		{name: "threshold unknown metric", args: []string{"run", good, "--threshold", "nosuch.p99 < 5ms"}, want: []string{"--threshold", "nosuch"}},
		{name: "threshold bad duration", args: []string{"run", good, "--threshold", "e2e.p99 < banana"}, want: []string{"--threshold", "banana"}},
		// --broker, --out, --memory, --metrics-addr
		{name: "broker port out of range", args: []string{"run", good, "--broker", "mqtt://127.0.0.1:99999"}, want: []string{"broker.url", "99999"}},
		{name: "broker mqtts without host", args: []string{"run", good, "--broker", "mqtts://"}, want: []string{"broker.url", "no host"}},
		{name: "broker websocket fragment", args: []string{"run", good, "--broker", "ws://127.0.0.1:8080/mqtt#f"}, want: []string{"broker.url", "has a query or fragment", "(from --broker"}},
		{name: "broker empty", args: []string{"run", good, "--broker", ""}, want: []string{"broker.url"}},
		{name: "out is a file", args: []string{"run", good, "--out", notes}, want: []string{"--out", "not a directory"}},
		{name: "memory not a boolean", args: []string{"run", good, "--memory=maybe"}, want: []string{"memory", "maybe"}},
		{name: "metrics-addr without port", args: []string{"run", good, "--metrics-addr", "nonsense"}, want: []string{"--metrics-addr", "nonsense"}},
		// report
		{name: "report without files", args: []string{"report"}, want: []string{"report", "result.json"}},
		{name: "report on a text file", args: []string{"report", notes}, want: []string{notes}},
		{name: "report on a scenario", args: []string{"report", good}, want: []string{good}},
		{name: "report on an empty file", args: []string{"report", empty}, want: []string{empty, "empty"}},
		{name: "report on JSON that is not a result", args: []string{"report", notResult}, want: []string{notResult, "schema"}},
		{name: "report on a directory", args: []string{"report", sub}, want: []string{sub, "is a directory"}},
		{name: "report on a missing file", args: []string{"report", filepath.Join(dir, "missing.json")}, want: []string{"missing.json"}},
		// compare
		{name: "compare one result", args: []string{"compare", empty}, want: []string{"compare", "two"}},
		{name: "compare a non-result", args: []string{"compare", notResult, empty}, want: []string{notResult}},
		{name: "compare bad tolerance", args: []string{"compare", empty, notResult, "--tolerance", "abc"}, want: []string{"tolerance", "abc"}},
		{name: "compare matrix without values", args: []string{"compare", good, "--matrix", "nokey"}, want: []string{"--matrix", "nokey"}},
		{name: "compare matrix qos without publish", args: []string{"compare", good, "--matrix", "qos=7", "--memory", "--quiet", "--out", out()},
			want: []string{"--matrix", "qos"}},
		{name: "compare matrix bad value runs nothing", args: []string{"compare", pubsub, "--matrix", "qos=1,7", "--memory", "--quiet", "--out", out()},
			want: []string{"qos", "7"}, absent: []string{"running qos=1"}},
		// other commands
		{name: "sign with an empty product key", args: []string{"sign", "--product-key", "", "--device-name", "dn", "--device-secret", "s"}, want: []string{"product key"}},
		{name: "validate two files", args: []string{"validate", good, good}, want: []string{"exactly one"}},
		{name: "init into a missing directory", args: []string{"init", "--template", "quickstart", filepath.Join(dir, "no", "such", "x.yaml")}, want: []string{"no such file"}},
		{name: "unknown command", args: []string{"bogus-command"}, want: []string{"bogus-command"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] == "run" {
				// Should a case not be rejected, keep its output quiet and
				// out of the working directory.
				args = append(append([]string{}, args...), "--quiet")
				if !slices.Contains(args, "--out") {
					args = append(args, "--out", out())
				}
			}
			code, stdout, stderr := fb(t, args...)
			assertNoPanic(t, stdout, stderr)
			var problems []string
			if code != exitUsage {
				problems = append(problems, fmt.Sprintf("exit %d, want 2; stderr:\n%s", code, stderr))
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					problems = append(problems, fmt.Sprintf("stderr does not contain %q:\n%s", w, stderr))
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(stderr, a) {
					problems = append(problems, fmt.Sprintf("stderr contains %q:\n%s", a, stderr))
				}
			}
			knownBug(t, tc.bug, problems)
		})
	}
}

// TestRunTLSWrongCA runs the CLI against a TLS server on 127.0.0.1 whose
// certificate was issued by a CA other than the scenario's broker.tls.ca.
// Every connect must fail, counted as "tls" in the summary; the user must
// be told that the certificate is signed by an unknown authority, and the
// run, which never had a connection, must not pass as completed.
func TestRunTLSWrongCA(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: an end-to-end run of the command")
	}
	dir := t.TempDir()
	serverCA := testpki.NewCA(t, "server CA")
	wrongCA := testpki.NewCA(t, "wrong CA")
	addr := serveTLS(t, serverCA.ServerCertificate(t, "broker.test", "127.0.0.1"))

	path := filepath.Join(dir, "tls.yaml")
	text := fmt.Sprintf(`name: wrong-ca
duration: 2s
drain: 1s
broker:
  url: mqtts://%s
  tls:
    ca: %s
    server_name: broker.test
devices:
  - name: d
    count: 3
    connect: { rate: 100/s, timeout: 2s }
`, addr, wrongCA.CertFile)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := fb(t, "run", path, "--quiet", "--out", t.TempDir())
	assertNoPanic(t, stdout, stderr)
	if code == exitUsage || code == exitThresholds || code == exitInterrupted {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !regexp.MustCompile(`connects\s+0 ok, \d+ failed \(100%: tls \d+\)`).MatchString(stdout) {
		t.Fatalf("summary does not count every connect as a tls failure:\n%s", stdout)
	}
	var problems []string
	if !strings.Contains(stdout+stderr, "signed by unknown authority") {
		problems = append(problems, "neither stdout nor stderr says the certificate is signed by an unknown authority")
	}
	if code != exitRunFailed {
		problems = append(problems, fmt.Sprintf("exit %d although no device ever connected; want 1 (README: the broker unreachable for the whole run)", code))
	}
	if len(problems) > 0 {
		problems = append(problems, "stdout:\n"+stdout, "stderr:\n"+stderr)
	}
	knownBug(t, "connect errors are logged at debug level only (actors/device.go) and a run in which no device "+
		"ever connected exits 0 as ✔ COMPLETED (cmd/fleetbench/run.go)", problems)
}

// serveTLS accepts connections on a free 127.0.0.1 port and completes TLS
// handshakes with cert (then closes the connection: no MQTT is spoken).
// It stops when the test ends.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("accept: %v", err)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				tls.Server(c, cfg).HandshakeContext(ctx) // the client is expected to reject it
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}
