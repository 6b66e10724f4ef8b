package scenarios

import (
	"os"
	"slices"
	"strings"
	"sync"
)

// MinSecretLen is the shortest secret replaced by value (3 bytes): a
// shorter one would wreck unrelated text. Such values are still masked
// where they are written at their key (RedactedSource, error excerpts).
const MinSecretLen = 3

// maxListedSecrets bounds the credentials-file secrets listed one by one;
// beyond it they are matched as tokens (see Redactor).
const maxListedSecrets = 4096

// Redactor replaces registered secret values by "***". The zero value
// redacts nothing.
type Redactor struct {
	values []string            // longest first
	tokens map[string]struct{} // secrets matched as whole tokens
	rep    *strings.Replacer
}

func newRedactor(values []string, tokens map[string]struct{}) *Redactor {
	seen := map[string]bool{}
	var vs []string
	for _, v := range values {
		if len(v) >= MinSecretLen && !seen[v] {
			seen[v] = true
			vs = append(vs, v)
		}
	}
	slices.SortStableFunc(vs, func(a, b string) int { return len(b) - len(a) })
	r := &Redactor{values: vs, tokens: tokens}
	if len(vs) > 0 {
		// strings.Replacer tries the patterns at each position in
		// argument order: longest first, so a secret that contains another
		// is replaced whole.
		args := make([]string, 0, 2*len(vs))
		for _, v := range vs {
			args = append(args, v, "***")
		}
		r.rep = strings.NewReplacer(args...)
	}
	return r
}

// Secrets returns the registered values, longest first.
func (r *Redactor) Secrets() []string {
	if r == nil {
		return nil
	}
	out := slices.Clone(r.values)
	for t := range r.tokens {
		out = append(out, t)
	}
	return out
}

// Redact returns s with every registered secret replaced by "***".
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	if r.rep != nil {
		s = r.rep.Replace(s)
	}
	if len(r.tokens) > 0 {
		s = redactTokens(s, r.tokens)
	}
	return s
}

