package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// placeholder is everything about one ${placeholder}. Parsing, checking,
// rendering, length bounds, error messages and the package documentation
// all read the table placeholders, so adding a placeholder is adding an
// entry to it.
type placeholder struct {
	// name is what is written between "${" and "}" ("index"), or before
	// the argument of a parametrised placeholder ("env", "topic").
	name string
	// open starts the argument of a parametrised placeholder: ":" for
	// ${env:NAME}, "[" for ${topic[N]}; "" for a plain one.
	open string
	// form is how messages and docs write it, when that is not "${name}".
	form string
	// example is a valid use, when "${name}" is not one.
	example string
	// doc describes it in the package documentation ("\n" continues a line).
	doc string
	// kind says when it gets its value.
	kind phKind
	// numeric placeholders take a zero-padding format: ${index:05}.
	numeric bool
	// in is where it may be used.
	in fields
	// of is, for a target placeholder, the device placeholder it renders
	// for the target device.
	of ph
	// arg parses the argument of a parametrised placeholder into its
	// segment (the literal value of a load-time one); text is the
	// placeholder as written. A non-empty msg is an error.
	arg func(text, arg string, env envLookup) (s seg, msg, hint string)
	// bare is the message, after the placeholder as written, for a
	// parametrised placeholder written without its argument (${topic}),
	// and bareHint its hint. A placeholder with a bare message is not
	// offered as a suggestion for other unknown names.
	bare, bareHint string
	// misplaced returns the message and hint of an error where the
	// placeholder is not allowed; nil: "… cannot be used in <field>" and
	// the placeholders allowed there.
	misplaced func(text string, allowed phSet) (msg, hint string)
	// value is, for a device placeholder, its value for device i of g.
	value func(g *Group, i int) phValue
	// field is, for a runtime placeholder, its value in the publisher's
	// fields: the magnitude and whether it is negative.
	field func(f RuntimeFields) (v uint64, neg bool)
	// maxLen bounds the rendered length, zero-padded to width, over the
	// devices of g; tg is the group target placeholders refer to (nil:
	// none). nil means unbounded (a level of a received topic): counted as
	// 0, and templates that use it are not length-checked at load.
	maxLen func(g, tg *Group, width int) int
	// perDevice reports whether the value differs between the devices of
	// g; nil: never.
	perDevice func(g *Group) bool
	// stamp sets, for a runtime placeholder, the member of StampKeys that
	// names the JSON member carrying it.
	stamp func(k StampKeys, member string) StampKeys
}

// phKind says when a placeholder gets its value, and so how it renders
// (see Group.appendSeg).
type phKind uint8

const (
	kindDevice   phKind = iota // per device, when plans are expanded: value
	kindRuntime                // per message, by the publisher (payload templates): field
	kindTarget                 // per message: of, for a device of a publish entry's targets: group
	kindReceived               // per message: level arg of the topic a reply answers
	kindLoad                   // once, when the file is loaded: arg gives the literal value
)

// fields is a set of the kinds of string that may contain placeholders.
type fields uint16

const (
	inProductKey   fields = 1 << iota // product_key
	inDeviceName                      // device_name
	inDeviceSecret                    // device_secret
	inClientID                        // client_id
	inCredentials                     // username and password
	inTopic                           // subscribe and publish topics
	inPayload                         // payload templates
	inTargetTopic                     // the topic of a publish entry with targets:
	inReplyTopic                      // subscribe[].reply.topic
	inSettings                        // other strings: broker.url, user properties, …

	// A field may refer only to values that are computed before it:
	// product key → device name → device secret and client id →
	// username, password, topics → payload templates.
	inAfterClientID   = inCredentials | inTopic | inPayload | inTargetTopic | inReplyTopic
	inAfterDeviceName = inDeviceSecret | inClientID | inAfterClientID
	inAfterProduct    = inDeviceName | inAfterDeviceName
	inDeviceFields    = inProductKey | inAfterProduct
	inAll             = inDeviceFields | inSettings
)

// ph identifies a placeholder: 1 + its position in placeholders; 0 is a
// literal segment.
type ph uint8

// phLit is a literal segment. The other names are those of the entries
// of placeholders that the code refers to, in the table's order
// (TestPlaceholderTable checks them).
const (
	phLit ph = iota
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
	phTargetIndex
	phTargetProductKey
	phTargetDeviceName
	phTargetClientID
	phTopicLevel
)

