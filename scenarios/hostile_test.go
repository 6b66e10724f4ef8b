package scenarios

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// measure runs f and reports its time, the bytes it allocated and the peak
// heap seen by a sampler (every 200 µs) while it ran.
func measure(f func()) (el time.Duration, total, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var top atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > top.Load() {
				top.Store(m.HeapAlloc)
			}
		}
	}()
	start := time.Now()
	f()
	el = time.Since(start)
	close(done)
	<-stopped
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak = max(top.Load(), after.HeapAlloc)
	if peak > before.HeapAlloc {
		peak -= before.HeapAlloc
	} else {
		peak = 0
	}
	return el, after.TotalAlloc - before.TotalAlloc, peak
}

func nestedBlock(levels int) string {
	var b strings.Builder
	for i := range levels {
		b.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	return b.String()
}

func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for k := range 10 {
			if k > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func junk(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab:- \n[]{},'\"#&*!|>\t\x01\xff"
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[r.IntN(len(alphabet))]
	}
	return out
}

const mib = 1 << 20

// TestHostileInputs loads hostile documents: each is refused with the
// message, within the time and memory bounds (measured in this process:
// bytes allocated and peak heap growth). The bounds hold under -race.
func TestHostileInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	ok := "duration: 10s\ndevices: [{name: g, count: 1}]\n"
	manyKeys := func(n int) string {
		var b strings.Builder
		b.WriteString("devices:\n  - name: g\n    count: 1\n")
		for i := range n {
			fmt.Fprintf(&b, "    k%d: 1\n", i)
		}
		return b.String()
	}
	bigEnv := strings.Repeat("x", MaxEnvValue+1)
	for _, c := range []struct {
		name string
		load func() error // nil error means accepted
		want string       // the first error, exactly; "" when accepted; "*" any error
		time time.Duration
		mem  uint64 // bound of both allocated bytes and peak heap
	}{
		{"flow sequences 200 KB", parse(strings.Repeat("[", 200_000)),
			"h.yaml:1: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"flow mappings 250 KB", parse(strings.Repeat("{a:", 250_000/3)),
			"h.yaml:1: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"flow over lines", parse(strings.Repeat("[\n", 100_000)),
			"h.yaml:64: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"block indentation", parse(nestedBlock(1000)),
			"h.yaml:65: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"compact sequences", parse(strings.Repeat("- ", 100_000) + "x"),
			"h.yaml:1: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"brackets in quotes after a fake block scalar", parse("a: |\n" + strings.Repeat("[", 300)),
			"h.yaml:2: document nested too deeply (more than 64 levels)", time.Second, 4 * mib},
		{"raw brackets", parse("a: |\n  " + strings.Repeat("[", 300)),
			"h.yaml:2: document nested too deeply (more than 256 open brackets)", time.Second, 4 * mib},
		{"alias bomb", parse(aliasBomb()),
			"h.yaml:6:10: document too large (more than 131072 values after expanding aliases)", 2 * time.Second, 96 * mib},
		{"many aliases", parse("a: &a x\nb: [" + strings.Repeat("*a, ", 5000) + "]\n"),
			"h.yaml:2: document uses more than 4096 aliases", time.Second, 4 * mib},
		{"many values", parse("a: [" + strings.Repeat("1,", 200_000) + "]\n"),
			"h.yaml:1: document too large (more than 131072 values)", time.Second, 4 * mib},
		{"many keys", parse(manyKeys(120_000)),
			"h.yaml:4098: more than 4096 entries in one block mapping or list", time.Second, 4 * mib},
		{"4000 keys", parse(manyKeys(4000)), // accepted: ~0.5 s alone, more under -race and load
			"*", 10 * time.Second, 200 * mib},
		{"10 MB junk", parseBytes(junk(10 * mib)),
			"h.yaml: the scenario is larger than 4 MiB, the limit", time.Second, 1 * mib},
		{"3 MB junk", parseBytes(junk(3 * mib)),
			"*", 10 * time.Second, 64 * mib},
		{"scenario /dev/zero", func() error { _, err := Load("/dev/zero"); return err },
			"/dev/zero: the scenario is larger than 4 MiB, the limit", time.Second, 24 * mib},
		{"credentials /dev/zero", parse("devices: [{name: g, count: 1, credentials_file: /dev/zero}]\nduration: 1s\n"),
			"/dev/zero: devices[0].credentials_file: the credentials file is larger than 64 MiB, the limit; split it over several groups", 10 * time.Second, 192 * mib},
		{"CA /dev/zero", parse("duration: 1s\nbroker: {url: 'mqtts://h:1', tls: {ca: /dev/zero}}\ndevices: [{name: g, count: 1}]\n"),
			"h.yaml:2:40: broker.tls.ca: /dev/zero is larger than 4 MiB, the limit; a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)", time.Second, 24 * mib},
		{"client cert /dev/zero", func() error {
			key := write("k.pem", "x")
			return parse(fmt.Sprintf("duration: 1s\nbroker: {url: 'mqtts://h:1', tls: {cert: /dev/zero, key: %s}}\ndevices: [{name: g, count: 1}]\n", key))()
		}, "h.yaml:2:42: broker.tls.cert: cannot use zero with k.pem: /dev/zero is larger than 4 MiB, the limit; PEM files of the client certificate and its private key", time.Second, 24 * mib},
		{"env value", func() error {
			doc, err := ParseDocument("h.yaml", []byte("duration: 1s\nbroker: {url: 'mqtt://${env:BIG}:1'}\ndevices: [{name: g, count: 1}]\n"))
			if err != nil {
				return err
			}
			doc.Env = func(string) (string, bool) { return bigEnv, true }
			_, err = doc.Scenario()
			return err
		}, "h.yaml:2:23: broker.url: environment variable BIG holds 65537 bytes; the limit is 64 KiB", time.Second, 4 * mib},
		{"BOM", parse("\xef\xbb\xbf" + ok), "", time.Second, 4 * mib},
		{"deep but allowed JSON template", parse(ok + "  # " + strings.Repeat("{", 10) + "\n"), "", time.Second, 4 * mib},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			el, total, peak := measure(func() { err = c.load() })
			t.Logf("%v, %.1f MiB allocated, peak heap +%.1f MiB", el.Round(time.Millisecond), float64(total)/mib, float64(peak)/mib)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want == "*" && err == nil:
				t.Error("accepted")
			case c.want != "" && c.want != "*":
				list := Errors(err)
				if len(list) == 0 {
					t.Fatalf("got %v, want %s", err, c.want)
				}
				if got := list[0].Error(); got != c.want {
					t.Errorf("got  %s\nwant %s", got, c.want)
				}
			}
			if err != nil {
				for _, e := range Errors(err) {
					if len(e.Excerpt()) > 2*maxExcerpt+40 {
						t.Errorf("excerpt of %d bytes", len(e.Excerpt()))
					}
				}
			}
			if el > c.time {
				t.Errorf("took %v, bound %v", el, c.time)
			}
			if total > c.mem || peak > c.mem {
				t.Errorf("allocated %d MiB (peak %d MiB), bound %d MiB", total/mib, peak/mib, c.mem/mib)
			}
		})
	}
}