// redactTokens replaces the maximal runs of s between separators that are
// in tokens (credentials-file secrets of large files).
func redactTokens(s string, tokens map[string]struct{}) string {
	var b strings.Builder
	last, start := 0, -1
	for i := 0; i <= len(s); i++ {
		sep := i == len(s) || strings.IndexByte(" \t\r\n\"',;:=&?/\\{}[]()<>|#@", s[i]) >= 0
		if !sep {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if _, ok := tokens[s[start:i]]; ok {
				b.WriteString(s[last:start])
				b.WriteString("***")
				last = i
			}
			start = -1
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isSecretKey reports whether a mapping key or --set field names a secret:
// device_secret and password, what is close to them (typos are secrets
// too: their values are echoed by "unknown field" errors), and keys
// naming a secret, password or token.
func isSecretKey(k string) bool {
	n := normalizeName(k)
	if n == "" {
		return false
	}
	for _, w := range []string{"secret", "pass", "pwd", "token"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	if schemaKeys()[n] {
		return false // a known field that holds no secret
	}
	return editDistance(n, "password") <= 2 || editDistance(n, "devicesecret") <= 3
}

// schemaKeys returns the normalized keys of every schema.
var schemaKeys = sync.OnceValue(func() map[string]bool {
	set := map[string]bool{}
	seen := map[*schema]bool{}
	var walk func(s *schema)
	walk = func(s *schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		for k, f := range s.fields {
			set[normalizeName(k)] = true
			walk(f.obj)
			walk(f.list)
		}
	}
	walk(scenarioSchema)
	return set
})

// Secrets returns every secret value of the document, longest first: the
// values of device_secret and password (and of keys close to them) as
// written, resolved (${env:…}) and line by line for block scalars; the
// password of a broker URL; values given to secret fields by --set or a
// flag; and, after Scenario, the secrets of credentials files.
func (doc *Document) Secrets() []string { return doc.redactor().Secrets() }

// Redact returns s with every secret of the document (see Secrets)
// replaced by "***". Use it on anything derived from the scenario or the
// command line: the command line kept in results, error messages, logs.
func (doc *Document) Redact(s string) string { return doc.redactor().Redact(s) }

// Secrets returns the secret values of the scenario (see
// Document.Secrets).
func (s *Scenario) Secrets() []string { return s.redact.Secrets() }

// Redact returns text with every secret of the scenario replaced by "***".
func (s *Scenario) Redact(text string) string { return s.redact.Redact(text) }

// redactor collects the document's secrets.
func (doc *Document) redactor() *Redactor {
	c := doc.collect()
	c.values = append(c.values, doc.fileSecrets...)
	c.values = append(c.values, doc.setSecrets...)
	var tokens map[string]struct{}
	for _, cr := range doc.creds {
		if len(cr.rows) <= maxListedSecrets {
			for _, r := range cr.rows {
				c.values = append(c.values, r.ds)
			}
			continue
		}
		if tokens == nil {
			tokens = make(map[string]struct{})
		}
		for _, r := range cr.rows {
			if r.ds != "" {
				tokens[r.ds] = struct{}{}
			}
		}
	}
	return newRedactor(c.values, tokens)
}

// collect walks the document's tree for secrets.
func (doc *Document) collect() *secretCollector {
	env := doc.Env
	if env == nil {
		env = os.LookupEnv
	}
	c := &secretCollector{doc: doc, env: env}
	c.walk(doc.root, false, "")
	return c
}

type secretCollector struct {
	doc    *Document
	env    envLookup
	values []string
}

func (c *secretCollector) walk(n *node, secret bool, path string) {
	if n == nil {
		return
	}
	switch n.kind {
	case kindMap:
		for _, e := range n.entries {
			p := join(path, e.key)
			if p == "broker.url" {
				if e.val != nil && e.val.kind == kindSeq { // a list of endpoints
					for _, it := range e.val.items {
						c.url(it)
					}
				} else {
					c.url(e.val)
				}
			}
			c.walk(e.val, secret || isSecretKey(e.key), p)
		}
	case kindSeq:
		for _, it := range n.items {
			c.walk(it, secret, path)
		}
	default:
		if secret {
			c.scalar(n)
		}
	}
}

// scalar registers the value of a secret scalar in every form it may be
// written or used.
func (c *secretCollector) scalar(n *node) {
	text := n.text
	if text == "" {
		return
	}
	resolved, refs := c.resolve(text)
	if !refs {
		c.values = append(c.values, text)
	} else {
		c.values = append(c.values, resolved)
		// The literal parts around the placeholders ("hunter2-${index}").
		c.values = append(c.values, splitPlaceholders(text)...)
	}
	// Block, folded and multi-line values appear line by line (and word
	// by word when folded).
	if strings.ContainsAny(text, "\n ") {
		for _, l := range strings.Split(text, "\n") {
			c.values = append(c.values, strings.TrimSpace(l))
		}
		c.values = append(c.values, strings.Fields(text)...)
	}
	// A quoted scalar with escapes is written otherwise in the source.
	if n.line > 0 && n.line <= len(c.doc.lines) && n.col > 0 {
		l := c.doc.lines[n.line-1]
		if n.col-1 < len(l) {
			if q := l[n.col-1]; q == '"' || q == '\'' {
				if end := strings.IndexByte(l[n.col:], q); end > 0 {
					c.values = append(c.values, l[n.col:n.col+end])
				}
			}
		}
	}
}

// resolve substitutes ${env:…} in text; refs reports placeholders. The
// values of the variables are registered.
func (c *secretCollector) resolve(text string) (string, bool) {
	if !strings.Contains(text, "${") {
		return text, false
	}
	var b strings.Builder
	rest := text
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		spec := rest[i+2 : i+j]
		if e, ok := strings.CutPrefix(spec, "env:"); ok {
			if v, msg := resolveEnv(e, c.env); msg == "" {
				c.values = append(c.values, v)
				b.WriteString(v)
			}
		}
		rest = rest[i+j+1:]
	}
	return b.String(), true
}

// splitPlaceholders returns the literal parts of a template.
func splitPlaceholders(text string) []string {
	var out []string
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			return append(out, text)
		}
		out = append(out, text[:i])
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			return out
		}
		text = text[i+j+1:]
	}
}

// url registers the password (and the whole user info) of a broker URL.
func (c *secretCollector) url(n *node) {
	if n == nil || n.kind != kindString {
		return
	}
	for _, raw := range []string{n.text, func() string { r, _ := c.resolve(n.text); return r }()} {
		_, rest, ok := strings.Cut(raw, "://")
		if !ok {
			continue
		}
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		at := strings.LastIndexByte(rest, '@')
		if at < 0 {
			continue
		}
		info := rest[:at]
		if _, pw, ok := strings.Cut(info, ":"); ok && pw != "" {
			c.values = append(c.values, pw)
		}
	}
}
