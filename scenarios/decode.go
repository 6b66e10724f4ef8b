package scenarios

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// decoder walks the node tree, builds the Scenario and collects errors.
type decoder struct {
	file  string   // the scenario file name used in errors
	dir   string   // the directory relative paths are resolved against
	lines []string // source lines, for excerpts and placeholder columns
	env   envLookup
	// redact replaces the document's secrets in error messages and the
	// source lines they quote.
	redact *Redactor
	errs   ErrorList
	extra  int // errors dropped beyond maxErrors
	// typoed holds, per mapping, the known keys that an unknown key was
	// suggested as, so that "required" is not reported on top.
	typoed map[*node]map[string]bool
	// countsOK is false when a group's count could not be determined, so
	// that stage targets are not compared with a wrong total.
	countsOK bool
	// pending are the targets: of publish entries, resolved once every
	// group is known.
	pending []pendingTarget
}

// missing reports a required field that is absent from mapping n, unless
// an unknown key of n was already suggested as that field.
func (d *decoder) missing(n *node, path, key, hint, format string, args ...any) {
	if d.typoed[n][key] {
		return
	}
	d.errh(n, join(path, key), hint, format, args...)
}

func (d *decoder) add(e *Error) {
	if len(d.errs) >= maxErrors {
		d.extra++
		return
	}
	if e.File == d.file && e.Line > 0 && e.Line <= len(d.lines) && e.Set == "" {
		e.Source = redactSecretLine(d.redact.Redact(d.lines[e.Line-1]))
	}
	e.Message, e.Hint = d.redact.Redact(e.Message), d.redact.Redact(e.Hint)
	d.errs = append(d.errs, e)
}

// errh reports a problem with the value n of field path.
func (d *decoder) errh(n *node, path, hint, format string, args ...any) {
	e := &Error{File: d.file, Field: path, Message: fmt.Sprintf(format, args...), Hint: hint}
	if n != nil {
		e.Line, e.Col, e.Set, e.Flag = n.line, n.col, n.set, n.flag
	}
	d.add(e)
}

func (d *decoder) errf(n *node, path, format string, args ...any) {
	d.errh(n, path, "", format, args...)
}

