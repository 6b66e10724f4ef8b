package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Fault is one entry of "faults:": for the window [At, At+For) of the run
// the selected devices' connections are impaired, or the broker is down.
//
//	faults:
//	  - at: 30s            # offset from the start of the run
//	    for: 10s           # how long (required, > 0)
//	    group: sensors     # optional; default every group
//	    fraction: 0.5      # optional (0,1], default 1; see Scenario.InFault
//	    latency: 200ms     # added delay per read and write
//	    jitter: 50ms       # ± around latency (needs latency, ≤ latency)
//	    bandwidth: 10KB/s  # per-connection limit
//	    stall: true        # reads and writes block for the window
//	    cut: true          # connections are cut at At; devices reconnect on their backoff
//	    refuse: true       # new connections are refused during the window
//	  - at: 1m
//	    for: 20s
//	    broker_outage: true
//
// A fault has at least one effect. BrokerOutage stops the broker for the
// window; it only works with a broker fleetbench controls (the embedded
// one, or one started by a test harness), and excludes the other effects,
// Group and Fraction.
type Fault struct {
	At, For time.Duration
	// Group limits the fault to one group; nil means every group.
	Group *Group
	// Fraction of the devices (of Group, or of the fleet) affected, in
	// (0, 1]; 1 unless written. Which devices is decided by InFault.
	Fraction float64
	// Latency is added to every read and write; Jitter varies it
	// uniformly within ±Jitter (Jitter ≤ Latency).
	Latency, Jitter time.Duration
	// Bandwidth limits each connection to this many bytes per second; 0
	// means no limit.
	Bandwidth    int64
	Stall        bool
	Cut          bool
	Refuse       bool
	BrokerOutage bool
	Pos          Position
}

// End returns the end of the fault's window, At+For.
func (f *Fault) End() time.Duration { return f.At + f.For }

// Churn is one entry of "churn:": every Every, starting at Start, a
// Fraction of the devices (of Group, or of the fleet) disconnect and stay
// away for Down before they reconnect. Each cycle picks its own devices
// (see InChurn).
type Churn struct {
	// Group limits the churn to one group; nil means every group.
	Group    *Group
	Fraction float64
	Every    time.Duration
	Down     time.Duration // less than Every
	// Start is the time of the first cycle (default Every).
	Start time.Duration
	Pos   Position
}

// CycleStart returns the time of cycle n (0-based): Start + n·Every.
func (c *Churn) CycleStart(n int) time.Duration {
	return c.Start + time.Duration(n)*c.Every
}

// Cycles returns the number of cycles that start before runDuration.
func (c *Churn) Cycles(runDuration time.Duration) int {
	if c.Every <= 0 || runDuration <= c.Start {
		return 0
	}
	return int((runDuration-c.Start-1)/c.Every) + 1
}

// Selected reports whether the device with the given global index is among
// a fraction of the fleet. The choice is a hash of the scenario's Seed,
// salt and the index, so it is the same on every run and on every node,
// different salts pick independent sets, and about fraction·n of n devices
// are chosen (every device for fraction ≥ 1, none for fraction ≤ 0).
func (s *Scenario) Selected(fraction float64, globalIndex int, salt uint64) bool {
	switch {
	case !(fraction > 0):
		return false
	case fraction >= 1:
		return true
	}
	h := splitmix64(splitmix64(splitmix64(uint64(s.Seed))^salt) ^ uint64(globalIndex))
	return float64(h>>11)*(1.0/(1<<53)) < fraction
}

// splitmix64 is the finalizer of the SplitMix64 generator: a bijective
// 64-bit mix.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Salts of Selected for the fault timeline and churn, so that faults and
// churn cycles pick independent sets of devices.
const (
	faultSalt = 0x6661756c74000000 // "fault"
	churnSalt = 0x636875726e000000 // "churn"
)

// InFault reports whether fault k (an index in Faults) affects the device
// with the given global index: the device is in the fault's group (any
// group when Group is nil) and Selected(Fraction, globalIndex, salt of k).
// Broker outages affect every device.
func (s *Scenario) InFault(k, globalIndex int) bool {
	if k < 0 || k >= len(s.Faults) {
		return false
	}
	f := &s.Faults[k]
	if f.BrokerOutage {
		return globalIndex >= 0 && globalIndex < s.total
	}
	return s.inGroup(f.Group, globalIndex) && s.Selected(f.Fraction, globalIndex, faultSalt+uint64(k))
}

