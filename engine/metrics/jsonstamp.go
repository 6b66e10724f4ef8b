package metrics

import "strconv"

// JSONStampKeys names the top-level members of a JSON payload template
// that carry the stamp fields (for a template such as
// {"id":"${seq}","ts":${ts},"pub":${publisher}} they are "id", "ts", "pub").
// Stream may be empty (stream 0).
type JSONStampKeys struct {
	Seq, TS, Publisher, Stream string
}

// DecodeJSONStamp reads the stamp fields of a JSON object payload: the
// members named by keys, holding numbers or strings of digits. It scans the
// top level only, without allocating, and returns ErrForeign for anything
// that is not such an object. It never panics.
func DecodeJSONStamp(payload []byte, keys JSONStampKeys) (Stamp, error) {
	var st Stamp
	var found int
	p := jsonScanner{b: payload}
	p.space()
	if !p.eat('{') {
		return Stamp{}, ErrForeign
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return Stamp{}, ErrForeign
		}
		p.space()
		if !p.eat(':') {
			return Stamp{}, ErrForeign
		}
		p.space()
		start := p.i
		if !p.value() {
			return Stamp{}, ErrForeign
		}
		raw := payload[start:p.i]
		if len(raw) > 1 && raw[0] == '"' {
			raw = raw[1 : len(raw)-1]
		}
		switch string(key) { // no allocation: the compiler compares in place
		case keys.Seq:
			v, err := strconv.ParseUint(string(raw), 10, 32)
			if err != nil {
				return Stamp{}, ErrForeign
			}
			st.Seq = uint32(v)
			found |= 1
		case keys.TS:
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return Stamp{}, ErrForeign
			}
			st.Intended = v
			found |= 2
		case keys.Publisher:
			v, err := strconv.ParseUint(string(raw), 10, 32)
			if err != nil {
				return Stamp{}, ErrForeign
			}
			st.Publisher = uint32(v)
			found |= 4
		case keys.Stream:
			if keys.Stream == "" {
				break
			}
			v, err := strconv.ParseUint(string(raw), 10, 8)
			if err != nil {
				return Stamp{}, ErrForeign
			}
			st.Stream = uint8(v)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		p.space()
		if p.eat('}') {
			break
		}
		return Stamp{}, ErrForeign
	}
	if found != 7 {
		return Stamp{}, ErrForeign
	}
	return st, nil
}

// jsonScanner walks JSON text without building values.
type jsonScanner struct {
	b []byte
	i int
}

func (p *jsonScanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string and returns its raw contents (escapes left as is).
func (p *jsonScanner) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		}
		p.i++
	}
	return nil, false
}

// value skips one JSON value of any kind (depth-limited).
func (p *jsonScanner) value() bool {
	if p.i >= len(p.b) {
		return false
	}
	switch p.b[p.i] {
	case '"':
		_, ok := p.str()
		return ok
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, ok := p.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
				if depth > 64 {
					return false
				}
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return true
				}
			}
			p.i++
		}
		return false
	default:
		start := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			p.i++
		}
		return p.i > start
	}
}
