package iot

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxTopicLen is the SDK's topic length limit (CONFIG_MQTT_TOPIC_MAXLEN).
const MaxTopicLen = 128

// ErrTopicFormat is returned for topics and filters the SDK would reject
// (IOTX_ERR_MQTT_UNEXP_TOPIC_FORMAT / MQTT_TOPIC_FORMAT_ERROR).
var ErrTopicFormat = errors.New("iot: invalid topic")

// TopicRules selects how topics are validated.
type TopicRules int

const (
	// SDKTopics applies the SDK's rules: a leading '/', characters 32..126
	// only, at most MaxTopicLen characters, '+' and '#' whole levels with
	// '#' last, no wildcards in published topics.
	SDKTopics TopicRules = iota
	// MQTTTopics applies only MQTT 3.1.1's rules (any UTF-8 without NUL, up
	// to 65535 bytes, the same wildcard placement), for brokers and
	// platforms other than Alibaba Cloud's.
	MQTTTopics
)

// ValidateTopic checks a topic name for publishing.
func ValidateTopic(rules TopicRules, topic string) error {
	if err := validateCommon(rules, topic); err != nil {
		return err
	}
	if strings.ContainsAny(topic, "+#") {
		return fmt.Errorf("%w %q: wildcards are not allowed in a published topic", ErrTopicFormat, topic)
	}
	return nil
}

// SharedPrefix opens a shared subscription filter: "$share/<group>/<filter>".
const SharedPrefix = "$share/"

// splitShared returns the filter a shared subscription matches topics with
// ("$share/g/a/+" → "a/+"), and whether filter is one.
func splitShared(filter string) (group, inner string, ok bool) {
	rest, ok := strings.CutPrefix(filter, SharedPrefix)
	if !ok {
		return "", filter, false
	}
	group, inner, ok = strings.Cut(rest, "/")
	return group, inner, ok
}

// ValidateFilter checks a topic filter for subscribing. A shared
// subscription ("$share/<group>/<filter>") is checked as its inner filter.
func ValidateFilter(rules TopicRules, filter string) error {
	if strings.HasPrefix(filter, SharedPrefix) {
		group, inner, ok := splitShared(filter)
		if !ok || group == "" || strings.ContainsAny(group, "+#") {
			return fmt.Errorf("%w %q: a shared subscription is $share/<group>/<filter>", ErrTopicFormat, filter)
		}
		filter = inner
	}
	if err := validateCommon(rules, filter); err != nil {
		return err
	}
	for i := 0; i < len(filter); i++ {
		c := filter[i]
		if c != '+' && c != '#' {
			continue
		}
		if i > 0 && filter[i-1] != '/' {
			return fmt.Errorf("%w %q: %q must take up a whole level", ErrTopicFormat, filter, c)
		}
		if i+1 < len(filter) && filter[i+1] != '/' {
			return fmt.Errorf("%w %q: %q must take up a whole level", ErrTopicFormat, filter, c)
		}
		if c == '#' && i != len(filter)-1 {
			return fmt.Errorf("%w %q: '#' must be the last level", ErrTopicFormat, filter)
		}
	}
	return nil
}

func validateCommon(rules TopicRules, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty topic", ErrTopicFormat)
	}
	if rules == MQTTTopics {
		if len(s) > 65535 {
			return fmt.Errorf("%w: %d bytes is longer than MQTT allows (65535)", ErrTopicFormat, len(s))
		}
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%w %q: not valid UTF-8 or contains NUL", ErrTopicFormat, s)
		}
		return nil
	}
	if len(s) > MaxTopicLen {
		return fmt.Errorf("%w %q: %d characters, the SDK allows %d", ErrTopicFormat, s, len(s), MaxTopicLen)
	}
	if s[0] != '/' {
		return fmt.Errorf("%w %q: the SDK requires a leading '/'", ErrTopicFormat, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 {
			return fmt.Errorf("%w %q: character %#x at %d is outside 32..126", ErrTopicFormat, s, s[i], i)
		}
	}
	return nil
}

// Match reports whether topic matches filter under MQTT 3.1.1 rules: '+'
// matches exactly one level, '#' matches the parent level and any number of
// levels below it (so "/a/#" matches "/a" — the SDK does not), and topics
// starting with '$' are not matched by filters starting with a wildcard.
// It does not allocate.
func Match(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	fi, ti := 0, 0
	for {
		// Current level of each: [fi, fe) and [ti, te).
		fe := indexFrom(filter, fi)
		if filter[fi:fe] == "#" {
			return true
		}
		if ti > len(topic) {
			// The topic ran out of levels; only "x/#" may still match "x".
			return false
		}
		te := indexFrom(topic, ti)
		if f := filter[fi:fe]; f != "+" && f != topic[ti:te] {
			return false
		}
		fEnd, tEnd := fe == len(filter), te == len(topic)
		switch {
		case fEnd && tEnd:
			return true
		case fEnd:
			return false
		case tEnd:
			// The filter has more levels; "/#" after the last topic level matches.
			return filter[fe+1:] == "#"
		}
		fi, ti = fe+1, te+1
	}
}

// indexFrom returns the index of the next '/' at or after i, or len(s).
func indexFrom(s string, i int) int {
	if j := strings.IndexByte(s[i:], '/'); j >= 0 {
		return i + j
	}
	return len(s)
}
