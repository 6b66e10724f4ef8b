package broker

import (
	"errors"
	"fmt"
	"strings"
)

// Placeholders a grant may contain; they expand to the connected device's
// product key and device name.
const (
	PlaceholderProductKey = "${productKey}"
	PlaceholderDeviceName = "${deviceName}"
)

// The grants every device has, as on the Alibaba Cloud IoT platform: its
// custom topics and its thing-model (/sys) topics. As MQTT filters, "#" also
// covers the parent level itself (/${pk}/${dn}).
const (
	grantOwn = "/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/#"
	grantSys = "/sys/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/#"
)

// errGrant marks an invalid entry in Options.Grants.
var errGrant = errors.New("invalid grant")

// acl is the per-device access list of the devsign mode: the built-in grants
// plus Options.Grants, parsed once into level templates so that checks do
// not allocate.
type acl struct {
	grants []grant
}

type grant []level // one topic-filter template, split at '/'

// level is one level of a grant: a wildcard, or a concatenation of literal
// text and placeholders.
type level struct {
	wildcard byte // '+', '#' or 0
	parts    []part
}

type part struct {
	lit string
	ph  byte // 0 literal, 'p' product key, 'd' device name
}

func newACL(extra []string) (*acl, error) {
	a := &acl{}
	for _, s := range append([]string{grantOwn, grantSys}, extra...) {
		g, err := parseGrant(s)
		if err != nil {
			return nil, err
		}
		a.grants = append(a.grants, g)
	}
	return a, nil
}

// parseGrant validates a topic filter template: MQTT filter rules ('+' and
// '#' make up a whole level, '#' only last), placeholders limited to
// ${productKey} and ${deviceName}.
func parseGrant(s string) (grant, error) {
	if s == "" {
		return nil, fmt.Errorf("grant %q: empty: %w", s, errGrant)
	}
	segs := strings.Split(s, "/")
	g := make(grant, 0, len(segs))
	for i, seg := range segs {
		switch {
		case seg == "#":
			if i != len(segs)-1 {
				return nil, fmt.Errorf("grant %q: '#' must be the last level: %w", s, errGrant)
			}
			g = append(g, level{wildcard: '#'})
			continue
		case seg == "+":
			g = append(g, level{wildcard: '+'})
			continue
		case strings.ContainsAny(seg, "+#"):
			return nil, fmt.Errorf("grant %q: wildcard inside level %q: %w", s, seg, errGrant)
		}
		var l level
		for rest := seg; rest != ""; {
			open := strings.Index(rest, "${")
			if open < 0 {
				l.parts = append(l.parts, part{lit: rest})
				break
			}
			if open > 0 {
				l.parts = append(l.parts, part{lit: rest[:open]})
			}
			rest = rest[open:]
			switch {
			case strings.HasPrefix(rest, PlaceholderProductKey):
				l.parts = append(l.parts, part{ph: 'p'})
				rest = rest[len(PlaceholderProductKey):]
			case strings.HasPrefix(rest, PlaceholderDeviceName):
				l.parts = append(l.parts, part{ph: 'd'})
				rest = rest[len(PlaceholderDeviceName):]
			default:
				return nil, fmt.Errorf("grant %q: unknown placeholder in %q (want %s or %s): %w",
					s, seg, PlaceholderProductKey, PlaceholderDeviceName, errGrant)
			}
		}
		g = append(g, l)
	}
	return g, nil
}

// allows reports whether the device pk/dn may use filter: a topic name for
// a publish, or a subscription filter (possibly with wildcards, possibly a
// shared subscription "$share/<group>/<filter>") for a subscribe. A filter
// is allowed only if every topic it can match is matched by one grant.
func (a *acl) allows(pk, dn, filter string, subscribe bool) bool {
	if subscribe && strings.HasPrefix(filter, "$share/") {
		rest := filter[len("$share/"):]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return false
		}
		filter = rest[i+1:]
	}
	for _, g := range a.grants {
		if g.covers(filter, pk, dn) {
			return true
		}
	}
	return false
}

// covers reports whether every topic matched by filter is matched by g once
// its placeholders are expanded with pk and dn.
func (g grant) covers(filter, pk, dn string) bool {
	// Per MQTT 3.1.1 §4.7.2, a filter starting with a wildcard does not
	// match topics starting with '$'.
	if strings.HasPrefix(filter, "$") && len(g) > 0 && g[0].wildcard != 0 {
		return false
	}
	rest := filter
	for i := 0; ; i++ {
		seg, tail, more := strings.Cut(rest, "/")
		if i >= len(g) {
			return false
		}
		l := g[i]
		switch {
		case l.wildcard == '#':
			return true
		case seg == "#":
			return false // the filter reaches below a level the grant bounds
		case l.wildcard == '+':
			// any single level, '+' included
		case seg == "+":
			return false
		case !l.matches(seg, pk, dn):
			return false
		}
		if !more {
			left := g[i+1:]
			return len(left) == 0 || (len(left) == 1 && left[0].wildcard == '#')
		}
		rest = tail
	}
}

// matches reports whether the literal level seg equals the template.
func (l level) matches(seg, pk, dn string) bool {
	for _, p := range l.parts {
		s := p.lit
		switch p.ph {
		case 'p':
			s = pk
		case 'd':
			s = dn
		}
		if !strings.HasPrefix(seg, s) {
			return false
		}
		seg = seg[len(s):]
	}
	return seg == ""
}