// targetPrefix starts the names of the target placeholders.
const targetPrefix = "target."

// placeholders is the table, in the order messages list them. Set by
// init: its functions render templates, which reads the table.
var placeholders []placeholder

// Where each placeholder may be used, computed from the table.
var (
	phEnvOnly, phForPK, phForDN, phForDS, phForCID, phForCreds, phForTopic, phForBody phSet
	// phForTargets may be used in the topic of a publish entry with targets:.
	phForTargets phSet
	// phForReply is for subscribe[].reply.topic: the responder's own
	// values and the levels of the received topic.
	phForReply phSet
)

func init() {
	placeholders = []placeholder{
		{name: "index", doc: "0-based index of the device in its group", numeric: true, in: inDeviceFields,
			value:     func(_ *Group, i int) phValue { return phValue{num: uint64(i), isNum: true} },
			maxLen:    func(g, _ *Group, w int) int { return max(w, digits(uint64(max(g.Count-1, 0)))) },
			perDevice: func(*Group) bool { return true }},
		{name: "global_index", doc: "0-based index of the device in the scenario", numeric: true, in: inDeviceFields,
			value:     func(g *Group, i int) phValue { return phValue{num: uint64(g.First + i), isNum: true} },
			maxLen:    func(g, _ *Group, w int) int { return max(w, digits(uint64(max(g.First+g.Count-1, 0)))) },
			perDevice: func(*Group) bool { return true }},
		{name: "group", doc: "the group's name", in: inDeviceFields,
			value:  func(g *Group, _ int) phValue { return phValue{str: g.Name} },
			maxLen: func(g, _ *Group, _ int) int { return len(g.Name) }},
		identityField("productKey", "the device's product key", inAfterProduct,
			func(g *Group) *tmpl { return &g.pk }, func(r *credRow) string { return r.pk },
			func(c *credentials) int { return c.maxPK }),
		identityField("deviceName", "the device's name (default dev-${index})", inAfterDeviceName,
			func(g *Group) *tmpl { return &g.dn }, func(r *credRow) string { return r.dn },
			func(c *credentials) int { return c.maxDN }),
		{name: "clientId", in: inAfterClientID,
			doc:       "the device's MQTT client id (not for auth: alibaba\nunless client_id is set: the signer builds it)",
			value:     func(g *Group, _ int) phValue { return phValue{t: &g.cid} },
			maxLen:    func(g, _ *Group, _ int) int { return g.maxLen(&g.cid) },
			perDevice: func(g *Group) bool { return g.perDevice(&g.cid) }},
		runtimeField("seq", "the message's sequence number in its stream", 0,
			func(f RuntimeFields) (uint64, bool) { return f.Seq, false },
			func(k StampKeys, m string) StampKeys { k.Seq = m; return k }),
		runtimeField("ts", "the intended send time in nanoseconds", 1, // room for a '-'
			func(f RuntimeFields) (uint64, bool) {
				if f.TS < 0 {
					return uint64(-f.TS), true
				}
				return uint64(f.TS), false
			},
			func(k StampKeys, m string) StampKeys { k.TS = m; return k }),
		runtimeField("publisher", "the publishing device's id", 0,
			func(f RuntimeFields) (uint64, bool) { return f.Publisher, false },
			func(k StampKeys, m string) StampKeys { k.Publisher = m; return k }),
		runtimeField("stream", "the index of the publish entry", 0,
			func(f RuntimeFields) (uint64, bool) { return f.Stream, false },
			func(k StampKeys, m string) StampKeys { k.Stream = m; return k }),
		targetField("index", "index", phIndex),
		targetField("productKey", "product key", phProductKey),
		targetField("deviceName", "name", phDeviceName),
		targetField("clientId", "client id", phClientID),
		{name: "topic", open: "[", form: "${topic[N]}", example: "${topic[1]}", kind: kindReceived, in: inReplyTopic,
			doc: "reply topics: level N of the received topic (0-based)",
			arg: parseTopicLevel, bare: "needs a level number",
			bareHint: "write ${topic[N]}, e.g. ${topic[2]} for the third level of the received topic",
			misplaced: func(text string, allowed phSet) (string, string) {
				return text + " is a level of a received topic and can only be used in subscribe[].reply.topic",
					"allowed here: " + allowed.names()
			}},
		{name: "env", open: ":", form: "${env:NAME}", example: "${env:NAME:-default}", kind: kindLoad, in: inAll,
			doc: "an environment variable, resolved at load; a missing\nvariable is an error unless a default is given:\n${env:NAME:-default}",
			arg: func(_, spec string, env envLookup) (seg, string, string) {
				v, msg := resolveEnv(spec, env)
				return seg{lit: v}, msg, ""
			}},
	}
	for k := range placeholders {
		if of := placeholders[k].of; of != phLit {
			placeholders[k].numeric = placeholders[of-1].numeric
		}
	}
	phEnvOnly, phForPK, phForDN = allowedIn(inSettings), allowedIn(inProductKey), allowedIn(inDeviceName)
	phForDS, phForCID, phForCreds = allowedIn(inDeviceSecret), allowedIn(inClientID), allowedIn(inCredentials)
	phForTopic, phForBody = allowedIn(inTopic), allowedIn(inPayload)
	phForTargets, phForReply = allowedIn(inTargetTopic), allowedIn(inReplyTopic)
}

