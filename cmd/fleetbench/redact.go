package main

import (
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/fleetbench/fleetbench/scenarios"
)

// redaction hides the secrets of one command line in everything the CLI
// prints (stdout, stderr: messages, logs, the progress line). It starts
// with the secrets the raw arguments show (--set values of secret fields in
// either flag form, the password of a URL), so that even a flag-parsing
// error cannot echo them; the commands add the scenario's secrets once it
// is read (use), and other secrets they learn (addValues), such as a
// worker's token.
type redaction struct {
	argv   []string // the command line, as given
	mu     sync.Mutex
	values []string            // secrets from the arguments and added ones
	scen   func(string) string // the scenario's (Document or Scenario Redact)
	extra  *strings.Replacer   // replaces values, longest first; nil: none
}

// newRedaction returns the redaction of the command line argv.
func newRedaction(argv []string) *redaction {
	r := &redaction{argv: argv}
	r.values = argSecrets(argv)
	r.rebuild()
	return r
}

// argSecrets returns the secret values visible in a raw command line: the
// values a --set of a secret field gives (--set PATH=V, --set=PATH=V, -set
// …), as the scenario package classifies the path, and the password of
// every URL's user info (--broker mqtt://user:pw@host:port).
func argSecrets(argv []string) []string {
	doc, err := scenarios.ParseDocument("--set", []byte("{}\n"))
	var out []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "set" {
			if !hasVal && i+1 < len(argv) {
				i++
				val, hasVal = argv[i], true
			}
			if hasVal && err == nil {
				_ = doc.ApplySetArg(val) // registers the value of a secret field, valid or not
			}
		}
		out = append(out, urlPasswords(a)...)
	}
	if err == nil {
		out = append(out, doc.Secrets()...)
	}
	return out
}

// urlPasswords returns the passwords of the URLs with user info in s
// ("scheme://user:pw@host…"), cut by hand since a URL that does not parse
// must still be hidden.
func urlPasswords(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			return out
		}
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/?# \t\n")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(authority[:at], ":"); ok && pw != "" {
				out = append(out, pw)
			}
		}
		s = rest
	}
}

// use makes fn (a scenario's Redact) part of the redaction, replacing the
// one used before.
func (r *redaction) use(fn func(string) string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scen = fn
}

// addValues adds literal secrets (a token read from a file).
func (r *redaction) addValues(vs ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, vs...)
	r.rebuild()
}

// rebuild makes the replacer of values: longest first, so that a secret
// containing another is replaced whole; values shorter than
// scenarios.MinSecretLen are left alone (they would wreck unrelated text).
func (r *redaction) rebuild() {
	seen := map[string]bool{}
	var vs []string
	for _, v := range r.values {
		if len(v) >= scenarios.MinSecretLen && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		r.extra = nil
		return
	}
	slices.SortStableFunc(vs, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, "***")
	}
	r.extra = strings.NewReplacer(pairs...)
}

// apply returns s with every known secret replaced by "***".
func (r *redaction) apply(s string) string {
	if r == nil {
		return s
	}
	r.mu.Lock()
	scen, extra := r.scen, r.extra
	r.mu.Unlock()
	if scen != nil {
		s = scen(s)
	}
	if extra != nil {
		s = extra.Replace(s)
	}
	return s
}

// command returns the command line with every known secret hidden, and
// the value of every --set of a key that looks secret.
func (r *redaction) command() string {
	if r == nil {
		return ""
	}
	return r.apply(redactArgs(r.argv))
}

// escapeLines escapes the control characters of each line of s (user
// input echoed by a message must not drive the terminal), keeping the
// line breaks.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = scenarios.EscapeControls(l)
	}
	return strings.Join(lines, "\n")
}

// redactWriter redacts every write to w. A secret split over two writes
// would pass: every writer of the CLI (fmt, slog, the progress printer)
// writes a line or a message at a time.
type redactWriter struct {
	w io.Writer
	r *redaction
}

func (rw *redactWriter) Write(p []byte) (int, error) {
	s := rw.r.apply(string(p))
	if _, err := io.WriteString(rw.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// terminalFile returns the terminal w writes to, through the CLI's
// wrappers, if any.
func terminalFile(w io.Writer) (*os.File, bool) {
	for {
		switch x := w.(type) {
		case *redactWriter:
			w = x.w
		case *lockedWriter:
			w = x.w
		case *os.File:
			return x, isTerminal(x)
		default:
			return nil, false
		}
	}
}

// redactionKey is the key of the command line's *redaction in
// cli.App.Metadata.
const redactionKey = "fleetbench.redaction"

// redactionOf returns the redaction of the command line c runs (nil when
// the app was built without one, which redacts nothing).
func redactionOf(c *cli.Context) *redaction {
	if c == nil || c.App == nil {
		return nil
	}
	r, _ := c.App.Metadata[redactionKey].(*redaction)
	return r
}