// InChurn reports whether the device with the given global index
// disconnects in cycle n of churn entry k. Every cycle draws its own
// devices.
func (s *Scenario) InChurn(k, cycle, globalIndex int) bool {
	if k < 0 || k >= len(s.Churn) || cycle < 0 {
		return false
	}
	c := &s.Churn[k]
	salt := churnSalt + uint64(k)<<32 + uint64(cycle)
	return s.inGroup(c.Group, globalIndex) && s.Selected(c.Fraction, globalIndex, salt)
}

func (s *Scenario) inGroup(g *Group, globalIndex int) bool {
	if g == nil {
		return globalIndex >= 0 && globalIndex < s.total
	}
	return globalIndex >= g.First && globalIndex < g.First+g.Count
}

// MaxBandwidth bounds a bandwidth limit (1 TB/s).
const MaxBandwidth = 1e12

// ParseBandwidth parses a bandwidth such as "10KB/s", "1.5MB/s" or
// "256KiB/s" into bytes per second. The units are B, KB and MB (1000-based)
// and KiB and MiB (1024-based); "/s" is required.
func ParseBandwidth(s string) (int64, error) {
	v, msg, hint := parseBandwidth(s)
	if msg != "" {
		if hint != "" {
			msg += "; " + hint
		}
		return 0, fmt.Errorf("%s", msg)
	}
	return v, nil
}

var bandwidthUnits = []struct {
	name string
	mult float64
}{{"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"KiB", 1 << 10}, {"MiB", 1 << 20}}

// parseBandwidth returns the bandwidth, or a message and a hint.
func parseBandwidth(s string) (int64, string, string) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, "empty bandwidth", "e.g. 10KB/s"
	}
	lower := strings.ToLower(t)
	if strings.HasSuffix(lower, "bps") || strings.Contains(lower, "bit") {
		return 0, fmt.Sprintf("%q is in bits", s), "write bytes per second: 8Mbit/s is 1MB/s"
	}
	qty, per, hasPer := strings.Cut(t, "/")
	qty = strings.TrimSpace(qty)
	end := 0
	for end < len(qty) && (qty[end] >= '0' && qty[end] <= '9' || qty[end] == '.' || qty[end] == '_') {
		end++
	}
	num, unit := qty[:end], strings.TrimSpace(qty[end:])
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
	if num == "" || err != nil {
		return 0, fmt.Sprintf("%q is not a bandwidth", s), "write a number, a unit and /s, e.g. 10KB/s"
	}
	mult := 0.0
	for _, u := range bandwidthUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	if mult == 0 {
		hint := "the units are B, KB, MB (1000 bytes, 1000 KB) and KiB, MiB (1024 bytes, 1024 KiB)"
		for _, u := range bandwidthUnits {
			if strings.EqualFold(u.name, unit) {
				hint = fmt.Sprintf("write %s%s/s (bytes)", num, u.name)
			}
		}
		if unit == "" {
			hint = fmt.Sprintf("add a unit, e.g. %sKB/s", num)
		}
		return 0, fmt.Sprintf("%q has no known unit", s), hint
	}
	if !hasPer || strings.TrimSpace(per) != "s" {
		return 0, fmt.Sprintf("%q is not a rate per second", s), fmt.Sprintf("write %s%s/s", num, unit)
	}
	b := v * mult
	switch {
	case b < 1:
		return 0, fmt.Sprintf("%s is less than 1 byte per second", s), ""
	case b > MaxBandwidth:
		return 0, fmt.Sprintf("%s is more than 1TB/s", s), "remove bandwidth for no limit"
	}
	return int64(math.Round(b)), "", ""
}

