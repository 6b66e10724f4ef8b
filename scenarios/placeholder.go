package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// ph identifies a ${placeholder}.
type ph uint8

const (
	phLit ph = iota // a literal segment
	phIndex
	phGlobalIndex
	phGroup
	phProductKey
	phDeviceName
	phClientID
	phSeq
	phTS
	phPublisher
)

// placeholderNames maps the names users write to placeholders, in the order
// they are listed in messages. Never modified.
var placeholderNames = []struct {
	name string
	ph   ph
}{
	{"index", phIndex},
	{"global_index", phGlobalIndex},
	{"group", phGroup},
	{"productKey", phProductKey},
	{"deviceName", phDeviceName},
	{"clientId", phClientID},
	{"seq", phSeq},
	{"ts", phTS},
	{"publisher", phPublisher},
}

// String returns the placeholder as written, e.g. "${index}".
func (p ph) String() string {
	for _, n := range placeholderNames {
		if n.ph == p {
			return "${" + n.name + "}"
		}
	}
	return "literal"
}

// numeric placeholders accept a zero-padding format: ${index:05}.
func (p ph) numeric() bool {
	switch p {
	case phIndex, phGlobalIndex, phSeq, phTS, phPublisher:
		return true
	}
	return false
}

// runtime placeholders are left in payload templates for the publisher.
func (p ph) runtime() bool { return p == phSeq || p == phTS || p == phPublisher }

// phSet is a set of placeholders allowed in a field. ${env:NAME} is allowed
// everywhere.
type phSet uint16

func setOf(ps ...ph) phSet {
	var s phSet
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

func (s phSet) has(p ph) bool { return s&(1<<p) != 0 }

// Where each placeholder may be used. A field may refer only to values that
// are computed before it: product key → device name → device secret and
// client id → username, password, topics → payload templates.
var (
	phEnvOnly  = phSet(0)
	phForPK    = setOf(phIndex, phGlobalIndex, phGroup)
	phForDN    = phForPK | setOf(phProductKey)
	phForDS    = phForDN | setOf(phDeviceName)
	phForCID   = phForDN | setOf(phDeviceName)
	phForCreds = phForCID | setOf(phClientID)
	phForTopic = phForCreds
	phForBody  = phForTopic | setOf(phSeq, phTS, phPublisher)
)

func (s phSet) names() string {
	var parts []string
	for _, n := range placeholderNames {
		if s.has(n.ph) {
			parts = append(parts, "${"+n.name+"}")
		}
	}
	parts = append(parts, "${env:NAME}")
	return strings.Join(parts, ", ")
}

// seg is a literal or a placeholder with an optional zero-padding width.
type seg struct {
	lit   string
	ph    ph
	width int
}

// tmpl is a string with placeholders, compiled once at load. Environment
// variables are already substituted into literal segments.
type tmpl struct {
	raw  string
	segs []seg
}

// literal returns the value of a template without placeholders.
func (t *tmpl) literal() (string, bool) {
	switch {
	case len(t.segs) == 0:
		return "", true
	case len(t.segs) == 1 && t.segs[0].ph == phLit:
		return t.segs[0].lit, true
	}
	return "", false
}

// uses reports whether the template contains placeholder p.
func (t *tmpl) uses(p ph) bool {
	for _, s := range t.segs {
		if s.ph == p {
			return true
		}
	}
	return false
}

// literalText concatenates the literal segments (for character checks).
func (t *tmpl) literalText() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteString(s.lit)
	}
	return b.String()
}

// canonical encodes the segments, for comparing templates.
func (t *tmpl) canonical() string {
	var b strings.Builder
	for _, s := range t.segs {
		if s.ph == phLit {
			b.WriteString(s.lit)
		} else {
			fmt.Fprintf(&b, "\x00%d:%d\x00", s.ph, s.width)
		}
	}
	return b.String()
}

// shape returns the template with every placeholder replaced by "x", for
// checks of topic structure: placeholder values never contain '/', '+' or '#'.
func (t *tmpl) shape() string {
	var b strings.Builder
	for _, s := range t.segs {
		if s.ph == phLit {
			b.WriteString(s.lit)
		} else {
			b.WriteByte('x')
		}
	}
	return b.String()
}