// phValue is the value of a device placeholder: a number (zero-padded to
// the format's width), a string, or a template of the group to render for
// the same device.
type phValue struct {
	num   uint64
	isNum bool
	str   string
	t     *tmpl
}

// identityField is the entry of a device placeholder whose value is the
// column col of the group's credentials file (at most colMax long), or
// without one the group's template t.
func identityField(name, doc string, in fields, t func(*Group) *tmpl, col func(*credRow) string,
	colMax func(*credentials) int) placeholder {
	return placeholder{name: name, doc: doc, in: in,
		value: func(g *Group, i int) phValue {
			if g.creds != nil {
				return phValue{str: col(&g.creds.rows[i])}
			}
			return phValue{t: t(g)}
		},
		maxLen: func(g, _ *Group, _ int) int {
			if g.creds != nil {
				return colMax(g.creds)
			}
			return g.maxLen(t(g))
		},
		perDevice: func(g *Group) bool { return g.creds != nil || g.perDevice(t(g)) }}
}

// runtimeField is the entry of a numeric runtime placeholder whose value
// is field of the publisher's fields; sign is the room a sign takes.
func runtimeField(name, doc string, sign int, field func(RuntimeFields) (uint64, bool),
	stamp func(StampKeys, string) StampKeys) placeholder {
	return placeholder{name: name, doc: "payload templates: " + doc, kind: kindRuntime,
		numeric: true, in: inPayload, field: field, stamp: stamp,
		misplaced: func(text string, _ phSet) (string, string) {
			return text + " is filled in at publish time and can only be used in payload templates", ""
		},
		maxLen: func(_, _ *Group, w int) int { return max(w, 20) + sign }}
}

// targetField is the entry of ${target.<name>}: the device placeholder of
// rendered for the target device (numeric when that one is: see init).
func targetField(name, what string, of ph) placeholder {
	return placeholder{name: targetPrefix + name, of: of, kind: kindTarget, in: inTargetTopic,
		doc: "targeted topics: the target device's " + what,
		misplaced: func(text string, _ phSet) (string, string) {
			return text + " can only be used in the topic of a publish entry with targets:",
				"targets: <group> sends each message to the next device of that group"
		},
		maxLen: func(_, tg *Group, w int) int {
			if tg == nil {
				return 0
			}
			return tg.segMaxLen(of, w, nil)
		}}
}

// info returns the table entry of a placeholder other than phLit.
func (p ph) info() *placeholder { return &placeholders[p-1] }

// String returns the placeholder as written, e.g. "${index}".
func (p ph) String() string {
	if p == phLit || int(p) > len(placeholders) {
		return "literal"
	}
	return p.info().String()
}

// String returns the placeholder as messages write it.
func (e *placeholder) String() string {
	if e.form != "" {
		return e.form
	}
	return "${" + e.name + "}"
}

// target placeholders name a device of a publish entry's target group.
func (p ph) target() bool { return p != phLit && p.info().kind == kindTarget }

// phSet is a set of placeholders allowed in a field.
type phSet uint32

func setOf(ps ...ph) phSet {
	var s phSet
	for _, p := range ps {
		s |= 1 << p
	}
	return s
}

