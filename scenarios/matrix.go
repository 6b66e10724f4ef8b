package scenarios

import "fmt"

// MatrixSets turns one value of a comparison matrix key into --set
// arguments (path=value). The shorthands "qos" (the publish and subscribe
// QoS of every group), "publish.qos" and "subscribe.qos" expand to every
// entry they cover; any other key is taken as a --set path. It returns nil
// when a shorthand covers no entry of this scenario.
func (s *Scenario) MatrixSets(key, value string) []string {
	pub := key == "qos" || key == "publish.qos"
	sub := key == "qos" || key == "subscribe.qos"
	if !pub && !sub {
		return []string{key + "=" + value}
	}
	var sets []string
	for gi, g := range s.Groups {
		if pub {
			for pi := range g.Publish {
				sets = append(sets, fmt.Sprintf("devices[%d].publish[%d].qos=%s", gi, pi, value))
			}
		}
		if sub {
			for si := range g.Subscribe {
				sets = append(sets, fmt.Sprintf("devices[%d].subscribe[%d].qos=%s", gi, si, value))
			}
		}
	}
	return sets
}
