package devsign

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Region selects the MQTT endpoint, as iotx_mqtt_region_types_t does.
// The numeric values are the SDK's.
type Region int

// The regions of the SDK, in the SDK's order.
const (
	Shanghai  Region = iota // 0 IOTX_CLOUD_REGION_SHANGHAI, cn-shanghai
	Singapore               // 1 IOTX_CLOUD_REGION_SINGAPORE, ap-southeast-1
	Japan                   // 2 IOTX_CLOUD_REGION_JAPAN, ap-northeast-1
	USWest                  // 3 IOTX_CLOUD_REGION_USA_WEST, us-west-1
	Germany                 // 4 IOTX_CLOUD_REGION_GERMANY, eu-central-1
	Custom                  // 5 IOTX_CLOUD_REGION_CUSTOM: Options.CustomDomain, verbatim
)

// ErrRegion is returned (wrapped) for a region outside 0..5 and for a name
// ParseRegion does not know.
var ErrRegion = errors.New("unknown region")

// String returns the region id used in the host name ("cn-shanghai", ...),
// "custom", or "Region(n)" for an invalid value.
func (r Region) String() string {
	switch r {
	case Shanghai:
		return "cn-shanghai"
	case Singapore:
		return "ap-southeast-1"
	case Japan:
		return "ap-northeast-1"
	case USWest:
		return "us-west-1"
	case Germany:
		return "eu-central-1"
	case Custom:
		return "custom"
	}
	return "Region(" + strconv.Itoa(int(r)) + ")"
}

// Domain returns the SDK's MQTT domain of a built-in region
// ("iot-as-mqtt.cn-shanghai.aliyuncs.com"); the host is "${pk}." + Domain.
// It reports false for Custom and for invalid regions.
func (r Region) Domain() (string, bool) {
	if r < Shanghai || r >= Custom {
		return "", false
	}
	return "iot-as-mqtt." + r.String() + ".aliyuncs.com", true
}

// ParseRegion accepts, case-insensitively and with '_' and '-' treated
// alike: the region id ("cn-shanghai", "ap-southeast-1", "ap-northeast-1",
// "us-west-1", "eu-central-1"), a short name ("shanghai", "singapore",
// "japan"/"tokyo", "us-west"/"usa-west", "germany"/"frankfurt", "custom"),
// the SDK constant name ("IOTX_CLOUD_REGION_USA_WEST") or the number 0..5.
func ParseRegion(s string) (Region, error) {
	name := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
	name = strings.TrimPrefix(name, "iotx-cloud-region-")
	switch name {
	case "0", "cn-shanghai", "shanghai":
		return Shanghai, nil
	case "1", "ap-southeast-1", "singapore":
		return Singapore, nil
	case "2", "ap-northeast-1", "japan", "tokyo":
		return Japan, nil
	case "3", "us-west-1", "us-west", "usa-west", "uswest":
		return USWest, nil
	case "4", "eu-central-1", "germany", "frankfurt":
		return Germany, nil
	case "5", "custom":
		return Custom, nil
	}
	return 0, fmt.Errorf("devsign: parse region %q: %w", s, ErrRegion)
}