func (s phSet) has(p ph) bool { return s&(1<<p) != 0 }

// allowedIn returns the placeholders that may be used in fields f.
func allowedIn(f fields) phSet {
	var s phSet
	for k := range placeholders {
		if placeholders[k].in&f != 0 {
			s |= setOf(ph(k + 1))
		}
	}
	return s
}

// names lists the placeholders of s as written, in table order.
func (s phSet) names() string {
	var parts []string
	for k := range placeholders {
		if s.has(ph(k + 1)) {
			parts = append(parts, placeholders[k].String())
		}
	}
	return strings.Join(parts, ", ")
}

// lookupPlaceholder finds the placeholder written as ${inner}. name is
// inner up to its first ':'; arg is the format of a plain placeholder or
// the argument of a parametrised one. p is phLit when none matches.
func lookupPlaceholder(inner string) (p ph, name, arg string, hasArg bool) {
	name, arg, hasArg = strings.Cut(inner, ":")
	for k := range placeholders {
		e := &placeholders[k]
		switch {
		case e.open == "" && e.name == name:
			return ph(k + 1), name, arg, hasArg
		case e.open != "" && strings.HasPrefix(inner, e.name) && strings.HasPrefix(inner[len(e.name):], e.open):
			return ph(k + 1), name, inner[len(e.name)+len(e.open):], true
		}
	}
	return phLit, name, "", false
}

// unknownPlaceholder reports ${name}, suggesting a known one.
func unknownPlaceholder(off int, text, name string, allowed phSet) tmplError {
	te := tmplError{off: off, text: text, msg: fmt.Sprintf("unknown placeholder %s", text)}
	var known, targets, targetForms []string
	for k := range placeholders {
		e := &placeholders[k]
		switch {
		case e.bare != "" && name == e.name:
			te.msg, te.hint = text+" "+e.bare, e.bareHint
			return te
		case e.kind == kindTarget:
			targets = append(targets, strings.TrimPrefix(e.name, targetPrefix))
			targetForms = append(targetForms, e.String())
		}
		if e.bare == "" {
			known = append(known, e.name)
		}
	}
	if rest, ok := strings.CutPrefix(name, targetPrefix); ok {
		if c, ok := closest(rest, targets); ok {
			te.hint = "did you mean " + placeholders[indexOf(targetPrefix+c)].String() + "?"
		} else {
			n := len(targetForms) - 1
			te.hint = "the target placeholders are " + strings.Join(targetForms[:n], ", ") + " and " + targetForms[n]
		}
		return te
	}
	if c, ok := closest(name, known); ok {
		te.hint = "did you mean " + placeholders[indexOf(c)].String() + "?"
	} else {
		te.hint = "known placeholders: " + allowed.names()
	}
	return te
}

// indexOf returns the position in placeholders of the entry named name.
func indexOf(name string) int {
	for k := range placeholders {
		if placeholders[k].name == name {
			return k
		}
	}
	return -1
}

// parseTopicLevel parses the N of ${topic[N]}: num is "N]".
func parseTopicLevel(text, num string, _ envLookup) (seg, string, string) {
	const hint = "write ${topic[N]} with N counted from 0: level 2 of /pk/dev-1/x is dev-1"
	num, ok := strings.CutSuffix(num, "]")
	if !ok {
		return seg{}, fmt.Sprintf("bad placeholder %s: missing ']'", text), hint
	}
	if num == "" || len(num) > 3 || strings.Trim(num, "0123456789") != "" {
		return seg{}, fmt.Sprintf("bad level %q in %s", num, text), hint
	}
	n, _ := strconv.Atoi(num)
	return seg{arg: n}, "", ""
}

// resolveEnv resolves "NAME" or "NAME:-default". It returns a message when
// the variable is missing or the name is malformed.
func resolveEnv(spec string, env envLookup) (string, string) {
	name, def, hasDef := strings.Cut(spec, ":-")
	if !validEnvName(name) {
		return "", fmt.Sprintf("bad environment variable name %q in ${env:%s}", name, spec)
	}
	if v, ok := env(name); ok {
		if len(v) > MaxEnvValue {
			return "", fmt.Sprintf("environment variable %s holds %d bytes; the limit is %d KiB", name, len(v), MaxEnvValue>>10)
		}
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
