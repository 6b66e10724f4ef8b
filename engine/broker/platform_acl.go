package broker

import "fmt"

// topicACL decides which topics a device may publish and subscribe to.
type topicACL interface {
	allows(pk, dn, filter string, subscribe bool) bool
}

// The topic categories every device of a product has on the Alibaba Cloud
// IoT Platform (platform: alibaba). Source: the platform's "Topic
// standards" (help doc 30540, "Comparisons between IoT Platform based MQTT
// and standard MQTT"): custom topics /${productKey}/${deviceName}/…
// (user-defined categories live under …/user/), the thing model and RRPC
// under /sys/${productKey}/${deviceName}/…, and the product's broadcast
// topics /broadcast/${productKey}/…, which a device only subscribes to
// (the cloud publishes them through the PubBroadcast API). The ext/ntp,
// ext/error, ota and shadow topics are those the SDK uses (reference
// iotkit-mqtt.md §4).
var (
	platformPubSub = []string{
		"/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/user/#",
		"/sys/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/#",
		"/ext/ntp/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/#",
		"/ext/error/" + PlaceholderProductKey + "/" + PlaceholderDeviceName,
		"/ext/session/" + PlaceholderProductKey + "/" + PlaceholderDeviceName + "/#",
		"/ota/device/+/" + PlaceholderProductKey + "/" + PlaceholderDeviceName,
		"/shadow/+/" + PlaceholderProductKey + "/" + PlaceholderDeviceName,
	}
	platformSubOnly = []string{
		"/broadcast/" + PlaceholderProductKey + "/#",
	}
)

// platformACL is the ACL of platform: alibaba: the product's topic
// categories, with their direction, plus Options.Grants (both directions).
type platformACL struct {
	pubSub, subOnly acl
}

func newPlatformACL(extra []string) (*platformACL, error) {
	p := &platformACL{}
	for _, s := range append(append([]string(nil), platformPubSub...), extra...) {
		g, err := parseGrant(s)
		if err != nil {
			return nil, fmt.Errorf("platform acl: %w", err)
		}
		p.pubSub.grants = append(p.pubSub.grants, g)
	}
	for _, s := range platformSubOnly {
		g, err := parseGrant(s)
		if err != nil {
			return nil, fmt.Errorf("platform acl: %w", err)
		}
		p.subOnly.grants = append(p.subOnly.grants, g)
	}
	return p, nil
}

func (p *platformACL) allows(pk, dn, filter string, subscribe bool) bool {
	if p.pubSub.allows(pk, dn, filter, subscribe) {
		return true
	}
	return subscribe && p.subOnly.allows(pk, dn, filter, subscribe)
}
