package scenarios

import "strings"

// sharePrefix starts a shared subscription: "$share/<group>/<filter>".
const sharePrefix = "$share/"

// SplitShared splits a shared subscription "$share/<group>/<filter>" into
// its share group and the filter that selects the messages. Subscribers
// of the same filter and group share its messages (each message goes to
// one of them); MQTT 5 defines it and MQTT 3.1.1 brokers such as mosquitto
// and mochi accept it too. ok is false, with group "" and inner = filter,
// when filter is not a well-formed shared subscription (a non-empty group
// without '+' or '#', then a non-empty filter).
func SplitShared(filter string) (group, inner string, ok bool) {
	rest, found := strings.CutPrefix(filter, sharePrefix)
	if !found {
		return "", filter, false
	}
	group, inner, found = strings.Cut(rest, "/")
	if !found || group == "" || inner == "" || strings.ContainsAny(group, "+#") {
		return "", filter, false
	}
	return group, inner, true
}

// checkShare validates the share group of a filter's shape (placeholders
// shown as "x") and returns the inner filter. shared is false for filters
// that are not shared subscriptions; msg and hint describe a malformed one.
func checkShare(shape string) (inner string, shared bool, msg, hint string) {
	rest, found := strings.CutPrefix(shape, sharePrefix)
	if !found {
		if shape == "$share" {
			return "", true, "a shared subscription needs a group and a filter",
				"write $share/<group>/<filter>, e.g. $share/consumers//${productKey}/+/user/update"
		}
		return shape, false, "", ""
	}
	group, inner, found := strings.Cut(rest, "/")
	switch {
	case group == "":
		return "", true, "the share group of a shared subscription is empty",
			"write $share/<group>/<filter>; subscribers with the same group share the messages"
	case strings.ContainsAny(group, "+#"):
		return "", true, "the share group of a shared subscription cannot contain '+' or '#'",
			"write $share/<group>/<filter>; the group is a name, not a filter"
	case !found || inner == "":
		return "", true, "the shared subscription has no filter after its group",
			"write $share/<group>/<filter>, e.g. $share/" + group + "//${productKey}/+/user/update"
	}
	return inner, true, "", ""
}
