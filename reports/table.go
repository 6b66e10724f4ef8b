package reports

import (
	"io"
	"strings"
	"unicode/utf8"
)

// align is the alignment of a table column.
type align uint8

const (
	alignLeft align = iota
	alignRight
)

// table is a small text table that renders as aligned plain text or as a
// Markdown table. Cells are plain text; Markdown escaping happens in
// markdown().
type table struct {
	header []string
	align  []align
	rows   [][]string
	// raw marks the cells as Markdown already: markdown() does not
	// escape them.
	raw bool
}

func newTable(header ...string) *table {
	a := make([]align, len(header))
	for i := 1; i < len(a); i++ {
		a[i] = alignRight
	}
	return &table{header: header, align: a}
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) widths(cell func(string) string) []int {
	w := make([]int, len(t.header))
	for i, h := range t.header {
		w[i] = utf8.RuneCountInString(cell(h))
	}
	for _, r := range t.rows {
		for i := 0; i < len(r) && i < len(w); i++ {
			w[i] = max(w[i], utf8.RuneCountInString(cell(r[i])))
		}
	}
	return w
}

func padCell(s string, width int, a align) string {
	n := width - utf8.RuneCountInString(s)
	if n <= 0 {
		return s
	}
	if a == alignRight {
		return strings.Repeat(" ", n) + s
	}
	return s + strings.Repeat(" ", n)
}

// text writes the table with columns separated by two spaces, each line
// prefixed with indent and without trailing spaces.
func (t *table) text(w io.Writer, indent string) error {
	width := t.widths(func(s string) string { return s })
	var b strings.Builder
	line := func(cells []string) {
		var l strings.Builder
		l.WriteString(indent)
		for i := range t.header {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if i > 0 {
				l.WriteString("  ")
			}
			l.WriteString(padCell(c, width[i], t.align[i]))
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// markdown writes the table as a GitHub-flavoured Markdown table with
// padded columns, escaping every cell.
func (t *table) markdown(w io.Writer) error {
	esc := mdEscape
	if t.raw {
		esc = func(s string) string { return s }
	}
	width := t.widths(esc)
	for i := range width {
		width[i] = max(width[i], 3)
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.header {
			c := ""
			if i < len(cells) {
				c = esc(cells[i])
			}
			b.WriteString(" " + padCell(c, width[i], t.align[i]) + " |")
		}
		b.WriteByte('\n')
	}
	line(t.header)
	b.WriteString("|")
	for i := range t.header {
		if t.align[i] == alignRight {
			b.WriteString(" " + strings.Repeat("-", width[i]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", width[i]) + " |")
		}
	}
	b.WriteByte('\n')
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCode writes s as a Markdown code span that is safe in a table cell.
func mdCode(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ", "|", "\\|").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdEscape escapes text for a Markdown table cell or paragraph: Markdown
// punctuation gets a backslash, HTML specials become entities, and line
// breaks become spaces.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
