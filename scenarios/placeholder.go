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
	phStream
	// phTopicLevel is ${topic[N]}: level N of the received topic, in reply
	// topics only (seg.arg holds N).
	phTopicLevel
	// The target placeholders of a publish entry with targets:.
	phTargetIndex
	phTargetProductKey
	phTargetDeviceName
	phTargetClientID
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
	{"stream", phStream},
	{"target.index", phTargetIndex},
	{"target.productKey", phTargetProductKey},
	{"target.deviceName", phTargetDeviceName},
	{"target.clientId", phTargetClientID},
}

// targetNames are the names after "target." in the order they are listed.
var targetNames = []string{"index", "productKey", "deviceName", "clientId"}

// String returns the placeholder as written, e.g. "${index}".
func (p ph) String() string {
	if p == phTopicLevel {
		return "${topic[N]}"
	}
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
	case phIndex, phGlobalIndex, phSeq, phTS, phPublisher, phStream, phTargetIndex:
		return true
	}
	return false
}

// runtime placeholders are left in payload templates for the publisher.
func (p ph) runtime() bool { return p == phSeq || p == phTS || p == phPublisher || p == phStream }

// target placeholders name a device of a publish entry's target group.
func (p ph) target() bool { return p >= phTargetIndex && p <= phTargetClientID }

// phSet is a set of placeholders allowed in a field. ${env:NAME} is allowed
// everywhere.
type phSet uint32

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
	phForBody  = phForTopic | setOf(phSeq, phTS, phPublisher, phStream)
	// phForTargets may be used in the topic of a publish entry with targets:.
	phForTargets = setOf(phTargetIndex, phTargetProductKey, phTargetDeviceName, phTargetClientID)
	// phForReply is for subscribe[].reply.topic: the responder's own
	// values and the levels of the received topic.
	phForReply = phForTopic | setOf(phTopicLevel)
)

func (s phSet) names() string {
	var parts []string
	for _, n := range placeholderNames {
		if s.has(n.ph) {
			parts = append(parts, "${"+n.name+"}")
		}
	}
	if s.has(phTopicLevel) {
		parts = append(parts, "${topic[N]}")
	}
	parts = append(parts, "${env:NAME}")
	return strings.Join(parts, ", ")
}

