package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of the counts, durations, rates and sizes of a scenario. They are
// set well past what a demanding run needs and low enough that what a run
// keeps per device, per tick and per cycle stays cheap; validation refuses
// a value beyond them with the bound in the message. Bounds returns them
// as a table (with the bounds checked while decoding, such as
// MaxGroupDevices and MaxKeepAlive), which the README's limits table
// repeats.
const (
	// MaxDuration bounds the run's duration, the total of its stages and
	// every other offset or period of the schedule (720h, 30 days): a
	// longer soak is a series of runs, and a result covers one run.
	MaxDuration = 720 * time.Hour
	// MaxDrain bounds the drain after the last publish (1h): in-flight
	// messages arrive within seconds, or are lost.
	MaxDrain = time.Hour
	// MaxDevices bounds the devices of the whole scenario, across groups
	// (10,000,000, as a group): what a fleet of nodes can hold in memory
	// (a device costs tens of KiB) and what reports count comfortably.
	MaxDevices = 10_000_000
	// MaxGroups bounds the device groups (128): the ramp shares the
	// fleet's target among the groups on every spawn tick (10 ms) at a
	// cost that grows with the square of their number (Split: ~0.8 ms for
	// 128 groups, ~40 ms for 1,000).
	MaxGroups = 128
	// MaxPublishes bounds the publish entries of a group (64): every
	// device plan holds one Publication per entry.
	MaxPublishes = 64
	// MaxSubscriptions bounds the subscribe entries of a group (64):
	// every device plan holds each filter, and the SUBSCRIBE packets grow
	// with them.
	MaxSubscriptions = 64
	// MaxUserProperties bounds the MQTT 5 user properties of a group
	// (64): they are sent with every PUBLISH.
	MaxUserProperties = 64
	// MaxStages bounds the stages (1,000): the ramp's target is computed
	// from them on every spawn tick.
	MaxStages = 1000
	// MaxFaults bounds the fault windows (100): each arms two timers, and
	// the result's description of a fault counts its devices over the
	// whole fleet.
	MaxFaults = 100
	// MaxChurnEntries bounds the churn entries (100): each keeps one timer.
	MaxChurnEntries = 100
	// MaxThresholds bounds the thresholds (256), MaxThresholdLength the
	// length of one (1,024 bytes): reports evaluate and print each.
	MaxThresholds      = 256
	MaxThresholdLength = 1024
	// MaxSourceAddresses bounds the source addresses after ranges are
	// expanded (4,096): each gives ~28k ephemeral ports, far more than
	// MaxDevices connections in all.
	MaxSourceAddresses = 4096
	// MaxConnectRate bounds a group's connect rate (1,000,000/s): the
	// spawn tick starts up to a tick's worth of devices at once.
	MaxConnectRate = 1_000_000
	// MinConnectTimeout and MaxConnectTimeout bound a connect attempt
	// (10ms … 10m): below, no TCP and MQTT handshake completes; above, a
	// dead broker holds a device for most of a short run.
	MinConnectTimeout = 10 * time.Millisecond
	MaxConnectTimeout = 10 * time.Minute
	// MinYield and MaxYield bound a group's yield period (1ms … 1m): a
	// shorter loop spins, a longer one misses keepalive pings and
	// acknowledgements.
	MinYield = time.Millisecond
	MaxYield = time.Minute
	// MaxFleetPublishRate bounds the messages per second of the whole
	// fleet (1,000,000/s, summed over every device's publish entries and
	// over the nodes of a distributed run): far beyond what one broker
	// under test absorbs, and what the metrics record without loss.
	MaxFleetPublishRate = 1_000_000
	// MaxPublishCount bounds a publish entry's count per device
	// (1,000,000,000: 11.6 days at the fastest rate, 1000/s).
	MaxPublishCount = 1_000_000_000
	// MaxFaultLatency bounds a fault's added latency (10m; jitter is at
	// most the latency): longer is an outage, written as stall or cut.
	MaxFaultLatency = 10 * time.Minute
	// MinChurnEvery bounds a churn period from below (10ms): a cycle
	// disconnects and reconnects devices, which takes milliseconds; the
	// cycles are armed one at a time, so there is no other cost.
	MinChurnEvery = 10 * time.Millisecond
)

