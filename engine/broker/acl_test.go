package broker

import (
	"errors"
	"testing"
)

func TestACLAllows(t *testing.T) {
	a, err := newACL([]string{"/broadcast/${productKey}/#", "/shadow/${deviceName}-${productKey}/+", "/public/+/status"})
	if err != nil {
		t.Fatal(err)
	}
	const pk, dn = "a1pk", "dev1"
	tests := []struct {
		filter    string
		subscribe bool
		want      bool
	}{
		// Publish topics.
		{"/a1pk/dev1/user/update", false, true},
		{"/a1pk/dev1", false, true}, // '#' covers its parent level
		{"/sys/a1pk/dev1/thing/event/property/post", false, true},
		{"/a1pk/dev2/user/update", false, false},
		{"/a1pk2/dev1/user/update", false, false},
		{"/sys/a1pk/dev2/thing/event/property/post", false, false},
		{"/broadcast/a1pk/all", false, true},
		{"/broadcast/other/all", false, false},
		{"/shadow/dev1-a1pk/get", false, true},
		{"/shadow/dev1-a1pk/get/more", false, false},
		{"/shadow/dev1-a1pkX/get", false, false},
		{"/public/x/status", false, true},
		{"a1pk/dev1/user/update", false, false}, // no leading '/'
		{"", false, false},
		// Subscription filters.
		{"/a1pk/dev1/user/#", true, true},
		{"/a1pk/dev1/#", true, true},
		{"/a1pk/dev1/+/get", true, true},
		{"/sys/a1pk/dev1/thing/service/+", true, true},
		{"/sys/a1pk/dev1/rrpc/request/+", true, true},
		{"/#", true, false},
		{"#", true, false},
		{"/a1pk/#", true, false},
		{"/a1pk/+/user/get", true, false},
		{"/+/dev1/user/get", true, false},
		{"/broadcast/a1pk/#", true, true},
		{"/broadcast/+/#", true, false},
		{"/shadow/dev1-a1pk/+", true, true},
		{"/shadow/dev1-a1pk/#", true, false}, // '#' reaches below the '+' level
		{"/public/+/status", true, true},
		{"/public/#", true, false},
		{"$share/group/a1pk/dev1/user/get", true, false}, // no leading '/' after the group
		{"$share/group//a1pk/dev1/user/get", true, true},
		{"$share/group//a1pk/dev2/user/get", true, false},
		{"$share/nogroup", true, false},
		{"$SYS/#", true, false},
	}
	for _, tc := range tests {
		if got := a.allows(pk, dn, tc.filter, tc.subscribe); got != tc.want {
			t.Errorf("allows(%q, subscribe=%v) = %v, want %v", tc.filter, tc.subscribe, got, tc.want)
		}
	}
}

func TestACLWildcardGrantAndDollarTopics(t *testing.T) {
	a, err := newACL([]string{"#"})
	if err != nil {
		t.Fatal(err)
	}
	if !a.allows("p", "d", "/any/thing", true) || !a.allows("p", "d", "/#", true) {
		t.Error("grant # should cover every non-$ filter")
	}
	if a.allows("p", "d", "$SYS/broker/uptime", true) {
		t.Error("grant # must not cover $SYS topics")
	}
}

func TestACLPlaceholderIsLiteral(t *testing.T) {
	a, err := newACL(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A device name that looks like a wildcard must not act as one.
	if a.allows("p", "+", "/p/other/x", false) {
		t.Error("device name '+' matched another device's topic")
	}
	if a.allows("p", "+", "/p/+/x", true) {
		t.Error("filter /p/+/x, which covers every device, allowed for device name '+'")
	}
}

func TestParseGrantErrors(t *testing.T) {
	for _, g := range []string{"", "/a/#/b", "/a/b#", "/a+/b", "/${productKey}/${unknown}", "/${pk}/x", "/x/${deviceName"} {
		if _, err := parseGrant(g); !errors.Is(err, errGrant) {
			t.Errorf("parseGrant(%q) = %v, want errGrant", g, err)
		}
	}
	for _, g := range []string{"#", "+", "/", "/a/+/b/#", "/x/${deviceName}.${productKey}/y", "/$literal"} {
		if _, err := parseGrant(g); err != nil {
			t.Errorf("parseGrant(%q): %v", g, err)
		}
	}
}

func BenchmarkACLAllows(b *testing.B) {
	a, err := newACL([]string{"/broadcast/${productKey}/#"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !a.allows("a1X2bEnP82z", "example1", "/broadcast/a1X2bEnP82z/x", false) {
			b.Fatal("denied")
		}
	}
}
