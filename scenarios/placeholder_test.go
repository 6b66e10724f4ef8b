package scenarios

import (
	"math"
	"strings"
	"testing"
)

// testGroup is a group for rendering templates outside a scenario.
func testGroup(t testing.TB) *Group {
	t.Helper()
	g := &Group{Name: "grp", First: 5, Count: 1000}
	var errs []tmplError
	g.pk, errs = compileTemplate("a1PK", phForPK, "product_key", testEnv)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g.dn, _ = compileTemplate("d-${index:03}", phForDN, "device_name", testEnv)
	g.cid, _ = compileTemplate("${productKey}.${deviceName}", phForCID, "client_id", testEnv)
	return g
}

func TestTemplates(t *testing.T) {
	g := testGroup(t)
	rt := &RuntimeFields{Seq: 42, TS: -5, Publisher: 9}
	for _, tt := range []struct{ raw, want string }{
		{"plain", "plain"},
		{"", ""},
		{"${index}", "7"},
		{"${index:05}", "00007"},
		{"${index:01}", "7"},
		{"${global_index}/${global_index:4}", ""}, // bad format: error
		{"${global_index:04}", "0012"},
		{"${group}-${productKey}-${deviceName}-${clientId}", "grp-a1PK-d-007-a1PK.d-007"},
		{"${env:FLEET_PK}", "a1FromEnv"},
		{"${env:NOPE:-fallback}", "fallback"},
		{"${env:NOPE:-}", ""},
		{"$${index} and $ and $$", "${index} and $ and $$"},
		{"${seq:08}|${ts}|${publisher}", "00000042|-5|9"},
		{"cost: $5", "cost: $5"},
	} {
		tm, errs := compileTemplate(tt.raw, phForBody, "test", testEnv)
		if tt.want == "" && tt.raw != "" && tt.raw != "${env:NOPE:-}" {
			if len(errs) == 0 {
				t.Errorf("%q: no error", tt.raw)
			}
			continue
		}
		if len(errs) > 0 {
			t.Errorf("%q: %v", tt.raw, errs)
			continue
		}
		if got := string(g.appendTmpl(nil, &tm, 7, rt)); got != tt.want {
			t.Errorf("%q rendered %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, tt := range []struct {
		raw     string
		allowed phSet
		off     int
		msg     string
	}{
		{"a-${nope}", phForBody, 2, "unknown placeholder ${nope}"},
		{"${index", phForBody, 0, "unterminated placeholder"},
		{"x${deviceName}", phForPK, 1, "${deviceName} cannot be used in f"},
		{"${ts}", phForTopic, 0, "only be used in payload templates"},
		{"${group:03}", phForBody, 0, "${group} takes no format"},
		{"${index:0}", phForBody, 0, `bad format "0"`},
		{"${index:021}", phForBody, 0, `bad format "021"`},
		{"${env:1BAD}", phForBody, 0, `bad environment variable name "1BAD"`},
		{"ok ${env:MISSING}", phForBody, 3, "environment variable MISSING is not set"},
	} {
		_, errs := compileTemplate(tt.raw, tt.allowed, "f", testEnv)
		if len(errs) != 1 || errs[0].off != tt.off || !strings.Contains(errs[0].msg, tt.msg) {
			t.Errorf("%q: got %+v, want offset %d and %q", tt.raw, errs, tt.off, tt.msg)
		}
	}
}

func TestMaxLen(t *testing.T) {
	g := testGroup(t)
	tm, _ := compileTemplate("${clientId}/${global_index}/${seq}", phForBody, "f", testEnv)
	// a1PK.d-999 (10) + / + 1004 (4) + / + 20 digits
	if got := g.maxLen(&tm); got != 10+1+4+1+20 {
		t.Errorf("maxLen = %d", got)
	}
}

func FuzzPlaceholders(f *testing.F) {
	for _, s := range []string{
		"dev-${index}", "${index:05}", "/${productKey}/${deviceName}/user/get", "${env:FLEET_PK}",
		"${env:X:-d}", "$${literal}", "${", "${}", "${:}", "${index:}", "${seq}${ts}${publisher:020}",
		`{"a":"${clientId}","b":${seq}}`, "${group}${global_index:3}", "$$${index}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		g := testGroup(t)
		tm, errs := compileTemplate(raw, phForBody, "fuzz", testEnv)
		for _, e := range errs {
			if e.off < 0 || e.off > len(raw) || e.msg == "" {
				t.Fatalf("bad error %+v for %q", e, raw)
			}
		}
		_ = tm.shape()
		_ = tm.canonical()
		maxRT := &RuntimeFields{Seq: math.MaxUint64, TS: math.MinInt64 + 1, Publisher: math.MaxUint64}
		bound := g.maxLen(&tm)
		for _, i := range []int{0, 1, 999} {
			for _, rt := range []*RuntimeFields{nil, maxRT} {
				out := g.appendTmpl(nil, &tm, i, rt)
				if len(out) > bound {
					t.Fatalf("%q rendered %d bytes, above maxLen %d", raw, len(out), bound)
				}
			}
		}
		if len(errs) == 0 && !strings.Contains(raw, "$") {
			if got := string(g.appendTmpl(nil, &tm, 0, nil)); got != raw {
				t.Fatalf("literal %q rendered as %q", raw, got)
			}
		}
	})
}