// Bound is one documented limit of a scenario value.
type Bound struct {
	// Field is the field, as errors name it, with [] for any element:
	// "devices[].publish[].rate".
	Field string
	// Limit is the accepted range, as the README's limits table shows it.
	Limit string
	// Reason says why the limit is where it is.
	Reason string
}

// Bounds returns every limit of the scenario's counts, durations, rates
// and sizes, in file order. The README's limits table lists the same.
func Bounds() []Bound {
	d := fmtBound
	return []Bound{
		{"duration", "> 0s, ≤ " + d(MaxDuration), "a longer soak is a series of runs"},
		{"drain", "≤ " + d(MaxDrain), "in-flight messages arrive within seconds, or are lost"},
		{"broker.url", "≤ " + strconv.Itoa(MaxEndpoints) + " URLs, each once", "a cluster's nodes; every device knows the list"},
		{"broker.weights", "one per URL, 1 … " + strconv.Itoa(MaxEndpointWeight), "the slot sequence is the sum of the weights"},
		{"broker.source_addresses", "≤ " + strconv.Itoa(MaxSourceAddresses) + " addresses, ranges expanded; ≤ 4096 per range", "each address gives ~28k ports"},
		{"devices", "1 … " + strconv.Itoa(MaxGroups) + " groups", "the ramp shares its target among the groups every 10 ms, at a cost that grows with their square"},
		{"devices[].count", "1 … " + strconv.Itoa(MaxGroupDevices) + "; ≤ " + strconv.Itoa(MaxDevices) + " in all groups", "what a fleet of nodes holds in memory"},
		{"devices[].name", "1 … 64 characters", "group names appear in every report row"},
		{"devices[].keepalive", d(MinKeepAlive) + " … " + d(MaxKeepAlive), "the SDK's accepted range"},
		{"devices[].yield", d(MinYield) + " … " + d(MaxYield), "shorter spins, longer misses pings and acknowledgements"},
		{"devices[].connect.rate", "≤ " + strconv.Itoa(MaxConnectRate) + "/s, period ≤ " + d(MaxDuration), "a spawn tick starts a tick's worth of devices at once"},
		{"devices[].connect.timeout", d(MinConnectTimeout) + " … " + d(MaxConnectTimeout), "below, no handshake completes; above, a dead broker holds a device for most of a run"},
		{"devices[].request_timeout", "1s … 10s (3.2.0, 4.x), 500ms … 5s (3.0.1)", "the SDK's request_timeout_ms range"},
		{"devices[].max_packet_size", strconv.Itoa(MinMaxPacketSize) + " … " + strconv.Itoa(MaxMaxPacketSize) + " bytes", "MQTT's limit: a remaining length of 4 bytes"},
		{"devices[].mqtt5.session_expiry", "0 … 4294967295s", "MQTT's four-byte interval"},
		{"devices[].mqtt5.receive_maximum", "0 … " + strconv.Itoa(MaxReceiveMaximum), "MQTT's two-byte field"},
		{"devices[].mqtt5.user_properties", "≤ " + strconv.Itoa(MaxUserProperties) + " properties, each name and value ≤ 65535 bytes", "sent with every PUBLISH; MQTT's string length"},
		{"devices[].subscribe", "≤ " + strconv.Itoa(MaxSubscriptions) + " entries", "every device holds each filter"},
		{"devices[].subscribe[].topic", "≤ 65535 bytes expanded (≤ " + strconv.Itoa(MaxTopicLength) + " characters for auth: alibaba)", "MQTT's string length; the SDK's topic limit"},
		{"devices[].publish", "≤ " + strconv.Itoa(MaxPublishes) + " entries", "every device plan holds one publication per entry"},
		{"devices[].publish[].topic", "≤ 65535 bytes expanded (≤ " + strconv.Itoa(MaxTopicLength) + " characters for auth: alibaba)", "MQTT's string length; the SDK's topic limit"},
		{"devices[].publish[].interval", d(MinPublishInterval) + " … " + d(MaxDuration), "at most 1000/s per device; add devices for more load"},
		{"devices[].publish[].rate", "≤ 1000/s, period ≤ " + d(MaxDuration), "as interval"},
		{"devices[].publish[] (fleet)", "≤ " + strconv.Itoa(MaxFleetPublishRate) + " messages/s over every device and entry", "beyond what one broker under test absorbs"},
		{"devices[].publish[].count", "0 … " + strconv.Itoa(MaxPublishCount), "11.6 days at 1000/s"},
		{"devices[].publish[].start", "≤ " + d(MaxDuration), "as duration"},
		{"devices[].publish[].payload.size", strconv.Itoa(MinPayloadSize) + " … " + strconv.Itoa(MaxPayloadSize) + " bytes (256 KiB; templates too, expanded)", "MQTT allows 268435455 bytes less the header; 256 KiB keeps every device's in-flight messages cheap"},
		{"stages", "≤ " + strconv.Itoa(MaxStages) + " stages, ≤ " + d(MaxDuration) + " in all", "the target is computed from them every spawn tick"},
		{"stages[].duration", "≤ " + d(MaxDuration), "as duration"},
		{"stages[].target", "0 … the scenario's devices", "a target counts connected devices"},
		{"faults", "≤ " + strconv.Itoa(MaxFaults) + " faults", "each is counted over the whole fleet for the result"},
		{"faults[].at, faults[].for", "at < duration, at + for ≤ duration, for > 0", "a fault lies within the run"},
		{"faults[].latency", "> 0s, ≤ " + d(MaxFaultLatency) + "; jitter ≤ latency", "longer is an outage: use stall or cut"},
		{"faults[].bandwidth", "1B/s … 1TB/s", "below is a stall, above no limit"},
		{"faults[].fraction, churn[].fraction", "> 0, ≤ 1", "a fraction of the devices"},
		{"churn", "≤ " + strconv.Itoa(MaxChurnEntries) + " entries", "each keeps one timer"},
		{"churn[].every", d(MinChurnEvery) + " … " + d(MaxDuration), "a cycle takes milliseconds; cycles are armed one at a time"},
		{"churn[].down", "> 0s, < every", "devices are back before the next cycle"},
		{"churn[].start", "< duration", "the first cycle lies within the run"},
		{"thresholds", "≤ " + strconv.Itoa(MaxThresholds) + " thresholds, each ≤ " + strconv.Itoa(MaxThresholdLength) + " bytes", "reports evaluate and print each"},
	}
}

