package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Document is a parsed but not yet validated scenario file. It exists so
// that --set overrides can be applied to the YAML before validation:
//
//	doc, err := scenarios.ReadFile(path)
//	for _, kv := range sets { err = doc.ApplySetArg(kv) }
//	sc, err := doc.Scenario()
type Document struct {
	// Env looks up ${env:NAME}; nil means os.LookupEnv.
	Env func(name string) (string, bool)

	file  string
	dir   string
	lines []string
	root  *node
	// setSecrets are the values given to secret fields by --set or a
	// flag; creds the credentials files read by the last Scenario.
	setSecrets []string
	creds      []*credentials
	// fileSecrets are the secrets of the file as parsed, kept when --set
	// replaces their values.
	fileSecrets []string
}

// Load reads, parses and validates a scenario file. Relative paths inside
// it (credentials files, TLS files) are resolved against its directory.
// Errors are an ErrorList.
func Load(path string) (*Scenario, error) {
	doc, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return doc.Scenario()
}

// Parse parses and validates a scenario held in memory. filename is used in
// errors and to resolve relative paths. Errors are an ErrorList.
func Parse(filename string, data []byte) (*Scenario, error) {
	doc, err := ParseDocument(filename, data)
	if err != nil {
		return nil, err
	}
	return doc.Scenario()
}

// ReadFile reads and parses a scenario file without validating it. The
// file is read through ReadFileLimited: one larger than MaxScenarioSize
// (4 MiB) is an error, and reading stops there.
func ReadFile(path string) (*Document, error) {
	data, err := ReadFileLimited(path, MaxScenarioSize)
	if err != nil {
		var se *SizeError
		if errors.As(err, &se) {
			return nil, ErrorList{{File: path, Message: fmt.Sprintf("the scenario is larger than %s, the limit", fmtSize(se.Limit)), Err: err}}
		}
		return nil, ErrorList{{File: path, Message: fmt.Sprintf("cannot read scenario: %v", unwrapPathError(err)), Err: err}}
	}
	return ParseDocument(path, data)
}