func parseBytes(src []byte) func() error {
	return func() error { _, err := Parse("h.yaml", src); return err }
}

func parse(src string) func() error {
	return func() error { _, err := Parse("h.yaml", []byte(src)); return err }
}

// TestControlCharactersEscaped: escape sequences written in a scenario
// never reach the terminal raw, in messages or excerpts.
func TestControlCharactersEscaped(t *testing.T) {
	src := "duration: 1s\ndevices: [{name: g, count: 1}]\n\x1b]0;pwned\x07\x1b[2Jbad\u202e: 1\n"
	_, err := Parse("h.yaml", []byte(src))
	list := Errors(err)
	if len(list) == 0 {
		t.Fatalf("accepted: %v", err)
	}
	for _, e := range list {
		for _, s := range []string{e.Error(), e.Excerpt()} {
			if strings.ContainsAny(s, "\x1b\x07\u202e") {
				t.Errorf("raw control characters in %q", s)
			}
		}
	}
	want := `h.yaml:3:1: \x1b]0;pwned\a\x1b[2Jbad\u202e: unknown field "\x1b]0;pwned\a\x1b[2Jbad\u202e" in scenario`
	if got := list[0].Error(); !strings.HasPrefix(got, want) {
		t.Errorf("got  %s\nwant %s…", got, want)
	}
	t.Log(list[0].Excerpt())
}