// fraction decodes a number in (0, 1].
func (d *decoder) fraction(n *node, path string) (float64, bool) {
	if n == nil {
		return 0, false
	}
	var v float64
	switch n.kind {
	case kindInt:
		v = float64(n.i)
	case kindFloat:
		v = n.f
	case kindString:
		hint := ""
		if p, ok := strings.CutSuffix(strings.TrimSpace(n.text), "%"); ok {
			if f, err := strconv.ParseFloat(p, 64); err == nil {
				hint = fmt.Sprintf("write a fraction: %g", f/100)
			}
		} else if _, err := strconv.ParseFloat(n.text, 64); err == nil {
			hint = "remove the quotes"
		}
		d.errh(n, path, hint, "want a number, got %s", describe(n))
		return 0, false
	default:
		d.errf(n, path, "want a number, got %s", describe(n))
		return 0, false
	}
	if !(v > 0 && v <= 1) {
		hint := "a fraction of the devices, e.g. 0.1 for 10%"
		if v > 1 && v <= 100 {
			hint = fmt.Sprintf("write a fraction: %g", v/100)
		}
		d.errh(n, path, hint, "%s is out of range (want more than 0, at most 1)", n.text)
		return 0, false
	}
	return v, true
}

// decodeFaults decodes "faults:" and "churn:"; the groups and the duration
// are known.
func (d *decoder) decodeFaults(root *node, s *Scenario, names map[string]*Group) {
	for i, it := range d.list(root.get("faults"), "faults", "faults") {
		if f, ok := d.decodeFault(it, index("faults", i), s, names); ok {
			s.Faults = append(s.Faults, f)
		}
	}
	for i, it := range d.list(root.get("churn"), "churn", "churn entries") {
		if c, ok := d.decodeChurn(it, index("churn", i), s, names); ok {
			s.Churn = append(s.Churn, c)
		}
	}
}

// groupRef resolves an optional "group:" naming a group.
func (d *decoder) groupRef(n *node, path string, names map[string]*Group) (*Group, bool) {
	if n == nil {
		return nil, true
	}
	name, ok := d.str(n, path)
	if !ok {
		return nil, false
	}
	g := names[name]
	if g == nil {
		d.groupNotFound(n, path, name, names)
		return nil, false
	}
	return g, true
}

// positive decodes a duration that must be more than zero.
func (d *decoder) positive(n *node, path, hint string) (time.Duration, bool) {
	v, ok := d.duration(n, path)
	if ok && v == 0 {
		d.errh(n, path, hint, "must be positive")
		return 0, false
	}
	return v, ok
}