// fmtBound formats a duration bound as written in a scenario, with days
// for whole days: "720h (30 days)", "10m", "10ms".
func fmtBound(v time.Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if v >= 48*time.Hour && v%(24*time.Hour) == 0 {
		s += fmt.Sprintf(" (%d days)", v/(24*time.Hour))
	}
	return s
}

// written returns the value of n as the user wrote it, for messages.
func written(n *node) string {
	return strings.TrimSpace(n.text)
}

// durationValue returns the duration n holds, when it is one; values that
// are not are reported by the decoder.
func durationValue(n *node) (time.Duration, bool) {
	if n == nil || n.kind != kindString {
		return 0, false
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.text))
	return v, err == nil && v >= 0
}

// checkBounds applies the limits that the decoders do not check
// themselves (see Bounds) to the document root and the scenario decoded
// from it.
func (d *decoder) checkBounds(root *node, s *Scenario) {
	if root == nil || root.kind != kindMap {
		return
	}
	d.durMax(root.get("duration"), "duration", MaxDuration, "a longer soak is a series of runs")
	d.durMax(root.get("drain"), "drain", MaxDrain, "in-flight messages arrive within seconds, or are lost")

	devices := root.get("devices")
	d.listMax(devices, "devices", MaxGroups, "device groups", "merge groups that share a configuration")
	if devices != nil && devices.kind == kindSeq {
		for i, g := range devices.items {
			if g.kind == kindMap {
				d.groupBounds(g, index("devices", i))
			}
		}
	}
	d.fleetBounds(devices, s)

	stages := root.get("stages")
	d.listMax(stages, "stages", MaxStages, "stages", "")
	if stages != nil && stages.kind == kindSeq {
		var total time.Duration
		for i, st := range stages.items {
			if st.kind != kindMap {
				continue
			}
			dn := st.get("duration")
			p := index("stages", i) + ".duration"
			if d.durMax(dn, p, MaxDuration, "") {
				continue
			}
			v, ok := durationValue(dn)
			if !ok {
				continue
			}
			if total += v; total > MaxDuration {
				d.errh(dn, p, "the stages set the run's duration when duration is not given",
					"the stages last %s up to here, which exceeds the limit of %s", total, fmtBound(MaxDuration))
				break
			}
		}
	}

	faults := root.get("faults")
	d.listMax(faults, "faults", MaxFaults, "faults", "")
	if faults != nil && faults.kind == kindSeq {
		for i, f := range faults.items {
			if f.kind == kindMap {
				d.durMax(f.get("latency"), index("faults", i)+".latency", MaxFaultLatency, "a longer delay is an outage: use stall or cut")
			}
		}
	}
	churn := root.get("churn")
	d.listMax(churn, "churn", MaxChurnEntries, "churn entries", "")
	if churn != nil && churn.kind == kindSeq {
		for i, c := range churn.items {
			if c.kind != kindMap {
				continue
			}
			p := index("churn", i) + ".every"
			if !d.durMax(c.get("every"), p, MaxDuration, "") {
				d.durMin(c.get("every"), p, MinChurnEvery, "a cycle disconnects and reconnects devices, which takes milliseconds")
			}
		}
	}
	th := root.get("thresholds")
	d.listMax(th, "thresholds", MaxThresholds, "thresholds", "")
	if th != nil && th.kind == kindSeq {
		for i, t := range th.items {
			if t.kind == kindString && len(t.text) > MaxThresholdLength {
				d.errf(t, index("thresholds", i), "the threshold is %d bytes long, which exceeds the limit of %d", len(t.text), MaxThresholdLength)
			}
		}
	}
}

