package scenarios

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Position is a place in a scenario file (or in a file it refers to, such as
// a credentials CSV). Line and Col are 1-based; zero means unknown.
type Position struct {
	File string
	Line int
	Col  int
}

// String formats p as "file:line:col", leaving out the parts that are unknown.
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Error is one problem found in a scenario. The CLI prints it as
//
//	quick.yaml:12:9: devices[0].publish[1].qos: 3 is not a QoS (want 0, 1 or 2)
//
// and exits with status 2.
type Error struct {
	// File, Line and Col locate the problem. Line and Col are 1-based; Col
	// is 0 when only the line is known and Line is 0 when only the file is.
	File string
	Line int
	Col  int
	// Field is the path of the offending field, as accepted by
	// Document.ApplySet (for example "devices[0].publish[1].qos"); empty for
	// YAML syntax errors and I/O errors.
	Field string
	// Message says what is wrong.
	Message string
	// Hint says how to fix it (for example `did you mean "count"?`); may be empty.
	Hint string
	// Set is the --set override that supplied the offending value, if any.
	Set string
	// Flag is the command-line flag that Set stands for when the override
	// came from a flag other than --set (e.g. "--client paho" for
	// "devices[*].client=paho"); empty otherwise. See Document.ApplyFlag.
	Flag string
	// Source is the text of the offending line, for excerpts; may be empty.
	Source string
	// Err is the underlying cause (an I/O or parse error), if any.
	Err error
}

// Pos returns the position of the error.
func (e *Error) Pos() Position { return Position{File: e.File, Line: e.Line, Col: e.Col} }

// Error formats the error as "file:line:col: field: message; hint".
func (e *Error) Error() string {
	return escapeControls(e.plain())
}

// maxExcerpt bounds the source text an excerpt shows, in bytes.
const maxExcerpt = 200

// plain is Error without the escaping of control characters.
func (e *Error) plain() string {
	var b strings.Builder
	b.WriteString(e.Pos().String())
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	switch {
	case e.Flag != "":
		b.WriteString(" (from ")
		b.WriteString(e.Flag)
		b.WriteString(")")
	case e.Set != "":
		b.WriteString(" (from --set ")
		b.WriteString(e.Set)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Excerpt returns the offending source line with a caret under the column,
// or "" when the source line is unknown.
func (e *Error) Excerpt() string {
	if e.Source == "" || e.Line == 0 {
		return ""
	}
	// Control characters are escaped (they never reach a terminal raw),
	// and a long line is cut around the column.
	src, col := e.Source, e.Col
	cut := ""
	if len(src) > maxExcerpt {
		from := 0
		if col > maxExcerpt/2 && col <= len(src) {
			from = col - maxExcerpt/2
			for from > 0 && !utf8.RuneStart(src[from]) {
				from--
			}
			col -= from
			cut = "…"
		}
		end := min(len(src), from+maxExcerpt)
		for end < len(src) && !utf8.RuneStart(src[end]) {
			end--
		}
		tail := ""
		if end < len(src) {
			tail = "…"
		}
		src = src[from:end] + tail
	}
	prefix := fmt.Sprintf("%5d | ", e.Line)
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(cut)
	b.WriteString(escapeControls(src))
	if col > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Repeat(" ", len(prefix)-2))
		b.WriteString("| ")
		if cut != "" {
			b.WriteByte(' ')
		}
		// Keep tabs so that the caret lines up in a terminal; escaped
		// characters take the width of their escape.
		for i, r := range src {
			if i >= col-1 {
				break
			}
			switch {
			case r == '\t':
				b.WriteByte('\t')
			case needsEscape(r):
				b.WriteString(strings.Repeat(" ", len(escapeControls(string(r)))))
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString("^")
	}
	return b.String()
}

// ErrorList is every problem found in a scenario, in file order. Load, Parse
// and Document.Scenario return an ErrorList (never an empty one) when the
// scenario is invalid; use errors.As to get it.
type ErrorList []*Error

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Unwrap returns the individual errors, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Errors returns the scenario errors held by err: the elements of an
// ErrorList, a single *Error, or nil if err holds neither.
func Errors(err error) []*Error {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

// maxErrors bounds how many errors one load reports.
const maxErrors = 50

// sortErrors orders errors of the scenario file by position, followed by
// errors in other files (credentials files) in the order they were found.
func sortErrors(l ErrorList, file string) {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if (a.File == file) != (b.File == file) {
			return a.File == file
		}
		if a.File != b.File {
			return false
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// suggest returns a did-you-mean hint for an unknown name, or "".
func suggest(name string, known []string) string {
	if c, ok := closest(name, known); ok {
		return fmt.Sprintf("did you mean %q?", c)
	}
	return ""
}

// closest returns the known name that name is most likely a typo or an
// abbreviation of: the same name in another case or separator style, one
// within a small edit distance, or one that contains name's letters in
// order and starts with the same letter ("idx" for "index").
func closest(name string, known []string) (string, bool) {
	best, bestD := "", -1
	norm := normalizeName(name)
	if norm == "" {
		return "", false
	}
	for _, k := range known {
		if normalizeName(k) == norm {
			return k, true
		}
		d := editDistance(strings.ToLower(name), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	limit := min(max(len(name)/3, 1), 3)
	if bestD >= 0 && bestD <= limit {
		return best, true
	}
	if len(norm) >= 2 {
		for _, k := range known {
			if nk := normalizeName(k); nk[0] == norm[0] && isSubsequence(norm, nk) {
				return k, true
			}
		}
	}
	return "", false
}

// isSubsequence reports whether the bytes of a appear in b in order.
func isSubsequence(a, b string) bool {
	i := 0
	for j := 0; i < len(a) && j < len(b); j++ {
		if a[i] == b[j] {
			i++
		}
	}
	return i == len(a)
}

// normalizeName folds case and drops separators, so that "productKey",
// "ProductKey" and "product_key" compare equal.
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == '_' || r == '-' || r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein with adjacent transpositions), in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Names are short; a long unknown key is not a typo of a known one.
		return len(a) + len(b)
	}
	// Three rows: i-2, i-1 and i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
