package scenarios

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// phAll allows every placeholder.
func phAll() phSet { return allowedIn(inAll) }

// use returns a valid use of the entry, e.g. "${index}".
func (e *placeholder) use() string {
	if e.example != "" {
		return e.example
	}
	return "${" + e.name + "}"
}

// TestPlaceholderTable walks the table: every entry is complete, parses,
// renders within its length bound, is refused where it is not allowed and
// is listed where messages list placeholders. A new placeholder is one
// more entry, and this test checks it.
func TestPlaceholderTable(t *testing.T) {
	named := map[ph]string{phIndex: "index", phGlobalIndex: "global_index", phGroup: "group",
		phProductKey: "productKey", phDeviceName: "deviceName", phClientID: "clientId", phSeq: "seq", phTS: "ts",
		phPublisher: "publisher", phStream: "stream", phTargetIndex: "target.index",
		phTargetProductKey: "target.productKey", phTargetDeviceName: "target.deviceName",
		phTargetClientID: "target.clientId", phTopicLevel: "topic"}
	for p, name := range named {
		if got := p.info().name; got != name {
			t.Errorf("constant %d names %q, want %q: keep the constants in table order", p, got, name)
		}
	}
	if len(placeholders) >= 32 {
		t.Fatalf("%d placeholders do not fit a phSet", len(placeholders))
	}
	g, tg := testGroup(t), testGroup(t)
	tg.Name, tg.Count = "targets", 20
	maxRT := RuntimeFields{Seq: math.MaxUint64, TS: math.MinInt64, Publisher: math.MaxUint64, Stream: math.MaxUint64}
	_, unknown := compileTemplate("${zzzzzzzz}", phAll(), "f", testEnv)
	seen := map[string]bool{}
	for k := range placeholders {
		e := &placeholders[k]
		p := ph(k + 1)
		t.Run(e.name, func(t *testing.T) {
			if seen[e.name] {
				t.Errorf("name %q is used twice", e.name)
			}
			seen[e.name] = true
			if e.open == "" && strings.ContainsAny(e.name, ":[]{}$") {
				t.Errorf("name %q has a character of the placeholder syntax", e.name)
			}
			checkEntryFields(t, e)
			tm, errs := compileTemplate(e.use(), phAll(), "f", testEnv)
			if len(errs) > 0 {
				t.Fatalf("%s: %v", e.use(), errs)
			}
			if e.kind != kindLoad && (len(tm.segs) != 1 || tm.segs[0].ph != p) {
				t.Fatalf("%s compiled to %+v", e.use(), tm.segs)
			}
			checkFormat(t, e, p)
			if e.kind != kindLoad {
				checkBound(t, g, tg, e, p, maxRT)
			}
			if e.in != inAll {
				if _, errs := compileTemplate(e.use(), phEnvOnly, "f", testEnv); len(errs) != 1 ||
					!strings.Contains(errs[0].msg, e.use()) {
					t.Errorf("%s where it is not allowed: %+v", e.use(), errs)
				}
			}
			if len(unknown) != 1 || !strings.Contains(unknown[0].hint, e.String()) {
				t.Errorf("the hint for an unknown placeholder does not list %s: %+v", e, unknown)
			}
		})
	}
}

// checkEntryFields checks that an entry has what its kind needs.
func checkEntryFields(t *testing.T, e *placeholder) {
	t.Helper()
	missing := func(what string, ok bool) {
		if !ok {
			t.Errorf("kind %d needs %s", e.kind, what)
		}
	}
	missing("a doc", e.doc != "")
	missing("where it is allowed", e.in != 0)
	switch e.kind {
	case kindDevice:
		missing("value and maxLen", e.value != nil && e.maxLen != nil)
	case kindRuntime:
		missing("field, maxLen and stamp", e.field != nil && e.maxLen != nil && e.stamp != nil)
	case kindTarget:
		missing("of and maxLen", e.of != phLit && e.of.info().kind == kindDevice && e.maxLen != nil)
	case kindReceived, kindLoad:
		missing("open and arg", e.open != "" && e.arg != nil)
	default:
		t.Errorf("unknown kind %d", e.kind)
	}
}

// checkFormat checks that numeric placeholders take a width and others
// refuse it.
func checkFormat(t *testing.T, e *placeholder, p ph) {
	t.Helper()
	if e.open != "" {
		return
	}
	tm, errs := compileTemplate("${"+e.name+":05}", phAll(), "f", testEnv)
	switch {
	case e.numeric && (len(errs) > 0 || tm.segs[0].width != 5):
		t.Errorf("${%s:05}: %+v %+v", e.name, errs, tm.segs)
	case !e.numeric && (len(errs) != 1 || !strings.Contains(errs[0].msg, p.String()+" takes no format")):
		t.Errorf("${%s:05}: %+v", e.name, errs)
	}
}

// checkBound renders the placeholder for boundary devices, targets and
// runtime fields, with and without a width, and checks that it stays
// within maxLen.
func checkBound(t *testing.T, g, tg *Group, e *placeholder, p ph, maxRT RuntimeFields) {
	t.Helper()
	for _, width := range []int{0, 20} {
		if width > 0 && !e.numeric {
			continue
		}
		tm := tmpl{segs: []seg{{ph: p, width: width, arg: 1}}}
		bound := g.maxLenTo(&tm, tg)
		for _, i := range []int{0, 1, g.Count - 1} {
			for _, ti := range []int{0, tg.Count - 1} {
				for _, rt := range []RuntimeFields{{}, maxRT} {
					x := renderCtx{rt: &rt, received: "/a1PK/dev-1/user/get"}
					out := g.appendCtx(nil, &tm, i, &x, targetDevice{tg, ti})
					if len(out) == 0 {
						t.Errorf("%s rendered empty for device %d", e, i)
					}
					if e.maxLen != nil && len(out) > bound {
						t.Errorf("%s (width %d) rendered %q, above its bound %d", e, width, out, bound)
					}
				}
			}
		}
	}
}

// placeholderDocs renders the table as the package documentation lists it.
func placeholderDocs() string {
	w := 0
	for k := range placeholders {
		w = max(w, len(placeholders[k].String())+2)
	}
	var b strings.Builder
	for k := range placeholders {
		e := &placeholders[k]
		for n, line := range strings.Split(e.doc, "\n") {
			name := ""
			if n == 0 {
				name = e.String()
			}
			fmt.Fprintf(&b, "//\t%-*s%s\n", w, name, line)
		}
	}
	return b.String()
}

// TestPlaceholderDocs checks that the package documentation lists the
// placeholders of the table.
func TestPlaceholderDocs(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := placeholderDocs(); !strings.Contains(string(src), want) {
		t.Errorf("doc.go does not list the placeholders of the table; want\n%s", want)
	}
}