// seg is a literal or a placeholder with an optional zero-padding width.
// off and end locate a placeholder in the raw text, for error positions.
type seg struct {
	lit      string
	ph       ph
	width    int
	arg      int // the level N of ${topic[N]}
	off, end int
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
			fmt.Fprintf(&b, "\x00%d:%d:%d\x00", s.ph, s.width, s.arg)
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
		if level, isLevel, msg := parseTopicLevel(inner); isLevel {
			switch {
			case msg != "":
				errs = append(errs, tmplError{off: off, text: text, msg: msg,
					hint: "write ${topic[N]} with N counted from 0: level 2 of /pk/dev-1/x is dev-1"})
			case !allowed.has(phTopicLevel):
				errs = append(errs, tmplError{off: off, text: text,
					msg:  fmt.Sprintf("%s is a level of a received topic and can only be used in subscribe[].reply.topic", text),
					hint: "allowed here: " + allowed.names()})
			default:
				flush()
				t.segs = append(t.segs, seg{ph: phTopicLevel, arg: level, off: off, end: off + len(text)})
			}
			continue
		}
		name, format, hasFormat := strings.Cut(inner, ":")
		p, known := lookupPlaceholder(name)
		if !known {
			errs = append(errs, unknownPlaceholder(off, text, name, allowed))
			continue
		}
		if !allowed.has(p) {
			te := tmplError{off: off, text: text}
			switch {
			case p.runtime():
				te.msg = fmt.Sprintf("%s is filled in at publish time and can only be used in payload templates", text)
			case p.target():
				te.msg = fmt.Sprintf("%s can only be used in the topic of a publish entry with targets:", text)
				te.hint = "targets: <group> sends each message to the next device of that group"
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
		t.segs = append(t.segs, seg{ph: p, width: width, off: off, end: off + len(text)})
	}
	flush()
	return t, errs
}

// unknownPlaceholder reports ${name}, suggesting a known one.
func unknownPlaceholder(off int, text, name string, allowed phSet) tmplError {
	te := tmplError{off: off, text: text, msg: fmt.Sprintf("unknown placeholder %s", text)}
	if rest, ok := strings.CutPrefix(name, "target."); ok {
		if c, ok := closest(rest, targetNames); ok {
			te.hint = "did you mean ${target." + c + "}?"
		} else {
			te.hint = "the target placeholders are ${target.index}, ${target.productKey}, ${target.deviceName} and ${target.clientId}"
		}
		return te
	}
	if name == "topic" {
		te.msg = fmt.Sprintf("%s needs a level number", text)
		te.hint = "write ${topic[N]}, e.g. ${topic[2]} for the third level of the received topic"
		return te
	}
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
	return te
}

// parseTopicLevel parses "topic[N]". isLevel reports whether inner has
// that shape at all; msg describes a malformed N.
func parseTopicLevel(inner string) (n int, isLevel bool, msg string) {
	rest, ok := strings.CutPrefix(inner, "topic[")
	if !ok {
		return 0, false, ""
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, true, fmt.Sprintf("bad placeholder ${%s}: missing ']'", inner)
	}
	if num == "" || len(num) > 3 || strings.Trim(num, "0123456789") != "" {
		return 0, true, fmt.Sprintf("bad level %q in ${%s}", num, inner)
	}
	n, _ = strconv.Atoi(num)
	return n, true, ""
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
// ${seq}, ${ts}, ${publisher} and ${stream} placeholders.
type RuntimeFields struct {
	// Seq is the sequence number of the message in its (publisher, topic) stream.
	Seq uint64
	// TS is the intended send time in nanoseconds.
	TS int64
	// Publisher identifies the publishing device (its global index, unless
	// the engine defines another id).
	Publisher uint64
	// Stream is the index of the publish entry in the device's Publishes
	// (the binary stamp's stream id).
	Stream uint64
}

// renderCtx carries what a template needs besides the device: runtime
// fields, the target device of a targeted publication and the received
// topic of a reply. nil means none of them.
type renderCtx struct {
	rt       *RuntimeFields
	tg       *Group // the target group; nil when the template has no target
	ti       int    // the target's index in tg
	received string // the received topic, for ${topic[N]}
	// missing is set when ${topic[N]} names a level the received topic
	// does not have.
	missing bool
}

// appendTmpl renders t for device i of group g. rt may be nil when t has no
// runtime placeholders.
func (g *Group) appendTmpl(dst []byte, t *tmpl, i int, rt *RuntimeFields) []byte {
	if rt == nil {
		return g.appendCtx(dst, t, i, nil)
	}
	x := renderCtx{rt: rt}
	return g.appendCtx(dst, t, i, &x)
}

// appendCtx renders t for device i of group g with the context x (may be nil).
func (g *Group) appendCtx(dst []byte, t *tmpl, i int, x *renderCtx) []byte {
	for _, s := range t.segs {
		dst = g.appendSeg(dst, s, i, x)
	}
	return dst
}

func (g *Group) appendSeg(dst []byte, s seg, i int, x *renderCtx) []byte {
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
		return g.appendCtx(dst, &g.pk, i, nil)
	case phDeviceName:
		if g.creds != nil {
			return append(dst, g.creds.rows[i].dn...)
		}
		return g.appendCtx(dst, &g.dn, i, nil)
	case phClientID:
		return g.appendCtx(dst, &g.cid, i, nil)
	case phTopicLevel:
		if x == nil {
			return dst
		}
		l, ok := topicLevel(x.received, s.arg)
		if !ok {
			x.missing = true
		}
		return append(dst, l...)
	case phTargetIndex, phTargetProductKey, phTargetDeviceName, phTargetClientID:
		if x == nil || x.tg == nil || x.ti < 0 || x.ti >= x.tg.Count {
			return dst
		}
		switch s.ph {
		case phTargetIndex:
			return appendPadded(dst, uint64(x.ti), s.width)
		case phTargetProductKey:
			return x.tg.appendSeg(dst, seg{ph: phProductKey}, x.ti, nil)
		case phTargetDeviceName:
			return x.tg.appendSeg(dst, seg{ph: phDeviceName}, x.ti, nil)
		default:
			return x.tg.appendSeg(dst, seg{ph: phClientID}, x.ti, nil)
		}
	}
	var f RuntimeFields
	if x != nil && x.rt != nil {
		f = *x.rt
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
	case phStream:
		return appendPadded(dst, f.Stream, s.width)
	}
	return dst
}

// topicLevel returns level n (0-based) of topic split on '/'.
func topicLevel(topic string, n int) (string, bool) {
	for k := 0; ; k++ {
		j := strings.IndexByte(topic, '/')
		if k == n {
			if j < 0 {
				return topic, true
			}
			return topic[:j], true
		}
		if j < 0 {
			return "", false
		}
		topic = topic[j+1:]
	}
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
// Target placeholders count as empty and ${topic[N]} (whose value comes
// from a received topic) too: see maxLenTo.
func (g *Group) maxLen(t *tmpl) int { return g.maxLenTo(t, nil) }

// maxLenTo is maxLen for a template whose target placeholders refer to
// the group tg.
func (g *Group) maxLenTo(t *tmpl, tg *Group) int {
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
		case phSeq, phPublisher, phStream:
			n += max(s.width, 20)
		case phTS:
			n += max(s.width, 20) + 1
		case phTargetIndex:
			if tg != nil {
				n += max(s.width, digits(uint64(max(tg.Count-1, 0))))
			}
		case phTargetProductKey:
			if tg != nil {
				n += tg.maxLen(&tmpl{segs: []seg{{ph: phProductKey}}})
			}
		case phTargetDeviceName:
			if tg != nil {
				n += tg.maxLen(&tmpl{segs: []seg{{ph: phDeviceName}}})
			}
		case phTargetClientID:
			if tg != nil {
				n += tg.maxLen(&tg.cid)
			}
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