// ParseDocument parses a scenario without validating it. Only YAML syntax
// errors are reported here, as an ErrorList. A leading UTF-8 byte order
// mark is ignored. Before the YAML parser runs, the text is checked
// against the limits that keep hostile documents cheap: MaxScenarioSize,
// 64 levels of nesting (flow and block), at most 131,072 values and 4,096
// aliases; aliases expand to at most 131,072 values in all.
func ParseDocument(filename string, data []byte) (*Document, error) {
	doc := &Document{file: filename, dir: filepath.Dir(filename)}
	if len(data) > MaxScenarioSize {
		return nil, ErrorList{{File: filename, Message: fmt.Sprintf("the scenario is larger than %s, the limit", fmtSize(MaxScenarioSize))}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if perr := prescanYAML(data); perr != nil {
		// Refused before anything is built: only the offending line is
		// copied, for the excerpt.
		perr.File = filename
		perr.Source = redactSecretLine(lineOf(data, perr.Line))
		return nil, ErrorList{perr}
	}
	doc.lines = strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	root, perr := parseYAML(filename, data)
	if perr != nil {
		perr.File = filename
		if perr.Line > 0 && perr.Line <= len(doc.lines) {
			perr.Source = redactSecretLine(doc.lines[perr.Line-1])
		}
		return nil, ErrorList{perr}
	}
	doc.root = root
	doc.fileSecrets = doc.collect().values
	return doc, nil
}

// lineOf returns line n (1-based) of data, at most maxExcerpt*2 bytes of
// it, or "".
func lineOf(data []byte, n int) string {
	for i := 1; i < n && len(data) > 0; i++ {
		k := bytes.IndexByte(data, '\n')
		if k < 0 {
			return ""
		}
		data = data[k+1:]
	}
	if k := bytes.IndexByte(data, '\n'); k >= 0 {
		data = data[:k]
	}
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) > 2*maxExcerpt {
		data = data[:2*maxExcerpt]
	}
	return string(data)
}

// Scenario validates the document and builds the scenario. All problems
// found are returned together as an ErrorList, ordered by position.
func (doc *Document) Scenario() (*Scenario, error) {
	env := doc.Env
	if env == nil {
		env = os.LookupEnv
	}
	red := doc.redactor()
	d := &decoder{file: doc.file, dir: doc.dir, lines: doc.lines, env: env, redact: red}
	s := d.decodeScenario(doc.root)
	doc.creds = doc.creds[:0]
	for _, g := range groupsOf(s) {
		if g.creds != nil {
			doc.creds = append(doc.creds, g.creds)
		}
	}
	if len(d.errs) > 0 {
		sortErrors(d.errs, doc.file)
		if d.extra > 0 {
			d.errs = append(d.errs, &Error{File: doc.file, Message: fmt.Sprintf("%d more errors not shown", d.extra)})
		}
		return nil, d.errs
	}
	s.redact = doc.redactor()
	return s, nil
}

// ApplySetArg applies an override written "path=value", as given to the
// CLI's --set flag.
func (doc *Document) ApplySetArg(arg string) error {
	path, value, ok := strings.Cut(arg, "=")
	if !ok {
		if isSecretKey(arg) {
			return &Error{File: "--set", Set: "***", Message: "the override is not path=value (not shown: it may hold a secret)",
				Hint: "e.g. --set devices[0].count=50"}
		}
		return &Error{File: "--set", Set: arg, Message: fmt.Sprintf("%q is not path=value", arg),
			Hint: "e.g. --set devices[0].count=50"}
	}
	return doc.ApplySet(strings.TrimSpace(path), value)
}

// ApplySet overrides the value at path with value, before validation: the
// value is parsed as YAML (so "50" is a number and "10s" a string), and
// errors in it are reported at the position of the value it replaces,
// marked as coming from --set. Paths look like "duration",
// "devices[0].count", "devices[sensors].publish[1].qos" (a group may be
// named instead of numbered), "devices[*].client" (every element of the
// list; none when the list is empty or absent) or
// "broker.tls.insecure_skip_verify".
//
// The path must name a field of the scenario schema. A field that the file
// leaves out is added, with any missing parent mappings and lists: an
// index names an element of the list, or the next one (its length), which
// appends an element, so "thresholds[0]=…" then "thresholds[1]=…" build
// a list the file lacks. An override that fails changes nothing.
func (doc *Document) ApplySet(path, value string) error {
	return doc.apply(path, value, "")
}

// ApplyFlag applies the override arg ("path=value", as for ApplySetArg)
// on behalf of the command-line flag named by flag, such as
// "--client paho" for "devices[*].client=paho": errors, in the override
// and in the value it sets, name the flag rather than --set.
func (doc *Document) ApplyFlag(flag, arg string) error {
	path, value, ok := strings.Cut(arg, "=")
	if !ok {
		if isSecretKey(arg) {
			return &Error{File: flag, Set: "***", Flag: flag, Message: "the override is not path=value (not shown: it may hold a secret)"}
		}
		return &Error{File: flag, Set: arg, Flag: flag, Message: fmt.Sprintf("%q is not path=value", arg)}
	}
	return doc.apply(strings.TrimSpace(path), value, flag)
}

// apply is ApplySet on behalf of flag ("" for --set).
func (doc *Document) apply(path, value, flag string) error {
	a := &setter{arg: path + "=" + value, flag: flag}
	steps, err := parseSetPath(path)
	secret := setPathIsSecret(path, steps)
	shown := fmt.Sprintf("%q", value)
	if secret {
		// The value of a secret field is registered, and errors show the
		// override as path=***.
		a.arg = path + "=***"
		shown = "***"
		doc.setSecrets = append(doc.setSecrets, value, strings.TrimSpace(value), strings.Trim(strings.TrimSpace(value), `"'`))
	}
	if err != "" {
		return a.fail(path, "e.g. devices[0].publish[0].qos", "bad path: %s", doc.Redact(err))
	}
	src := "--set"
	if flag != "" {
		src = flag
	}
	if e := prescanYAML([]byte(value)); e != nil {
		return a.fail(path, "", "bad value %s: %s", shown, e.Message)
	}
	val, perr := parseYAML(src, []byte(value))
	if perr != nil {
		return a.fail(path, "", "bad value %s: %s", shown, doc.Redact(perr.Message))
	}
	if secret && val != nil {
		c := &secretCollector{doc: &Document{}, env: func(string) (string, bool) { return "", false }}
		c.walk(val, true, "")
		doc.setSecrets = append(doc.setSecrets, c.values...)
	}
	if val == nil {
		val = &node{kind: kindNull}
	}
	a.val = val
	root := &node{kind: kindMap, line: 1, col: 1}
	if doc.root != nil {
		// The override edits a copy, so that one that fails leaves the
		// document as it was (no list or mapping half created).
		root = doc.root.clone()
	}
	if err := a.walk(root, scenarioSchema, nil, steps, ""); err != nil {
		return err
	}
	doc.root = root
	return nil
}

func groupsOf(s *Scenario) []*Group {
	if s == nil {
		return nil
	}
	return s.Groups
}

// setPathIsSecret reports whether an override path names a secret field
// (or what could be a typo of one).
func setPathIsSecret(path string, steps []setStep) bool {
	for _, st := range steps {
		if st.key != "" && isSecretKey(st.key) {
			return true
		}
	}
	return len(steps) == 0 && isSecretKey(path)
}

// setter applies one override.
type setter struct {
	arg  string // path=value
	flag string // the flag it stands for, or ""
	val  *node
}

func (a *setter) fail(field, hint, format string, args ...any) error {
	file := "--set"
	if a.flag != "" {
		file = a.flag
	}
	return &Error{File: file, Field: field, Set: a.arg, Flag: a.flag, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// place puts a copy of the value where old is.
func (a *setter) place(old *node) *node {
	return placeSet(a.val.clone(), old, a.arg, a.flag)
}

// walk applies the override to the steps below cur, a value of schema sch
// (or a list of elem mappings when sch is nil); done is the path walked.
func (a *setter) walk(cur *node, sch, elem *schema, steps []setStep, done string) error {
	for k, st := range steps {
		last := k == len(steps)-1
		if st.key != "" {
			if sch == nil {
				if elem != nil {
					return a.fail(done, fmt.Sprintf("write %s[0].%s or %s[<name>].%s", done, st.key, done, st.key),
						"%s is a list", done)
				}
				if strings.HasSuffix(done, "]") {
					return a.fail(done, "", "%s is a value, not a mapping or list", done)
				}
				return a.fail(done, "", "%s is a list of values", done)
			}
			f, known := sch.lookup(st.key)
			if !known {
				hint := suggest(st.key, sch.keys)
				if hint == "" {
					hint = "known fields: " + strings.Join(sch.keys, ", ")
				}
				return a.fail(join(done, st.key), hint, "no field %q in %s", st.key, sch.name)
			}
			if cur.kind == kindNull {
				cur.kind = kindMap
			}
			if cur.kind != kindMap {
				what := done
				if what == "" {
					what = "the document"
				}
				return a.fail(done, "", "%s is not a mapping in the file", what)
			}
			done = join(done, st.key)
			e := cur.entry(st.key)
			if e == nil {
				// A mapping the override creates is the override's too.
				cur.entries = append(cur.entries, entry{key: st.key, line: cur.line, col: cur.col,
					val: &node{kind: kindNull, line: cur.line, col: cur.col, set: a.arg, flag: a.flag}})
				e = &cur.entries[len(cur.entries)-1]
			}
			if last {
				e.val = a.place(e.val)
				return nil
			}
			// Copy before editing: merge keys share values between mappings.
			e.val = e.val.clone()
			switch {
			case f.obj != nil:
				cur, sch, elem = e.val, f.obj, nil
			case f.list != nil:
				cur, sch, elem = e.val, nil, f.list
			case f.scalarList:
				cur, sch, elem = e.val, nil, nil
			default:
				return a.fail(done, "", "%s is a value, not a mapping or list", done)
			}
			continue
		}
		// An index step.
		name := done + "[" + st.index + "]"
		if st.index == "*" {
			if cur.kind == kindNull {
				return nil // an absent list has no elements
			}
			if cur.kind != kindSeq {
				return a.fail(name, "", "%s is not a list in the file", done)
			}
			for i := range cur.items {
				at := fmt.Sprintf("%s[%d]", done, i)
				if last {
					cur.items[i] = a.place(cur.items[i])
					continue
				}
				cur.items[i] = cur.items[i].clone()
				if err := a.walk(cur.items[i], elem, nil, steps[k+1:], at); err != nil {
					return err
				}
			}
			return nil
		}
		if cur.kind == kindNull {
			// An absent list: the override creates it, as it creates an
			// absent mapping.
			cur.kind = kindSeq
		}
		if cur.kind != kindSeq {
			return a.fail(name, "", "%s is not a list in the file", done)
		}
		i, ok := cur.find(st.index)
		if !ok {
			n, err := strconv.Atoi(st.index)
			if err != nil || n != len(cur.items) {
				return a.fail(name, a.elementsHint(cur, done, err == nil), "no element %s", name)
			}
			// The next index appends an element.
			cur.items = append(cur.items, &node{kind: kindNull, line: cur.line, col: cur.col, set: a.arg, flag: a.flag})
			i = n
		}
		done = fmt.Sprintf("%s[%d]", done, i)
		if last {
			cur.items[i] = a.place(cur.items[i])
			return nil
		}
		cur.items[i] = cur.items[i].clone()
		cur, sch, elem = cur.items[i], elem, nil
	}
	return nil
}

// elementsHint says which elements the list l at path has: how many, and
// their names when they have some; numbered is true when the missing
// index was a number.
func (a *setter) elementsHint(l *node, path string, numbered bool) string {
	var names []string
	for _, it := range l.items {
		if v := it.get("name"); v != nil && v.kind == kindString {
			names = append(names, v.text)
		}
	}
	var b strings.Builder
	switch len(l.items) {
	case 0:
		fmt.Fprintf(&b, "%s has no elements", path)
	case 1:
		fmt.Fprintf(&b, "%s has 1 element, %s[0]", path, path)
	default:
		fmt.Fprintf(&b, "%s has %d elements, %s[0] … %s[%d]", path, len(l.items), path, path, len(l.items)-1)
	}
	if len(names) > 0 {
		const most = 20
		shown := names[:min(len(names), most)]
		fmt.Fprintf(&b, "; by name: %s", strings.Join(shown, ", "))
		if len(names) > most {
			fmt.Fprintf(&b, " and %d more", len(names)-most)
		}
	}
	if numbered {
		fmt.Fprintf(&b, "; a new element takes the next index, %s[%d] (append in order)", path, len(l.items))
	}
	return b.String()
}

func (n *node) entry(key string) *entry {
	for i := range n.entries {
		if n.entries[i].key == key {
			return &n.entries[i]
		}
	}
	return nil
}

// clone deep-copies n.
func (n *node) clone() *node {
	out := *n
	if n.entries != nil {
		out.entries = make([]entry, len(n.entries))
		for i, e := range n.entries {
			e.val = e.val.clone()
			out.entries[i] = e
		}
	}
	if n.items != nil {
		out.items = make([]*node, len(n.items))
		for i, it := range n.items {
			out.items[i] = it.clone()
		}
	}
	return &out
}

// find resolves a list index: a number, or the name of an element
// (devices[sensors]).
func (n *node) find(idx string) (int, bool) {
	if i, err := strconv.Atoi(idx); err == nil {
		return i, i >= 0 && i < len(n.items)
	}
	for i, it := range n.items {
		if v := it.get("name"); v != nil && v.kind == kindString && v.text == idx {
			return i, true
		}
	}
	return 0, false
}

// placeSet gives the override value the position of the value it replaces
// and marks it as coming from --set arg (or from flag, when not "").
func placeSet(v, old *node, arg, flag string) *node {
	var walk func(n *node)
	walk = func(n *node) {
		n.line, n.col, n.set, n.flag = old.line, old.col, arg, flag
		for i := range n.entries {
			n.entries[i].line, n.entries[i].col = old.line, old.col
			walk(n.entries[i].val)
		}
		for _, it := range n.items {
			walk(it)
		}
	}
	walk(v)
	return v
}

// setStep is one step of a --set path: a key or an index.
type setStep struct {
	key   string
	index string
}

// parseSetPath splits "devices[0].publish[1].qos".
func parseSetPath(p string) ([]setStep, string) {
	var steps []setStep
	if p == "" {
		return nil, "empty path"
	}
	i := 0
	for i < len(p) {
		switch {
		case p[i] == '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return nil, "missing ']'"
			}
			if len(steps) == 0 {
				return nil, "a path starts with a field name"
			}
			idx := strings.TrimSpace(p[i+1 : i+j])
			if idx == "" {
				return nil, "empty index []"
			}
			steps = append(steps, setStep{index: idx})
			i += j + 1
		case p[i] == '.':
			if i == 0 || i == len(p)-1 || p[i+1] == '.' || p[i+1] == '[' {
				return nil, fmt.Sprintf("misplaced '.' in %q", p)
			}
			i++
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				if p[j] == ']' {
					return nil, "unexpected ']'"
				}
				j++
			}
			if i > 0 && p[i-1] != '.' {
				return nil, fmt.Sprintf("missing '.' before %q", p[i:j])
			}
			steps = append(steps, setStep{key: p[i:j]})
			i = j
		}
	}
	return steps, ""
}

