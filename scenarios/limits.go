package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Size limits of the files and values a scenario reads. Every file goes
// through ReadFileLimited, which stops reading at the limit: a scenario
// named /dev/zero costs its limit, not the machine's memory.
const (
	// MaxScenarioSize bounds a scenario file (4 MiB).
	MaxScenarioSize = 4 << 20
	// MaxCredentialsSize bounds a credentials CSV (64 MiB: ten million
	// rows of the Alibaba console's export are about 650 MB, so fleets
	// that large are split over groups and files).
	MaxCredentialsSize = 64 << 20
	// MaxTLSFileSize bounds each of the CA bundle, the client certificate
	// and its key (4 MiB; a full system bundle is about 250 KB).
	MaxTLSFileSize = 4 << 20
	// MaxEnvValue bounds the value of one ${env:NAME} (64 KiB).
	MaxEnvValue = 64 << 10
	// MaxTokenFileSize is the bound callers use for small secret files
	// such as a worker's token file (64 KiB).
	MaxTokenFileSize = 64 << 10
	// maxEntries bounds the entries of one block mapping or list (the
	// parser's cost grows with their square in some positions).
	maxEntries = 4096
	// maxAliases bounds the aliases (*name) of a document, counted before
	// parsing; their expansion is bounded by maxNodes while converting.
	maxAliases = 4096
)

// ReadFileLimited reads the file at path, refusing one larger than limit
// bytes. It reads at most limit+1 bytes, so an endless file (/dev/zero, a
// FIFO) stops at the limit. The error names the file and the limit.
func ReadFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Grow by doubling up to limit+1 bytes: at most about twice the limit
	// is allocated, whatever the file.
	size := int64(64 << 10)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
		size = st.Size() + 1
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, &SizeError{Path: path, Limit: limit}
			}
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit+1-int64(cap(buf)))))
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
	}
	if int64(len(buf)) > limit {
		return nil, &SizeError{Path: path, Limit: limit}
	}
	return buf, nil
}

// SizeError is the error of ReadFileLimited for a file over its limit.
type SizeError struct {
	Path  string
	Limit int64
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is larger than %s, the limit", e.Path, fmtSize(e.Limit))
}

// fmtSize formats a limit in KiB or MiB.
func fmtSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// prescanYAML bounds the nesting depth, the size and the aliases of a
// document before goccy/go-yaml parses it (its parser takes time and
// memory that grow much faster than the input with the depth: 200 KB of
// "[[[[" cost 34 s and 14 GB). It follows the YAML structure closely
// enough to count flow collections ([ {), block indentation levels and
// compact "- - -" entries, skipping quoted scalars, comments and the
// content of block scalars (| and >); it stops at the first excess, so it
// costs no allocation. The depth counted is never less than the depth the
// parser sees. A second, context-free count of brackets (which ignores
// quotes and block scalars) bounds what a mistake of the first could hide.
func prescanYAML(data []byte) *Error {
	s := scanner{data: data}
	if e := s.run(); e != nil {
		return e
	}
	return scanRawBrackets(data)
}

// maxRawDepth bounds the net count of open brackets anywhere in the text,
// quoted or not. Legitimate JSON templates nest a few levels.
const maxRawDepth = 4 * maxDepth