// errSeg reports a problem with the placeholder s of template t, the value
// of node n, at the placeholder's position.
func (d *decoder) errSeg(n *node, path string, t *tmpl, s seg, hint, format string, args ...any) {
	e := &Error{File: d.file, Field: path, Line: n.line, Col: n.col, Set: n.set, Flag: n.flag,
		Message: fmt.Sprintf(format, args...), Hint: hint}
	if n.set == "" && s.off < s.end && s.end <= len(t.raw) {
		e.Line, e.Col = d.findInSource(n, t.raw, s.off, t.raw[s.off:s.end])
	}
	d.add(e)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// object checks that n is a mapping of schema s, reporting unknown and
// duplicate keys. It returns false if n is not a mapping.
func (d *decoder) object(n *node, path string, s *schema) bool {
	if n.kind != kindMap {
		d.errf(n, path, "want a mapping (%s), got %s", s.name, describe(n))
		return false
	}
	var first map[string]int // the first entry of each key, for large mappings
	if len(n.entries) > 16 {
		first = make(map[string]int, len(n.entries))
	}
	for i, e := range n.entries {
		at := &node{line: e.line, col: e.col, set: e.val.set, flag: e.val.flag}
		if _, ok := s.lookup(e.key); !ok && !isExtensionKey(s, e.key) {
			hint := "known fields: " + strings.Join(s.keys, ", ")
			if k, ok := closest(e.key, s.keys); ok {
				hint = fmt.Sprintf("did you mean %q?", k)
				if d.typoed == nil {
					d.typoed = map[*node]map[string]bool{}
				}
				if d.typoed[n] == nil {
					d.typoed[n] = map[string]bool{}
				}
				d.typoed[n][k] = true
			}
			d.errh(at, join(path, e.key), hint, "unknown field %q in %s", e.key, s.name)
		}
		if first != nil {
			if k, dup := first[e.key]; dup {
				d.errf(at, join(path, e.key), "duplicate key %q (first set at line %d)", e.key, n.entries[k].line)
			} else {
				first[e.key] = i
			}
			continue
		}
		for _, prev := range n.entries[:i] {
			if prev.key == e.key {
				d.errf(at, join(path, e.key), "duplicate key %q (first set at line %d)", e.key, prev.line)
				break
			}
		}
	}
	return true
}

// list checks that n is a list; nil (absent) is an empty list.
func (d *decoder) list(n *node, path, what string) []*node {
	if n == nil {
		return nil
	}
	if n.kind != kindSeq {
		d.errf(n, path, "want a list of %s, got %s", what, describe(n))
		return nil
	}
	return n.items
}

func quoteHint(n *node) string {
	switch n.kind {
	case kindInt, kindFloat, kindBool:
		return fmt.Sprintf("quote it: %q", n.text)
	}
	return ""
}

// str returns a string value; ok is false when n is absent or wrong.
func (d *decoder) str(n *node, path string) (string, bool) {
	if n == nil {
		return "", false
	}
	if n.kind != kindString {
		d.errh(n, path, quoteHint(n), "want a string, got %s", describe(n))
		return "", false
	}
	return n.text, true
}

// integer returns an integer value; ok is false when n is absent or wrong.
func (d *decoder) integer(n *node, path string) (int64, bool) {
	if n == nil {
		return 0, false
	}
	switch n.kind {
	case kindInt:
		if !n.inRange {
			d.errf(n, path, "%s is out of range", n.text)
			return 0, false
		}
		return n.i, true
	case kindFloat:
		if !math.IsInf(n.f, 0) && !math.IsNaN(n.f) && n.f == math.Trunc(n.f) && math.Abs(n.f) < 1e15 {
			return int64(n.f), true // 1e6
		}
		d.errf(n, path, "want a whole number, got %s", n.text)
	case kindString:
		if _, err := strconv.ParseInt(strings.ReplaceAll(n.text, "_", ""), 0, 64); err == nil {
			d.errh(n, path, "remove the quotes", "want an integer, got %s", describe(n))
		} else {
			d.errf(n, path, "want an integer, got %s", describe(n))
		}
	default:
		d.errf(n, path, "want an integer, got %s", describe(n))
	}
	return 0, false
}

// boolean returns a boolean value; ok is false when n is absent or wrong.
func (d *decoder) boolean(n *node, path string) (bool, bool) {
	if n == nil {
		return false, false
	}
	if n.kind != kindBool {
		hint := ""
		if n.kind == kindString {
			switch strings.ToLower(n.text) {
			case "true", "false", "yes", "no", "on", "off":
				hint = "write true or false without quotes"
			}
		}
		d.errh(n, path, hint, "want true or false, got %s", describe(n))
		return false, false
	}
	return n.b, true
}

// duration returns a non-negative duration; ok is false when n is absent or wrong.
func (d *decoder) duration(n *node, path string) (time.Duration, bool) {
	if n == nil {
		return 0, false
	}
	switch n.kind {
	case kindString:
		v, err := time.ParseDuration(strings.TrimSpace(n.text))
		if err != nil {
			hint := "use a Go duration such as 30s, 10m or 1h30m"
			if fixed, ok := fixDuration(n.text); ok {
				hint = fmt.Sprintf("write %s", fixed)
			} else if strings.HasSuffix(n.text, "d") {
				hint = "days are not a unit; write hours, e.g. 24h"
			}
			d.errh(n, path, hint, "%q is not a duration", n.text)
			return 0, false
		}
		if v < 0 {
			d.errf(n, path, "%s is negative", n.text)
			return 0, false
		}
		return v, true
	case kindInt:
		d.errh(n, path, fmt.Sprintf("add a unit, e.g. %ss", n.text), "want a duration, got %s", describe(n))
	default:
		d.errh(n, path, "use a Go duration such as 30s, 10m or 1h30m", "want a duration, got %s", describe(n))
	}
	return 0, false
}

// fixDuration rewrites durations written in words ("10 min", "2 hours")
// as Go durations, for hints.
func fixDuration(s string) (string, bool) {
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) == 0 || len(fields)%2 != 0 {
		return "", false
	}
	units := map[string]string{
		"ms": "ms", "millisecond": "ms", "milliseconds": "ms",
		"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
		"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
		"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	}
	var b strings.Builder
	for i := 0; i < len(fields); i += 2 {
		u, ok := units[fields[i+1]]
		if !ok {
			return "", false
		}
		b.WriteString(fields[i] + u)
	}
	if _, err := time.ParseDuration(b.String()); err != nil {
		return "", false
	}
	return b.String(), true
}

func (d *decoder) qos(n *node, path string) QoS {
	v, ok := d.integer(n, path)
	if !ok {
		return 0
	}
	if v < 0 || v > 2 {
		d.errf(n, path, "%d is not a QoS (want 0, 1 or 2)", v)
		return 0
	}
	return QoS(v)
}

// template compiles a string with placeholders. ok is false when n is
// absent or has errors.
func (d *decoder) template(n *node, path string, allowed phSet, what string) (tmpl, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return tmpl{}, false
	}
	t, errs := compileTemplate(s, allowed, what, d.env)
	for _, te := range errs {
		e := &Error{File: d.file, Field: path, Line: n.line, Col: n.col, Set: n.set, Flag: n.flag,
			Message: te.msg, Hint: te.hint}
		if n.set == "" {
			e.Line, e.Col = d.findInSource(n, s, te.off, te.text)
		}
		d.add(e)
	}
	return t, len(errs) == 0
}

// findInSource locates the text found at byte offset off of the string
// value s of node n in the source, for a precise column. It falls back to
// the position of the value.
func (d *decoder) findInSource(n *node, s string, off int, text string) (int, int) {
	nth := strings.Count(s[:off], text)
	line, col := n.line, n.col-1
	if n.block {
		line, col = n.line+1, 0
	}
	for l := line; l >= 1 && l <= len(d.lines) && l < line+10000; l++ {
		src := d.lines[l-1]
		from := 0
		if l == line {
			from = min(max(col, 0), len(src))
		}
		for {
			k := strings.Index(src[from:], text)
			if k < 0 {
				break
			}
			if nth == 0 {
				return l, from + k + 1
			}
			nth--
			from += k + len(text)
		}
	}
	return n.line, n.col
}

// filePath resolves a file path against the scenario's directory and checks
// that the file is readable.
func (d *decoder) filePath(n *node, path string) (string, bool) {
	t, ok := d.template(n, path, phEnvOnly, path)
	if !ok {
		return "", false
	}
	p, _ := t.literal()
	if p == "" {
		d.errf(n, path, "empty file name")
		return "", false
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	if _, err := os.Stat(p); err != nil {
		d.add(&Error{File: d.file, Line: n.line, Col: n.col, Set: n.set, Flag: n.flag, Field: path,
			Message: fmt.Sprintf("cannot read %s: %v", p, unwrapPathError(err)), Err: err})
		return "", false
	}
	return p, true
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
