package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

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

// unbounded reports whether the template uses a placeholder without a
// length bound (a level of a received topic).
func (t *tmpl) unbounded() bool {
	for _, s := range t.segs {
		if s.ph != phLit && s.ph.info().maxLen == nil {
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
		off := i
		i += len(text)
		s, te, ok := compilePlaceholder(raw[off+2:off+2+end], text, allowed, field, env)
		switch {
		case !ok:
			te.off, te.text = off, text
			errs = append(errs, te)
		case s.ph == phLit:
			lit.WriteString(s.lit)
		default:
			flush()
			s.off, s.end = off, off+len(text)
			t.segs = append(t.segs, s)
		}
	}
	flush()
	return t, errs
}

// compilePlaceholder compiles ${inner} (text as written) into a segment:
// a literal for a placeholder resolved at load. ok is false with te's
// message and hint (without position) when it is not valid here.
func compilePlaceholder(inner, text string, allowed phSet, field string, env envLookup) (s seg, te tmplError, ok bool) {
	p, name, arg, hasArg := lookupPlaceholder(inner)
	if p == phLit {
		return s, unknownPlaceholder(0, text, name, allowed), false
	}
	e := p.info()
	if e.arg != nil {
		var msg, hint string
		if s, msg, hint = e.arg(text, arg, env); msg != "" {
			return s, tmplError{msg: msg, hint: hint}, false
		}
	}
	if !allowed.has(p) {
		if e.misplaced != nil {
			te.msg, te.hint = e.misplaced(text, allowed)
		} else {
			te.msg = fmt.Sprintf("%s cannot be used in %s", text, field)
			te.hint = "allowed here: " + allowed.names()
		}
		return s, te, false
	}
	if e.kind == kindLoad {
		return s, te, true
	}
	s.ph = p
	if hasArg && e.arg == nil {
		w, ok := parseWidth(arg)
		switch {
		case !e.numeric:
			return s, tmplError{msg: fmt.Sprintf("%s takes no format; only numeric placeholders can be zero-padded", p)}, false
		case !ok:
			return s, tmplError{msg: fmt.Sprintf("bad format %q in %s", arg, text),
				hint: "write a zero-padded width such as ${index:05}"}, false
		}
		s.width = w
	}
	return s, te, true
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
// fields and the received topic of a reply. nil means none of them.
type renderCtx struct {
	rt       *RuntimeFields
	received string // the received topic, for ${topic[N]}
	// missing is set when ${topic[N]} names a level the received topic
	// does not have.
	missing bool
}

// targetDevice is device i of group g, the target of a targeted
// publication; the zero value is none. It is apart from renderCtx so that
// the groups, which placeholder values are read from through the table's
// functions, do not make the context escape.
type targetDevice struct {
	g *Group
	i int
}

// fields returns the runtime fields of x; zero when there are none.
func (x *renderCtx) fields() RuntimeFields {
	if x == nil || x.rt == nil {
		return RuntimeFields{}
	}
	return *x.rt
}

// appendTmpl renders t for device i of group g. rt may be nil when t has no
// runtime placeholders.
func (g *Group) appendTmpl(dst []byte, t *tmpl, i int, rt *RuntimeFields) []byte {
	if rt == nil {
		return g.appendCtx(dst, t, i, nil, targetDevice{})
	}
	x := renderCtx{rt: rt}
	return g.appendCtx(dst, t, i, &x, targetDevice{})
}

// appendCtx renders t for device i of group g with the context x (may be
// nil) and the target device to.
func (g *Group) appendCtx(dst []byte, t *tmpl, i int, x *renderCtx, to targetDevice) []byte {
	for _, s := range t.segs {
		dst = g.appendSeg(dst, s, i, x, to)
	}
	return dst
}

// appendSeg renders one segment, as its placeholder's kind says.
func (g *Group) appendSeg(dst []byte, s seg, i int, x *renderCtx, to targetDevice) []byte {
	if s.ph == phLit {
		return append(dst, s.lit...)
	}
	e := s.ph.info()
	switch e.kind {
	case kindDevice:
		v := e.value(g, i)
		switch {
		case v.t != nil:
			return g.appendCtx(dst, v.t, i, nil, targetDevice{})
		case v.isNum:
			return appendPadded(dst, v.num, s.width)
		}
		return append(dst, v.str...)
	case kindRuntime:
		v, neg := e.field(x.fields())
		if neg {
			dst = append(dst, '-')
		}
		return appendPadded(dst, v, s.width)
	case kindTarget:
		if to.g == nil || to.i < 0 || to.i >= to.g.Count {
			return dst
		}
		return to.g.appendSeg(dst, seg{ph: e.of, width: s.width}, to.i, nil, targetDevice{})
	case kindReceived:
		if x == nil {
			return dst
		}
		l, ok := topicLevel(x.received, s.arg)
		if !ok {
			x.missing = true
		}
		return append(dst, l...)
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
		if s.ph == phLit {
			n += len(s.lit)
		} else {
			n += g.segMaxLen(s.ph, s.width, tg)
		}
	}
	return n
}

// segMaxLen bounds the rendered length of placeholder p with a width.
func (g *Group) segMaxLen(p ph, width int, tg *Group) int {
	if m := p.info().maxLen; m != nil {
		return m(g, tg, width)
	}
	return 0
}

// perDevice reports whether t renders differently for different devices of
// the group.
func (g *Group) perDevice(t *tmpl) bool {
	for _, s := range t.segs {
		if s.ph == phLit {
			continue
		}
		if f := s.ph.info().perDevice; f != nil && f(g) {
			return true
		}
	}
	return false
}