func scanRawBrackets(data []byte) *Error {
	depth, line := 0, 1
	for _, c := range data {
		switch c {
		case '\n':
			line++
		case '[', '{':
			depth++
			if depth > maxRawDepth {
				return &Error{Line: line, Message: fmt.Sprintf("document nested too deeply (more than %d open brackets)", maxRawDepth)}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

type scanner struct {
	data    []byte
	line    int   // current line, 1-based
	indents []int // block indentation stack
	// siblings counts the lines at the indentation of each level of the
	// stack: the entries of one block collection.
	siblings []int
	flow     int // open flow collections
	items    int // values counted (lines with content, entries, commas, collections)
	aliases  int
	quote    byte // the open quote across lines, or 0
	// block is the indentation a line must exceed to belong to the block
	// scalar being read; -1 when none.
	block int
}

func (s *scanner) fail(format string, args ...any) *Error {
	return &Error{Line: s.line, Message: fmt.Sprintf(format, args...)}
}

func (s *scanner) depth() int { return len(s.indents) + s.flow }

func (s *scanner) run() *Error {
	s.block = -1
	data := s.data
	for s.line = 1; len(data) > 0; s.line++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if e := s.scanLine(line); e != nil {
			return e
		}
	}
	return nil
}

func (s *scanner) scanLine(line []byte) *Error {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	rest := line[indent:]
	blank := len(bytes.TrimSpace(rest)) == 0
	if s.block >= 0 {
		if blank || indent > s.block {
			return nil // content of a block scalar
		}
		s.block = -1
	}
	i := 0
	if s.quote == 0 && s.flow == 0 {
		if blank || rest[0] == '#' {
			return nil
		}
		if bytes.HasPrefix(rest, []byte("---")) || bytes.HasPrefix(rest, []byte("...")) || rest[0] == '%' {
			s.indents, s.siblings = s.indents[:0], s.siblings[:0]
			return nil
		}
		// Block structure: pop the levels this line closes, push its own.
		for len(s.indents) > 0 && s.indents[len(s.indents)-1] > indent {
			s.indents = s.indents[:len(s.indents)-1]
		}
		s.siblings = s.siblings[:len(s.indents)]
		if len(s.indents) == 0 || s.indents[len(s.indents)-1] < indent {
			s.indents = append(s.indents, indent)
			s.siblings = append(s.siblings, 0)
		}
		if s.siblings[len(s.siblings)-1]++; s.siblings[len(s.siblings)-1] > maxEntries {
			return s.fail("more than %d entries in one block mapping or list", maxEntries)
		}
		s.items++
		// Compact entries "- - x" and "- key:" open a level each.
		for i < len(rest) && (rest[i] == '-' || rest[i] == '?') && (i+1 == len(rest) || rest[i+1] == ' ') {
			i++
			for i < len(rest) && rest[i] == ' ' {
				i++
			}
			if i < len(rest) {
				s.indents = append(s.indents, indent+i)
				s.siblings = append(s.siblings, 1)
			}
			s.items++
			if s.depth() > maxDepth {
				return s.fail("document nested too deeply (more than %d levels)", maxDepth)
			}
		}
		if s.depth() > maxDepth {
			return s.fail("document nested too deeply (more than %d levels)", maxDepth)
		}
	}
	start := true // at the start of a value: a quote or bracket opens one
	for ; i < len(rest); i++ {
		c := rest[i]
		if s.quote != 0 {
			switch {
			case s.quote == '"' && c == '\\':
				i++
			case c == s.quote:
				if s.quote == '\'' && i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				s.quote = 0
				start = false
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t':
			continue
		case c == '#' && (i == 0 || rest[i-1] == ' ' || rest[i-1] == '\t'):
			return nil
		case (c == '"' || c == '\'') && start:
			s.quote = c
			continue
		case c == '*' && start:
			s.aliases++
			if s.aliases > maxAliases {
				return s.fail("document uses more than %d aliases", maxAliases)
			}
		case (c == '[' || c == '{') && (start || s.flow > 0):
			s.flow++
			s.items++
			if s.depth() > maxDepth {
				return s.fail("document nested too deeply (more than %d levels)", maxDepth)
			}
			start = true
			continue
		case (c == ']' || c == '}') && s.flow > 0:
			s.flow--
			start = false
			continue
		case c == ',' && s.flow > 0:
			s.items++
			start = true
			continue
		case c == ':' && (i+1 == len(rest) || rest[i+1] == ' ' || s.flow > 0):
			start = true
			continue
		case (c == '|' || c == '>') && start && s.flow == 0:
			if isBlockHeader(rest[i:]) {
				// The content is what is indented more than the
				// innermost node of this line.
				s.block = indent
				if n := len(s.indents); n > 0 {
					s.block = s.indents[n-1]
				}
				return s.count()
			}
		case (c == '&' || c == '!') && start:
			// An anchor or tag precedes the value: skip its name.
			for i+1 < len(rest) && rest[i+1] != ' ' && rest[i+1] != ',' && rest[i+1] != '[' && rest[i+1] != '{' && rest[i+1] != ']' && rest[i+1] != '}' {
				i++
			}
			continue
		}
		start = false
	}
	return s.count()
}

func (s *scanner) count() *Error {
	if s.items > maxNodes {
		return s.fail("document too large (more than %d values)", maxNodes)
	}
	return nil
}

// isBlockHeader reports whether b starts with a block scalar header:
// | or >, indicators, then a comment or the end of the line.
func isBlockHeader(b []byte) bool {
	i := 1
	for i < len(b) && (b[i] == '+' || b[i] == '-' || b[i] >= '1' && b[i] <= '9') {
		i++
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i == len(b) || b[i] == '#' && (b[i-1] == ' ' || b[i-1] == '\t')
}

// escapeControls makes user text safe for a terminal: control characters
// (but tab), DEL, C1 controls, bidi overrides and invalid UTF-8 are written
// as Go escapes (\x1b, \u202e).
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if needsEscape(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == utf8.RuneError:
		return true
	}
	return false
}

// EscapeControls returns s with control characters (but tab), DEL, C1
// controls, bidi overrides and invalid UTF-8 written as Go escapes, for
// printing user input to a terminal. Error and Excerpt already use it.
func EscapeControls(s string) string { return escapeControls(s) }
