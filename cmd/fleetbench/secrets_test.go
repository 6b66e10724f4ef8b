package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetbench/fleetbench/engine/broker"
	"github.com/fleetbench/fleetbench/reports"
)

// plantedSecrets are the distinct secrets TestSecretsNeverPrinted plants,
// by the form they are written in. Multi-line ones are also checked line
// by line (secretFragments).
var plantedSecrets = map[string]string{
	"block":    "Bl0ckLineA1\nBl0ckLineA2",
	"folded":   "F0ldLineB1 F0ldLineB2",
	"quoted":   "Qu0tedKeyC3",
	"anchor":   "Anch0rAliasD4",
	"flow":     "Fl0wMultiE5",
	"comma":    "Comma,Tail6F",
	"hash":     "Hash#Tail7G",
	"env":      "EnvS0urcedH8",
	"set-eq":   "SetEqualsI9",
	"set-sp":   "SetSpaceJ10",
	"file-set": "FileValueK11", // in the file, replaced by --set: still a secret
}

// secretFragments returns every string that must not appear in any
// output: the secrets and each line, word and comma- or hash-separated
// tail of them.
func secretFragments(extra ...string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 6 {
			out = append(out, s)
		}
	}
	for _, s := range plantedSecrets {
		add(s)
		for _, l := range strings.Split(s, "\n") {
			add(l)
		}
		for _, w := range strings.Fields(s) {
			add(w)
		}
		for _, sep := range []string{",", "#"} {
			if _, tail, ok := strings.Cut(s, sep); ok {
				add(tail)
			}
		}
	}
	for _, s := range extra {
		add(s)
	}
	return out
}

// secretScenario is a scenario whose groups each authenticate with one of
// plantedSecrets, in the form the key names, against a password broker at
// addr.
func secretScenario(addr string) string {
	return fmt.Sprintf(`name: secrets
duration: 1s
drain: 1s
broker:
  url: mqtt://%s
devices:
  - name: block
    count: 1
    username: ublock
    password: |-
      Bl0ckLineA1
      Bl0ckLineA2
  - name: folded
    count: 1
    username: ufolded
    password: >-
      F0ldLineB1
      F0ldLineB2
  - name: quoted
    count: 1
    username: uquoted
    "password": "Qu0tedKeyC3"
  - name: anchor
    count: 1
    username: uanchor
    client_id: &cid anchor-client
    password: &pw Anch0rAliasD4
  - name: alias
    count: 1
    username: uanchor
    client_id: alias-client
    password: *pw
  - {name: flow, count: 1, username: uflow,
     password: Fl0wMultiE5}
  - name: comma
    count: 1
    username: ucomma
    password: "Comma,Tail6F"
  - name: hash
    count: 1
    username: uhash
    password: "Hash#Tail7G" # a comment after the value
  - name: env
    count: 1
    username: uenv
    password: ${env:FLEETBENCH_TEST_SECRET}
  - name: seteq
    count: 1
    username: useteq
    password: FileValueK11
  - name: setsp
    count: 1
    username: usetsp
    password: FileValueK11
`, addr)
}

// passwordBroker starts an embedded broker that accepts only the planted
// secrets (one user each), so that a run that connects proves they were
// read and sent as written.
func passwordBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.New(broker.Options{Auth: broker.AuthPassword, Passwords: map[string]string{
		"ublock": plantedSecrets["block"], "ufolded": plantedSecrets["folded"], "uquoted": plantedSecrets["quoted"],
		"uanchor": plantedSecrets["anchor"], "uflow": plantedSecrets["flow"], "ucomma": plantedSecrets["comma"],
		"uhash": plantedSecrets["hash"], "uenv": plantedSecrets["env"], "useteq": plantedSecrets["set-eq"],
		"usetsp": plantedSecrets["set-sp"],
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); b.Close() })
	return b
}

// assertNoSecret fails when any fragment appears in any of the named
// outputs.
func assertNoSecret(t *testing.T, fragments []string, outputs map[string]string) {
	t.Helper()
	for name, text := range outputs {
		for _, f := range fragments {
			if strings.Contains(text, f) {
				t.Errorf("%s shows the secret %q:\n%s", name, f, text)
			}
		}
	}
}