// groupBounds checks the limits of group n at path.
func (d *decoder) groupBounds(n *node, path string) {
	f := func(k string) string { return join(path, k) }
	if yn := n.get("yield"); !d.durMax(yn, f("yield"), MaxYield, "a longer loop misses keepalive pings and acknowledgements") {
		if v, ok := durationValue(yn); ok && v > 0 {
			d.durMin(yn, f("yield"), MinYield, "a shorter loop spins; the SDK examples use 200ms")
		}
	}
	if cn := n.get("connect"); cn != nil && cn.kind == kindMap {
		tn := cn.get("timeout")
		if v, ok := durationValue(tn); ok && v > 0 && !d.durMax(tn, f("connect.timeout"), MaxConnectTimeout, "") {
			d.durMin(tn, f("connect.timeout"), MinConnectTimeout, "no TCP and MQTT handshake completes sooner")
		}
		d.rateMax(cn.get("rate"), f("connect.rate"), MaxConnectRate, "split the fleet over groups or nodes")
	}
	d.listMax(n.get("subscribe"), f("subscribe"), MaxSubscriptions, "subscriptions", "")
	pubs := n.get("publish")
	d.listMax(pubs, f("publish"), MaxPublishes, "publish entries", "")
	if pubs != nil && pubs.kind == kindSeq {
		for j, pn := range pubs.items {
			if pn.kind != kindMap {
				continue
			}
			p := index(f("publish"), j)
			d.durMax(pn.get("interval"), join(p, "interval"), MaxDuration, "")
			d.durMax(pn.get("start"), join(p, "start"), MaxDuration, "")
			if rn := pn.get("rate"); rn != nil && rn.kind == kindString {
				if r, err := ParseRate(rn.text); err == nil && r.Per > MaxDuration {
					d.errf(rn, join(p, "rate"), "the period of %s exceeds the limit of %s", written(rn), fmtBound(MaxDuration))
				}
			}
		}
	}
	if mn := n.get("mqtt5"); mn != nil && mn.kind == kindMap {
		if un := mn.get("user_properties"); un != nil && un.kind == kindMap && len(un.entries) > MaxUserProperties {
			d.errf(un, f("mqtt5.user_properties"), "%d user properties exceed the limit of %d", len(un.entries), MaxUserProperties)
		}
	}
}

