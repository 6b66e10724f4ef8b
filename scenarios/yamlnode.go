package scenarios

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The scenario is read in two steps: goccy/go-yaml parses the text into its
// AST, which is converted here into a small tree of nodes that keep the
// position of every key and value. Anchors, aliases and merge keys are
// resolved during the conversion, and --set overrides edit this tree, so
// that validation always has a position to report.

type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindMap
	kindSeq
	kindString
	kindInt
	kindFloat
	kindBool
)

// String names the kind for messages ("an integer").
func (k nodeKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	case kindString:
		return "a string"
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	default:
		return "a boolean"
	}
}

// node is one value of the document.
type node struct {
	kind nodeKind
	line int
	col  int
	// text is the value of a string, or the source text of other scalars.
	text string
	i    int64 // kindInt; inRange reports whether it fit
	f    float64
	b    bool
	// inRange is false for integers that do not fit in an int64.
	inRange bool
	// block is true for literal (|) and folded (>) scalars, whose text
	// starts on the line after the indicator.
	block   bool
	entries []entry // kindMap, in file order
	items   []*node // kindSeq
	// set is the --set argument that produced this node, if any, and flag
	// the command-line flag it stands for ("" for --set itself).
	set  string
	flag string
}

// entry is one key of a mapping.
type entry struct {
	key  string
	line int
	col  int
	val  *node
}

// get returns the value of key, or nil when the key is absent or null.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i := range n.entries {
		if n.entries[i].key == key {
			if v := n.entries[i].val; v != nil && v.kind != kindNull {
				return v
			}
			return nil
		}
	}
	return nil
}

// Limits that keep hostile documents (alias bombs, deep nesting) cheap.
const (
	maxNodes = 1 << 17
	maxDepth = 64
)

// converter turns a goccy AST into nodes.
type converter struct {
	anchors map[string]*node
	nodes   int
	err     *Error
}