// secretLine matches a line that sets a secret: device_secret or password,
// in block or flow style, with its value in group 2.
var secretLine = regexp.MustCompile(`((?:^|[\s{,-])(?:device_secret|password)\s*:\s*)([^\s,}#][^,}#]*?)(\s*(?:[,}#].*)?)$`)

// redactSecretLine masks the value of a secret key on one line, by
// position: the fallback for lines whose values are not known (syntax
// errors) and for values too short to be replaced by value. References
// such as ${env:NAME} are kept: they are not secrets.
func redactSecretLine(l string) string {
	return secretLine.ReplaceAllStringFunc(l, func(m string) string {
		sub := secretLine.FindStringSubmatch(m)
		v := strings.Trim(sub[2], `"' `)
		if strings.HasPrefix(v, "${env:") || strings.HasPrefix(v, "${file:") || v == "" || v == "***" {
			return m
		}
		return sub[1] + `"***"` + sub[3]
	})
}

// RedactedSource returns the scenario text as read with every secret
// value (see Secrets) replaced by "***", wherever and however it is
// written: block and folded scalars, quoted keys, anchors, flow mappings.
// References such as ${env:NAME} are kept. It is what results and reports
// show of the scenario.
func (doc *Document) RedactedSource() string {
	r := doc.redactor()
	out := make([]string, len(doc.lines))
	copy(out, doc.lines)
	text := r.Redact(strings.Join(out, "\n"))
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = redactSecretLine(l)
	}
	return strings.Join(lines, "\n")
}