// dirOutputs returns the text of every file in dir, by path.
func dirOutputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSecretsNeverPrinted plants distinct secrets in every form a scenario
// and a command line can hold them, runs validate and run (against a
// broker that only accepts those secrets, so the run proves they were
// used) and error paths, and greps stdout, stderr and every file written
// for each of them.
func TestSecretsNeverPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs against a broker")
	}
	t.Setenv("FLEETBENCH_TEST_SECRET", plantedSecrets["env"])
	b := passwordBroker(t)
	path := writeFile(t, "secrets.yaml", secretScenario(b.Addr()))
	sets := []string{
		"--set=devices[seteq].password=" + plantedSecrets["set-eq"],
		"--set", "devices[setsp].password=" + plantedSecrets["set-sp"],
	}
	fragments := secretFragments()

	t.Run("validate", func(t *testing.T) {
		code, stdout, stderr := fb(t, append([]string{"validate", path}, sets...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		assertNoSecret(t, fragments, map[string]string{"stdout": stdout, "stderr": stderr})
	})

	t.Run("run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := fb(t, append([]string{"run", path, "--out", out, "--log-level", "debug"}, sets...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		res := readResult(t, filepath.Join(out, reports.FileJSON))
		// The planted secrets were used: the broker accepts nothing else.
		if len(res.Groups) != 11 {
			t.Fatalf("%d groups in the result, want 11", len(res.Groups))
		}
		for _, g := range res.Groups {
			if g.ConnectOK < 1 || g.ConnectFailed != 0 {
				t.Errorf("group %s: connect ok %d, failed %d: its secret was not sent as planted", g.Name, g.ConnectOK, g.ConnectFailed)
			}
		}
		outputs := dirOutputs(t, out)
		if _, ok := outputs[filepath.Join(out, reports.FileHTML)]; !ok {
			t.Fatalf("no %s among %d files", reports.FileHTML, len(outputs))
		}
		outputs["stdout"], outputs["stderr"] = stdout, stderr
		assertNoSecret(t, fragments, outputs)
	})

	t.Run("run that cannot connect", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close()
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := fb(t, append([]string{"run", path, "--out", out, "--broker", "mqtt://" + closed, "--log-level", "debug"}, sets...)...)
		if code == exitOK || code == exitUsage {
			t.Fatalf("exit %d against a closed port\n%s%s", code, stdout, stderr)
		}
		outputs := dirOutputs(t, out)
		outputs["stdout"], outputs["stderr"] = stdout, stderr
		assertNoSecret(t, fragments, outputs)
	})

	t.Run("refused by the broker", func(t *testing.T) {
		// A wrong password in the file (the --set values are not given):
		// the seteq and setsp groups are refused with FileValueK11.
		out := filepath.Join(t.TempDir(), "out")
		code, stdout, stderr := fb(t, "run", path, "--out", out, "--log-level", "debug")
		if code == exitUsage {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		res := readResult(t, filepath.Join(out, reports.FileJSON))
		if res.Totals.ConnectFailed == 0 {
			t.Fatalf("no connect refused: %+v", res.Totals)
		}
		outputs := dirOutputs(t, out)
		outputs["stdout"], outputs["stderr"] = stdout, stderr
		assertNoSecret(t, fragments, outputs)
	})

	t.Run("worker token", func(t *testing.T) {
		const token, wrong = "W0rkerTokenZ26", "WrongT0kenZ27"
		w := startWorker(t, buildBinary(t), "--token-file", tokenFile(t, token), "--log-level", "debug")
		frags := secretFragments(token, wrong)
		// The token is used: the worker answers and the plan is printed.
		code, stdout, stderr := fb(t, append([]string{"validate", path, "--workers", w.addr, "--token-file", tokenFile(t, token)}, sets...)...)
		if code != exitOK || !strings.Contains(stdout, "nodes (clock offsets") {
			t.Fatalf("validate with the worker's token: exit %d\n%s%s\nworker:\n%s", code, stdout, stderr, w.log())
		}
		assertNoSecret(t, frags, map[string]string{"stdout": stdout, "stderr": stderr})
		code, stdout, stderr = fb(t, "validate", path, "--workers", w.addr, "--token-file", tokenFile(t, wrong))
		if code == exitOK || !strings.Contains(stderr, "token") {
			t.Fatalf("validate with a wrong token: exit %d\n%s%s", code, stdout, stderr)
		}
		assertNoSecret(t, frags, map[string]string{"wrong-token stdout": stdout, "wrong-token stderr": stderr, "worker log": w.log()})
	})

	// Error paths: every one must fail (exit 2) without echoing a secret.
	errCases := []struct {
		name   string
		text   string // the scenario; "" is the planted one
		args   []string
		secret string // a further secret of this case
		want   string // a fragment of stderr that shows the case was reached
	}{
		{name: "type error on the secret line",
			text:   "name: t\nduration: 1s\ndevices:\n  - name: d\n    count: 1\n    password: [TypeErrL12]\n",
			secret: "TypeErrL12", want: "devices[0].password"},
		{name: "mapping on the secret line",
			text:   "name: t\nduration: 1s\ndevices:\n  - name: d\n    count: 1\n    password: {x: TypeErrM13}\n",
			secret: "TypeErrM13", want: "devices[0].password"},
		{name: "typo of the secret key",
			text:   "name: t\nduration: 1s\ndevices:\n  - name: d\n    count: 1\n    pasword: TypoKeyN14\n",
			secret: "TypoKeyN14", want: "devices[0].pasword"},
		{name: "--set typo with a secret value", args: []string{"--set=devices[0].pasword=SetTypoO15"},
			secret: "SetTypoO15", want: "pasword"},
		{name: "--set typo, space form", args: []string{"--set", "devices[0].passwrd=SetTypoP16"},
			secret: "SetTypoP16", want: "passwrd"},
		{name: "--set of a secret with a bad value", args: []string{"--set", "devices[0].password=[BadValQ17"},
			secret: "BadValQ17", want: "devices[0].password"},
		{name: "--set of a secret to a bad group", args: []string{"--set=devices[nope].password=BadGrpR18"},
			secret: "BadGrpR18", want: "nope"},
		{name: "URL user info in --broker", args: []string{"--broker", "mqtt://bob:UrlPassS19@127.0.0.1:1883"},
			secret: "UrlPassS19", want: "broker"},
		{name: "URL user info in a broken --broker", args: []string{"--broker", "mqtt://bob:UrlPassT20@127.0.0.1:99x"},
			secret: "UrlPassT20", want: "broker"},
		{name: "URL user info in the file",
			text:   "name: t\nduration: 1s\nbroker:\n  url: mqtt://bob:UrlFileU21@127.0.0.1:1883\ndevices:\n  - name: d\n    count: 1\n",
			secret: "UrlFileU21", want: "broker.url"},
		{name: "flag error before the scenario is read",
			args:   []string{"--set=devices[0].password=PreLoadV22", "--broker", "mqtt://bob:PreLoadW23@127.0.0.1:1883", "--bogus-flag"},
			secret: "PreLoadV22", want: "bogus-flag"},
		{name: "missing scenario file", text: "-",
			args:   []string{"--set=devices[0].password=NoFileX24", "--broker", "mqtt://bob:NoFileY25@127.0.0.1:1883"},
			secret: "NoFileX24", want: "no such file"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			switch tc.text {
			case "":
			case "-":
				p = filepath.Join(t.TempDir(), "missing.yaml")
			default:
				p = writeFile(t, "err.yaml", tc.text)
			}
			frags := secretFragments(tc.secret, "PreLoadW23", "NoFileY25")
			for _, cmd := range []string{"validate", "run"} {
				args := append([]string{cmd, p}, tc.args...)
				if cmd == "run" {
					args = append(args, "--out", filepath.Join(t.TempDir(), "out"))
				}
				code, stdout, stderr := fb(t, args...)
				if code != exitUsage {
					t.Fatalf("%s: exit %d, want 2\n%s%s", cmd, code, stdout, stderr)
				}
				if !strings.Contains(stderr, tc.want) {
					t.Fatalf("%s: stderr does not show %q (the case was not reached):\n%s", cmd, tc.want, stderr)
				}
				assertNoSecret(t, frags, map[string]string{cmd + " stdout": stdout, cmd + " stderr": stderr})
			}
		})
	}
}