// tmplError is a problem in a template; off is the byte offset of the
// offending placeholder in the raw text.
type tmplError struct {
	off  int
	text string // the placeholder as written, e.g. "${idx}"
	msg  string
	hint string
}

// envLookup reports the value of an environment variable.
type envLookup func(name string) (string, bool)

// compileTemplate parses raw. allowed lists the placeholders the field may
// use; field names the field for messages. "$${" is a literal "${".
func compileTemplate(raw string, allowed phSet, field string, env envLookup) (tmpl, []tmplError) {
	t := tmpl{raw: raw}
	var errs []tmplError
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, seg{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(raw); {
		if strings.HasPrefix(raw[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(raw[i:], "${") {
			lit.WriteByte(raw[i])
			i++
			continue
		}
		end := strings.IndexByte(raw[i+2:], '}')
		if end < 0 {
			errs = append(errs, tmplError{off: i, text: truncate(raw[i:], 20),
				msg:  "unterminated placeholder: missing '}'",
				hint: `write "$${" for a literal "${"`})
			break
		}
		text := raw[i : i+2+end+1]
		inner := raw[i+2 : i+2+end]
		off := i
		i += len(text)

		if rest, ok := strings.CutPrefix(inner, "env:"); ok {
			val, e := resolveEnv(rest, env)
			if e != "" {
				errs = append(errs, tmplError{off: off, text: text, msg: e})
				continue
			}
			lit.WriteString(val)
			continue
		}
		name, format, hasFormat := strings.Cut(inner, ":")
		p, known := lookupPlaceholder(name)
		if !known {
			te := tmplError{off: off, text: text, msg: fmt.Sprintf("unknown placeholder %s", text)}
			names := make([]string, 0, len(placeholderNames)+1)
			for _, n := range placeholderNames {
				names = append(names, n.name)
			}
			switch c, ok := closest(name, append(names, "env")); {
			case ok && c == "env":
				te.hint = "did you mean ${env:NAME}?"
			case ok:
				te.hint = "did you mean ${" + c + "}?"
			default:
				te.hint = "known placeholders: " + allowed.names()
			}
			errs = append(errs, te)
			continue
		}
		if !allowed.has(p) {
			te := tmplError{off: off, text: text}
			switch {
			case p.runtime():
				te.msg = fmt.Sprintf("%s is filled in at publish time and can only be used in payload templates", text)
			default:
				te.msg = fmt.Sprintf("%s cannot be used in %s", text, field)
				te.hint = "allowed here: " + allowed.names()
			}
			errs = append(errs, te)
			continue
		}
		width := 0
		if hasFormat {
			w, ok := parseWidth(format)
			switch {
			case !p.numeric():
				errs = append(errs, tmplError{off: off, text: text,
					msg: fmt.Sprintf("%s takes no format; only numeric placeholders can be zero-padded", p)})
				continue
			case !ok:
				errs = append(errs, tmplError{off: off, text: text,
					msg:  fmt.Sprintf("bad format %q in %s", format, text),
					hint: "write a zero-padded width such as ${index:05}"})
				continue
			}
			width = w
		}
		flush()
		t.segs = append(t.segs, seg{ph: p, width: width})
	}
	flush()
	return t, errs
}

func lookupPlaceholder(name string) (ph, bool) {
	for _, n := range placeholderNames {
		if n.name == name {
			return n.ph, true
		}
	}
	return phLit, false
}

// parseWidth parses a zero-padding format "0N" with 1 ≤ N ≤ 20.
func parseWidth(f string) (int, bool) {
	if len(f) < 2 || f[0] != '0' {
		return 0, false
	}
	n, err := strconv.Atoi(f[1:])
	if err != nil || n < 1 || n > 20 || f[1] == '+' || f[1] == '-' {
		return 0, false
	}
	return n, true
}

// resolveEnv resolves "NAME" or "NAME:-default". It returns a message when
// the variable is missing or the name is malformed.
func resolveEnv(spec string, env envLookup) (string, string) {
	name, def, hasDef := strings.Cut(spec, ":-")
	if !validEnvName(name) {
		return "", fmt.Sprintf("bad environment variable name %q in ${env:%s}", name, spec)
	}
	if v, ok := env(name); ok {
		return v, ""
	}
	if hasDef {
		return def, ""
	}
	return "", fmt.Sprintf("environment variable %s is not set (write ${env:%s:-default} to give a default)", name, name)
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// RuntimeFields are the values a publisher fills into a payload template's
// ${seq}, ${ts} and ${publisher} placeholders.
type RuntimeFields struct {
	// Seq is the sequence number of the message in its (publisher, topic) stream.
	Seq uint64
	// TS is the intended send time in nanoseconds.
	TS int64
	// Publisher identifies the publishing device (its global index, unless
	// the engine defines another id).
	Publisher uint64
}

// appendTmpl renders t for device i of group g. rt may be nil when t has no
// runtime placeholders.
func (g *Group) appendTmpl(dst []byte, t *tmpl, i int, rt *RuntimeFields) []byte {
	for _, s := range t.segs {
		dst = g.appendSeg(dst, s, i, rt)
	}
	return dst
}

func (g *Group) appendSeg(dst []byte, s seg, i int, rt *RuntimeFields) []byte {
	switch s.ph {
	case phLit:
		return append(dst, s.lit...)
	case phIndex:
		return appendPadded(dst, uint64(i), s.width)
	case phGlobalIndex:
		return appendPadded(dst, uint64(g.First+i), s.width)
	case phGroup:
		return append(dst, g.Name...)
	case phProductKey:
		if g.creds != nil {
			return append(dst, g.creds.rows[i].pk...)
		}
		return g.appendTmpl(dst, &g.pk, i, rt)
	case phDeviceName:
		if g.creds != nil {
			return append(dst, g.creds.rows[i].dn...)
		}
		return g.appendTmpl(dst, &g.dn, i, rt)
	case phClientID:
		return g.appendTmpl(dst, &g.cid, i, rt)
	}
	var f RuntimeFields
	if rt != nil {
		f = *rt
	}
	switch s.ph {
	case phSeq:
		return appendPadded(dst, f.Seq, s.width)
	case phTS:
		if f.TS < 0 {
			dst = append(dst, '-')
			return appendPadded(dst, uint64(-f.TS), s.width)
		}
		return appendPadded(dst, uint64(f.TS), s.width)
	case phPublisher:
		return appendPadded(dst, f.Publisher, s.width)
	}
	return dst
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	for n := digits(v); n < width; n++ {
		dst = append(dst, '0')
	}
	return strconv.AppendUint(dst, v, 10)
}

func digits(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// maxLen is an upper bound of the rendered length of t over the group.
func (g *Group) maxLen(t *tmpl) int {
	n := 0
	for _, s := range t.segs {
		switch s.ph {
		case phLit:
			n += len(s.lit)
		case phIndex:
			n += max(s.width, digits(uint64(max(g.Count-1, 0))))
		case phGlobalIndex:
			n += max(s.width, digits(uint64(max(g.First+g.Count-1, 0))))
		case phGroup:
			n += len(g.Name)
		case phProductKey:
			if g.creds != nil {
				n += g.creds.maxPK
			} else {
				n += g.maxLen(&g.pk)
			}
		case phDeviceName:
			if g.creds != nil {
				n += g.creds.maxDN
			} else {
				n += g.maxLen(&g.dn)
			}
		case phClientID:
			n += g.maxLen(&g.cid)
		case phSeq, phPublisher:
			n += max(s.width, 20)
		case phTS:
			n += max(s.width, 20) + 1
		}
	}
	return n
}

// perDevice reports whether t renders differently for different devices of
// the group.
func (g *Group) perDevice(t *tmpl) bool {
	for _, s := range t.segs {
		switch s.ph {
		case phIndex, phGlobalIndex:
			return true
		case phProductKey:
			if g.creds != nil || g.perDevice(&g.pk) {
				return true
			}
		case phDeviceName:
			if g.creds != nil || g.perDevice(&g.dn) {
				return true
			}
		case phClientID:
			if g.perDevice(&g.cid) {
				return true
			}
		}
	}
	return false
}
