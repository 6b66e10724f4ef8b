package iot

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"/a/b", "/a/b", true},
		{"/a/b", "/a/c", false},
		{"/a/b", "/a/b/c", false},
		{"/a/b/c", "/a/b", false},
		{"/a/+", "/a/b", true},
		{"/a/+", "/a/b/c", false},
		{"/a/+", "/a/", true},
		{"/a/+", "/a", false},
		{"/a/#", "/a", true}, // MQTT 3.1.1: '#' includes the parent level (the SDK differs)
		{"/a/#", "/a/", true},
		{"/a/#", "/a/b/c/d", true},
		{"/a/#", "/b", false},
		{"/a/#", "/ab", false},
		{"#", "/a/b", true},
		{"#", "a", true},
		{"+/+", "/a", true},
		{"/+/+/user/get", "/pk/dn/user/get", true},
		{"/+/+/user/get", "/pk/dn/user/set", false},
		{"/sys/+/+/thing/event/+/post_reply", "/sys/pk/dn/thing/event/property/post_reply", true},
		{"+", "", true},
		{"a", "", false},
		{"#", "$SYS/broker/load", false},
		{"+/broker/load", "$SYS/broker/load", false},
		{"$SYS/#", "$SYS/broker/load", true},
		{"/a//b", "/a//b", true},
		{"/a/+/b", "/a//b", true},
		{"a/b/#", "a/b", true},
		{"a/b/#", "a", false},
	}
	for _, tt := range tests {
		if got := Match(tt.filter, tt.topic); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	long := "/" + strings.Repeat("x", 128)
	tests := []struct {
		rules  TopicRules
		s      string
		filter bool
		ok     bool
	}{
		{SDKTopics, "/pk/dn/user/get", false, true},
		{SDKTopics, "pk/dn/user/get", false, false}, // the SDK wants a leading '/'
		{MQTTTopics, "pk/dn/user/get", false, true},
		{SDKTopics, long, false, false}, // 129 characters
		{SDKTopics, long[:128], false, true},
		{MQTTTopics, long, false, true},
		{SDKTopics, "/a/\x01", false, false},
		{SDKTopics, "/a/é", false, false},
		{MQTTTopics, "/a/é", false, true},
		{MQTTTopics, "/a/\x00", false, false},
		{SDKTopics, "", false, false},
		{SDKTopics, "/a/+", false, false}, // no wildcards in published topics
		{SDKTopics, "/a/#", false, false},
		{SDKTopics, "/a/+", true, true},
		{SDKTopics, "/a/#", true, true},
		{SDKTopics, "/a/b+", true, false},
		{SDKTopics, "/a/+b", true, false},
		{SDKTopics, "/a/#/b", true, false},
		{SDKTopics, "/a/b#", true, false},
		{MQTTTopics, "#", true, true},
		{MQTTTopics, "+/x/#", true, true},
	}
	for _, tt := range tests {
		var err error
		if tt.filter {
			err = ValidateFilter(tt.rules, tt.s)
		} else {
			err = ValidateTopic(tt.rules, tt.s)
		}
		if (err == nil) != tt.ok {
			t.Errorf("validate(rules=%d, %q, filter=%v) = %v, want ok=%v", tt.rules, tt.s, tt.filter, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrTopicFormat) {
			t.Errorf("error %v does not wrap ErrTopicFormat", err)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("/a/#", "/a")
	f.Add("+/+", "/a")
	f.Add("#", "$SYS/x")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidateFilter(MQTTTopics, filter) != nil || ValidateTopic(MQTTTopics, topic) != nil {
			return
		}
		got := Match(filter, topic)
		if filter == topic && !got {
			t.Fatalf("Match(%q, %q) = false for an identical filter", filter, topic)
		}
		if filter == "#" && topic[0] != '$' && !got {
			t.Fatalf("'#' does not match %q", topic)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	cases := []struct{ name, filter, topic string }{
		{"exact", "/a1X2bEnP82z/device-000123/user/get", "/a1X2bEnP82z/device-000123/user/get"},
		{"plus", "/+/+/user/get", "/a1X2bEnP82z/device-000123/user/get"},
		{"hash", "/a1X2bEnP82z/#", "/a1X2bEnP82z/device-000123/user/get"},
		{"miss", "/a1X2bEnP82z/device-000124/user/get", "/a1X2bEnP82z/device-000123/user/get"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(c.filter, c.topic)
			}
		})
	}
}

func TestValidateShared(t *testing.T) {
	for s, ok := range map[string]bool{
		"$share/g//pk/+/user/update": true,
		"$share/g//a/#":              true,
		"$share//a":                  false,
		"$share/g":                   false,
		"$share/g+/a":                false,
		"$share/g//pk/#/x":           false,
	} {
		if err := ValidateFilter(SDKTopics, s); (err == nil) != ok {
			t.Errorf("ValidateFilter(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}
