package scenarios

import "encoding/json"

// findStampKeys finds the top-level members of a JSON payload template
// whose value is exactly one runtime placeholder: "seq": ${seq} or
// "seq": "${seq}". It renders the template for device 0 (runtime fields
// zero), recording where each placeholder's value lies, and matches the
// members' values against those spans. ok is false when seq, ts or
// publisher has no member. The template must render valid JSON.
func (g *Group) findStampKeys(t *tmpl) (k StampKeys, ok bool) {
	type span struct {
		ph   ph
		a, b int
	}
	var buf []byte
	var spans []span
	for _, s := range t.segs {
		a := len(buf)
		buf = g.appendSeg(buf, s, 0, nil, targetDevice{})
		if s.ph != phLit {
			spans = append(spans, span{s.ph, a, len(buf)})
		}
	}
	var seen phSet
	jsonMembers(buf, func(ks, ke, vs, ve int) {
		for _, sp := range spans {
			if sp.a < ke && ks < sp.b || sp.a == sp.b && ks <= sp.a && sp.a <= ke {
				return // the name has a placeholder: not the same for every device
			}
		}
		for _, sp := range spans {
			stamp := sp.ph.info().stamp
			if stamp == nil || seen.has(sp.ph) {
				continue
			}
			exact := vs == sp.a && ve == sp.b
			quoted := vs == sp.a-1 && ve == sp.b+1 && buf[vs] == '"' && buf[ve-1] == '"'
			if !exact && !quoted {
				continue
			}
			var name string
			if json.Unmarshal(buf[ks:ke], &name) != nil {
				return
			}
			seen |= setOf(sp.ph)
			k = stamp(k, name)
			return
		}
	})
	return k, k.Seq != "" && k.TS != "" && k.Publisher != ""
}

// jsonMembers calls fn with the spans of the name (quotes included) and
// the value of each member of the top-level object in b, in order. It
// stops at the first syntax error and reports whether b held an object.
func jsonMembers(b []byte, fn func(ks, ke, vs, ve int)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		ks := i
		if i = skipString(b, i); i < 0 {
			return false
		}
		ke := i
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vs := skipSpace(b, i+1)
		if i = skipValue(b, vs); i < 0 {
			return false
		}
		fn(ks, ke, vs, i)
		i = skipSpace(b, i)
		switch {
		case i >= len(b):
			return false
		case b[i] == '}':
			return true
		case b[i] != ',':
			return false
		}
		i = skipSpace(b, i+1)
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return i
}

// StampKeys returns the distinct key sets of the scenario's JSON payload
// templates that carry a stamp (Payload.StampKeys), in file order: a
// receiver tries each on a JSON payload. The slice is a copy.
func (s *Scenario) StampKeys() []StampKeys {
	return append([]StampKeys(nil), s.stampKeys...)
}