// fleetBounds checks the limits of the whole fleet: its devices and its
// publish rate. devices is the "devices:" list the groups come from.
func (d *decoder) fleetBounds(devices *node, s *Scenario) {
	total := 0
	for _, g := range s.Groups {
		if total += g.Count; total > MaxDevices {
			at := groupNode(devices, g)
			if c := at.get("count"); c != nil {
				at = c
			}
			d.errh(at, g.path+".count", "split the run over several scenarios",
				"the groups hold %d devices up to here, which exceeds the limit of %d devices in all", total, MaxDevices)
			break
		}
	}
	var rate, topRate float64 // messages per second
	var top *PublishSpec
	var topGroup *Group
	for _, g := range s.Groups {
		for k := range g.Publish {
			ps := &g.Publish[k]
			if ps.Interval <= 0 {
				continue
			}
			r := float64(g.Count) * float64(time.Second) / float64(ps.Interval)
			rate += r
			if r > topRate {
				top, topGroup, topRate = ps, g, r
			}
		}
	}
	if rate <= MaxFleetPublishRate || top == nil {
		return
	}
	// Blame the rate (or interval) of the largest contributor, or its
	// group's count when only that came from the command line.
	gn := groupNode(devices, topGroup)
	at, path := gn, topGroup.path+".publish"
	if pubs := gn.get("publish"); pubs != nil {
		k := 0 // the decoded entries are the mappings of the list
		for j, it := range pubs.items {
			if it.kind != kindMap {
				continue
			}
			if k < len(topGroup.Publish) && &topGroup.Publish[k] == top {
				at, path = it, index(topGroup.path+".publish", j)
				for _, key := range []string{"rate", "interval"} {
					if v := it.get(key); v != nil {
						at, path = v, join(index(topGroup.path+".publish", j), key)
					}
				}
				break
			}
			k++
		}
	}
	if c := gn.get("count"); c != nil && c.set != "" && at.set == "" {
		at, path = c, topGroup.path+".count"
	}
	d.errh(at, path, "lower the rates or the counts",
		"the fleet would publish %s messages/s, which exceeds the limit of %d/s (this entry, the largest: %d devices × %s/s)",
		fmtRate(rate), MaxFleetPublishRate, topGroup.Count, fmtRate(topRate/float64(topGroup.Count)))
}

// groupNode returns the element of the devices list that g was decoded
// from (g.path is "devices[i]"), or a node at g's position.
func groupNode(devices *node, g *Group) *node {
	if i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(g.path, "devices["), "]")); err == nil &&
		devices != nil && i >= 0 && i < len(devices.items) {
		return devices.items[i]
	}
	return &node{line: g.Pos.Line, col: g.Pos.Col}
}

// fmtRate formats a rate per second without exponents.
func fmtRate(v float64) string {
	if v == float64(int64(v)) && v < 1e18 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// durMax reports a duration beyond max; it returns true when it did.
func (d *decoder) durMax(n *node, path string, limit time.Duration, hint string) bool {
	v, ok := durationValue(n)
	if !ok || v <= limit {
		return false
	}
	d.errh(n, path, hint, "%s exceeds the limit of %s", written(n), fmtBound(limit))
	return true
}

// durMin reports a duration below min; it returns true when it did.
func (d *decoder) durMin(n *node, path string, limit time.Duration, hint string) bool {
	v, ok := durationValue(n)
	if !ok || v >= limit {
		return false
	}
	d.errh(n, path, hint, "%s is below the limit of %s", written(n), fmtBound(limit))
	return true
}

// listMax reports a list of more than max elements.
func (d *decoder) listMax(n *node, path string, limit int, what, hint string) {
	if n == nil || n.kind != kindSeq || len(n.items) <= limit {
		return
	}
	d.errh(n, path, hint, "%d %s exceed the limit of %d", len(n.items), what, limit)
}

// rateMax reports a rate of more than limit per second.
func (d *decoder) rateMax(n *node, path string, limit int, hint string) {
	if n == nil || n.kind != kindString {
		return
	}
	r, err := ParseRate(n.text)
	if err != nil {
		return
	}
	switch {
	case r.Per > MaxDuration:
		d.errf(n, path, "the period of %s exceeds the limit of %s", written(n), fmtBound(MaxDuration))
	case r.PerSecond() > float64(limit):
		d.errh(n, path, hint, "%s exceeds the limit of %d/s", written(n), limit)
	}
}