// parseYAML parses one YAML document. It returns a nil node for an empty
// document. Errors carry the position goccy reports.
func parseYAML(file string, data []byte) (n *node, err *Error) {
	defer func() {
		// goccy/go-yaml is a third-party parser fed with user input; turn a
		// crash in it into an error rather than taking the CLI down.
		if r := recover(); r != nil {
			n, err = nil, &Error{File: file, Message: fmt.Sprintf("YAML parser failed: %v", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if perr != nil {
		return nil, syntaxError(file, perr)
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, nil
	}
	if len(docs) > 1 {
		line, col := tokenPos(docs[1].Body)
		return nil, &Error{File: file, Line: line, Col: col,
			Message: "a scenario file holds one YAML document; found a second one",
			Hint:    "remove the '---' separator or split the file"}
	}
	c := &converter{anchors: map[string]*node{}}
	n = c.convert(docs[0].Body, 0)
	if c.err != nil {
		c.err.File = file
		return nil, c.err
	}
	return n, nil
}

// syntaxError converts a goccy error into an *Error with its position.
func syntaxError(file string, err error) *Error {
	e := &Error{File: file, Message: err.Error(), Err: err}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Message = "YAML syntax error: " + ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// tokenPos returns the position of an AST node's token, or 0, 0.
func tokenPos(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	if _, ok := n.(*ast.DocumentNode); ok {
		return 0, 0 // its GetToken dereferences a nil start token
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (c *converter) fail(n ast.Node, format string, args ...any) *node {
	if c.err == nil {
		line, col := tokenPos(n)
		c.err = &Error{Line: line, Col: col, Message: fmt.Sprintf(format, args...)}
	}
	return &node{kind: kindNull}
}

func (c *converter) convert(n ast.Node, depth int) *node {
	if c.err != nil {
		return &node{kind: kindNull}
	}
	c.nodes++
	if c.nodes > maxNodes {
		return c.fail(n, "document too large (more than %d values after expanding aliases)", maxNodes)
	}
	if depth > maxDepth {
		return c.fail(n, "document nested too deeply (more than %d levels)", maxDepth)
	}
	line, col := tokenPos(n)
	out := &node{line: line, col: col, inRange: true}
	switch v := n.(type) {
	case nil:
		out.kind = kindNull
	case *ast.NullNode:
		out.kind = kindNull
	case *ast.StringNode:
		out.kind, out.text = kindString, v.Value
	case *ast.LiteralNode:
		out.kind, out.block = kindString, true
		if v.Value != nil {
			out.text = v.Value.Value
		}
	case *ast.IntegerNode:
		out.kind, out.text = kindInt, v.Token.Value
		switch x := v.Value.(type) {
		case int64:
			out.i = x
		case uint64:
			if x > math.MaxInt64 {
				out.inRange = false
			} else {
				out.i = int64(x)
			}
		default:
			out.inRange = false
		}
	case *ast.FloatNode:
		out.kind, out.text, out.f = kindFloat, v.Token.Value, v.Value
	case *ast.InfinityNode:
		out.kind, out.text, out.f = kindFloat, v.Token.Value, v.Value
	case *ast.NanNode:
		out.kind, out.text, out.f = kindFloat, v.Token.Value, math.NaN()
	case *ast.BoolNode:
		out.kind, out.text, out.b = kindBool, v.Token.Value, v.Value
	case *ast.TagNode:
		return c.convertTag(v, depth)
	case *ast.AnchorNode:
		name := anchorName(v.Name)
		val := c.convert(v.Value, depth+1)
		if v.Value == nil {
			val.line, val.col = line, col
		}
		// Registered after conversion: an alias inside its own anchor is
		// an error, not a cycle.
		c.anchors[name] = val
		return val
	case *ast.AliasNode:
		name := anchorName(v.Value)
		target, ok := c.anchors[name]
		if !ok {
			return c.fail(n, "alias *%s refers to no earlier anchor &%s", name, name)
		}
		return c.copyNode(n, target)
	case *ast.MappingNode:
		return c.convertMapping(n, v.Values, depth)
	case *ast.MappingValueNode:
		return c.convertMapping(n, []*ast.MappingValueNode{v}, depth)
	case *ast.SequenceNode:
		out.kind = kindSeq
		out.items = make([]*node, 0, len(v.Values))
		for _, it := range v.Values {
			item := c.convert(it, depth+1)
			if it == nil {
				item.line, item.col = line, col
			}
			out.items = append(out.items, item)
		}
	case *ast.MergeKeyNode:
		out.kind, out.text = kindString, "<<"
	case *ast.CommentNode, *ast.CommentGroupNode:
		out.kind = kindNull
	default:
		return c.fail(n, "unsupported YAML construct (%s)", n.Type())
	}
	return out
}

func anchorName(n ast.Node) string {
	if n == nil {
		return ""
	}
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	return n.String()
}

// convertTag handles explicit tags. Only the core schema tags are accepted;
// !!str turns a scalar into a string.
func (c *converter) convertTag(v *ast.TagNode, depth int) *node {
	tag := ""
	if v.Start != nil {
		tag = v.Start.Value
	}
	val := c.convert(v.Value, depth+1)
	if v.Value == nil {
		val.line, val.col = tokenPos(v)
	}
	switch tag {
	case "!!str", "tag:yaml.org,2002:str":
		switch val.kind {
		case kindInt, kindFloat, kindBool:
			val.kind = kindString
		case kindNull:
			val.kind, val.text = kindString, ""
		}
		return val
	case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
		return val
	default:
		return c.fail(v, "unsupported YAML tag %s", tag)
	}
}

func (c *converter) convertMapping(n ast.Node, values []*ast.MappingValueNode, depth int) *node {
	line, col := tokenPos(n)
	out := &node{kind: kindMap, line: line, col: col, inRange: true}
	var merges []*node
	for i, mv := range values {
		if mv == nil {
			continue
		}
		kline, kcol := tokenPos(mv.Key)
		if i == 0 && kline != 0 {
			// Point at the first key rather than at its ':'.
			out.line, out.col = kline, kcol
		}
		var key string
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merges = append(merges, c.convert(mv.Value, depth+1))
			continue
		}
		switch k := mv.Key.(type) {
		case *ast.StringNode:
			key = k.Value
		case nil:
			key = ""
		default:
			key = k.String()
		}
		val := c.convert(mv.Value, depth+1)
		if mv.Value == nil || val.line == 0 {
			val.line, val.col = kline, kcol
		}
		out.entries = append(out.entries, entry{key: key, line: kline, col: kcol, val: val})
	}
	// Merge keys: keys written in the mapping win, then earlier merges.
	for _, m := range merges {
		var srcs []*node
		switch m.kind {
		case kindMap:
			srcs = []*node{m}
		case kindSeq:
			srcs = m.items
		}
		for _, src := range srcs {
			if src.kind != kindMap {
				return c.fail(n, "merge key << needs a mapping or a list of mappings")
			}
			for _, e := range src.entries {
				if !out.has(e.key) {
					out.entries = append(out.entries, e)
				}
			}
		}
		if len(srcs) == 0 && m.kind != kindNull {
			return c.fail(n, "merge key << needs a mapping or a list of mappings")
		}
	}
	return out
}

func (n *node) has(key string) bool {
	for i := range n.entries {
		if n.entries[i].key == key {
			return true
		}
	}
	return false
}

// copyNode deep-copies an aliased value so that every use is validated (and
// counted against maxNodes) on its own.
func (c *converter) copyNode(at ast.Node, n *node) *node {
	if c.err != nil {
		return &node{kind: kindNull}
	}
	c.nodes++
	if c.nodes > maxNodes {
		return c.fail(at, "document too large (more than %d values after expanding aliases)", maxNodes)
	}
	out := *n
	if n.entries != nil {
		out.entries = make([]entry, len(n.entries))
		for i, e := range n.entries {
			e.val = c.copyNode(at, e.val)
			out.entries[i] = e
		}
	}
	if n.items != nil {
		out.items = make([]*node, len(n.items))
		for i, it := range n.items {
			out.items[i] = c.copyNode(at, it)
		}
	}
	return &out
}

// describe names a node's kind and value for messages: `an integer (30)`.
func describe(n *node) string {
	switch n.kind {
	case kindString:
		return fmt.Sprintf("a string (%s)", strconv.Quote(truncate(n.text, 40)))
	case kindInt, kindFloat, kindBool:
		return fmt.Sprintf("%s (%s)", n.kind, n.text)
	default:
		return n.kind.String()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