func (d *decoder) decodeFault(n *node, path string, s *Scenario, names map[string]*Group) (Fault, bool) {
	if !d.object(n, path, faultSchema) {
		return Fault{}, false
	}
	f := Fault{Fraction: 1, Pos: d.pos(n)}
	p := func(k string) string { return join(path, k) }
	errs := len(d.errs) + d.extra
	atN, forN := n.get("at"), n.get("for")
	if atN == nil {
		d.missing(n, path, "at", "the offset from the start of the run, e.g. at: 30s", "required")
	}
	at, atOK := d.duration(atN, p("at"))
	f.At = at
	if forN == nil {
		d.missing(n, path, "for", "how long the fault lasts, e.g. for: 10s", "required")
	}
	dur, forOK := d.positive(forN, p("for"), "how long the fault lasts, e.g. for: 10s")
	f.For = dur
	if atOK && s.Duration > 0 && at >= s.Duration {
		d.errh(atN, p("at"), "move it earlier, or lengthen duration",
			"the fault starts at %s, at or after the end of the run (duration %s)", at, s.Duration)
	} else if atOK && forOK && s.Duration > 0 && dur > s.Duration-at {
		d.errh(forN, p("for"), fmt.Sprintf("at most %s here, or lengthen duration", s.Duration-at),
			"the fault ends at %s, after the end of the run (duration %s)", at+dur, s.Duration)
	}

	groupN, fracN := n.get("group"), n.get("fraction")
	f.Group, _ = d.groupRef(groupN, p("group"), names)
	if v, ok := d.fraction(fracN, p("fraction")); ok {
		f.Fraction = v
	}

	latN, jitN := n.get("latency"), n.get("jitter")
	if v, ok := d.positive(latN, p("latency"), "remove it for no added delay"); ok {
		f.Latency = v
	}
	if v, ok := d.duration(jitN, p("jitter")); ok {
		switch {
		case latN == nil:
			d.errh(jitN, p("jitter"), "add latency: the delay is latency ± jitter", "jitter needs latency")
		case f.Latency > 0 && v > f.Latency:
			d.errh(jitN, p("jitter"), "the delay is latency ± jitter, so jitter must not exceed latency",
				"jitter %s is more than latency %s", v, f.Latency)
		default:
			f.Jitter = v
		}
	}
	bwN := n.get("bandwidth")
	if bwN != nil {
		switch bwN.kind {
		case kindInt, kindFloat:
			d.errh(bwN, p("bandwidth"), fmt.Sprintf("add a unit: %sB/s or %sKB/s", bwN.text, bwN.text),
				"want a bandwidth, got %s", describe(bwN))
		default:
			if v, ok := d.str(bwN, p("bandwidth")); ok {
				if b, msg, hint := parseBandwidth(v); msg != "" {
					d.errh(bwN, p("bandwidth"), hint, "%s", msg)
				} else {
					f.Bandwidth = b
				}
			}
		}
	}
	effects := []struct {
		key string
		dst *bool
	}{{"stall", &f.Stall}, {"cut", &f.Cut}, {"refuse", &f.Refuse}, {"broker_outage", &f.BrokerOutage}}
	for _, e := range effects {
		if v, ok := d.boolean(n.get(e.key), p(e.key)); ok {
			*e.dst = v
		}
	}

	if f.BrokerOutage {
		bo := n.get("broker_outage")
		for _, other := range []struct {
			key string
			on  bool
		}{{"latency", latN != nil}, {"jitter", jitN != nil}, {"bandwidth", bwN != nil},
			{"stall", f.Stall}, {"cut", f.Cut}, {"refuse", f.Refuse},
			{"group", groupN != nil}, {"fraction", fracN != nil}} {
			if other.on {
				d.errh(bo, p("broker_outage"), "a broker outage affects every device; put "+other.key+" in a fault of its own",
					"broker_outage cannot be combined with %s", other.key)
				break
			}
		}
	}
	hasEffect := latN != nil || bwN != nil || f.Stall || f.Cut || f.Refuse || f.BrokerOutage
	if !hasEffect && len(d.errs)+d.extra == errs {
		d.errh(n, path, "add latency, bandwidth, stall, cut, refuse or broker_outage",
			"the fault has no effect")
	}
	return f, len(d.errs)+d.extra == errs
}

func (d *decoder) decodeChurn(n *node, path string, s *Scenario, names map[string]*Group) (Churn, bool) {
	if !d.object(n, path, churnSchema) {
		return Churn{}, false
	}
	c := Churn{Pos: d.pos(n)}
	p := func(k string) string { return join(path, k) }
	errs := len(d.errs) + d.extra
	c.Group, _ = d.groupRef(n.get("group"), p("group"), names)
	fracN := n.get("fraction")
	if fracN == nil {
		d.missing(n, path, "fraction", "the share of the devices that disconnect each cycle, e.g. fraction: 0.1", "required")
	}
	c.Fraction, _ = d.fraction(fracN, p("fraction"))
	everyN, downN, startN := n.get("every"), n.get("down"), n.get("start")
	if everyN == nil {
		d.missing(n, path, "every", "the period of the cycles, e.g. every: 60s", "required")
	}
	every, everyOK := d.positive(everyN, p("every"), "the period of the cycles, e.g. every: 60s")
	if downN == nil {
		d.missing(n, path, "down", "how long the devices stay away, e.g. down: 5s", "required")
	}
	down, downOK := d.positive(downN, p("down"), "how long the devices stay away, e.g. down: 5s")
	if everyOK && downOK && down >= every {
		d.errh(downN, p("down"), "devices must be back before the next cycle; lower down or raise every",
			"down %s is not less than every %s", down, every)
	}
	c.Every, c.Down, c.Start = every, down, every
	if startN != nil {
		if v, ok := d.duration(startN, p("start")); ok {
			c.Start = v
		}
	}
	if everyOK && s.Duration > 0 && c.Start >= s.Duration {
		at := startN
		what := "start"
		if at == nil {
			at, what = everyN, "every"
		}
		d.errh(at, p(what), "set start (the first cycle) or every to less than the duration",
			"the first cycle starts at %s, at or after the end of the run (duration %s)", c.Start, s.Duration)
	}
	return c, len(d.errs)+d.extra == errs
}
