package scenarios

import (
	"math"
	"strings"
	"time"
)

// Limits of a group's "rrpc:" section.
const (
	// MinRRPCTimeout and MaxRRPCTimeout bound an RRPC call's timeout: the
	// RRpc OpenAPI of the Alibaba Cloud IoT Platform takes Timeout in
	// 1000 … 8000 ms.
	MinRRPCTimeout = time.Second
	MaxRRPCTimeout = 8 * time.Second
	// DefaultRRPCTimeout is the timeout when none is written.
	DefaultRRPCTimeout = 5 * time.Second
	// MinRRPCInterval is the shortest time between two calls to one device.
	MinRRPCInterval = 10 * time.Millisecond
)

var rrpcSchema = newSchema("rrpc", scalars("rate", "interval", "timeout", "answer_delay", "count", "start"),
	"rate", "interval", "timeout", "answer_delay", "count", "start")

// RRPC is a group's "rrpc:" section: cloud-to-device synchronous calls.
// The cloud side (the embedded platform emulator, or another CloudDriver)
// calls every device of the group on /sys/${productKey}/${deviceName}/
// rrpc/request/${messageId}; each device subscribes to …/rrpc/request/+
// and answers on …/rrpc/response/${messageId}, as an SDK application
// does. The latency kind rrpc is request → answer at the cloud side;
// answers after Timeout (or never) count as rrpc_timeouts.
type RRPC struct {
	// Interval is the time between two calls to one device (the rate is
	// per device, like a publish entry's); Rate is set when written as
	// "rate:".
	Interval time.Duration
	Rate     Rate
	// Timeout is each call's timeout (1s … 8s, default 5s).
	Timeout time.Duration
	// AnswerDelay makes every device wait this long before answering (to
	// test timeouts); 0 answers at once.
	AnswerDelay time.Duration
	// Count is the number of calls per device; 0 means until the end.
	Count int
	// Start delays the first call after the device is connected and
	// subscribed.
	Start time.Duration
	Pos   Position
}

// decodeRRPC decodes a group's "rrpc:" section.
func (d *decoder) decodeRRPC(g *Group, gn *groupNodes, platform string) {
	n := gn.n.get("rrpc")
	if n == nil {
		return
	}
	path := gn.field("rrpc")
	if !d.object(n, path, rrpcSchema) {
		return
	}
	f := func(k string) string { return join(path, k) }
	r := &RRPC{Timeout: DefaultRRPCTimeout, Pos: d.pos(n)}
	ok := true
	in, rn := n.get("interval"), n.get("rate")
	switch {
	case in != nil && rn != nil:
		d.errh(rn, f("rate"), "keep one", "interval and rate both given")
		ok = false
	case in == nil && rn == nil:
		d.errh(n, path, "e.g. rate: 1/s (calls per device)", "needs interval or rate")
		ok = false
	case in != nil:
		if v, good := d.duration(in, f("interval")); good && v >= MinRRPCInterval {
			r.Interval = v
		} else {
			if good {
				d.errh(in, f("interval"), "at least 10ms between two calls to one device", "%s is too short", v)
			}
			ok = false
		}
	default:
		if v, good := d.rate(rn, f("rate")); good && v.Interval() >= MinRRPCInterval {
			r.Rate, r.Interval = v, v.Interval()
		} else {
			if good {
				d.errh(rn, f("rate"), "at most 100/s per device", "%s is too fast for one device", v)
			}
			ok = false
		}
	}
	if tn := n.get("timeout"); tn != nil {
		if v, good := d.duration(tn, f("timeout")); good {
			if v < MinRRPCTimeout || v > MaxRRPCTimeout {
				d.errh(tn, f("timeout"), "the platform's RRpc API takes 1s … 8s", "timeout %s is out of range", v)
				ok = false
			} else {
				r.Timeout = v
			}
		} else {
			ok = false
		}
	}
	if v, good := d.duration(n.get("answer_delay"), f("answer_delay")); good {
		r.AnswerDelay = v
	}
	if v, good := d.duration(n.get("start"), f("start")); good {
		r.Start = v
	}
	if cn := n.get("count"); cn != nil {
		if v, good := d.integer(cn, f("count")); good && v >= 0 && v <= math.MaxInt32 {
			r.Count = int(v)
		} else {
			if good {
				d.errh(cn, f("count"), "0 means until the end", "%d is out of range", v)
			}
			ok = false
		}
	}
	if !gn.hasPK {
		d.errh(n, path, "RRPC topics are /sys/${productKey}/${deviceName}/rrpc/…", "rrpc needs product_key or a credentials file")
		ok = false
	}
	if platform != PlatformAlibaba {
		d.errh(n, path, "set broker.platform: alibaba", "rrpc is a feature of the Alibaba Cloud IoT Platform")
		ok = false
	}
	if ok {
		g.RRPC = r
	}
}

// RRPCRequestFilter returns the filter a device of the plan subscribes to
// for RRPC requests, /sys/${pk}/${dn}/rrpc/request/+.
func (p *DevicePlan) RRPCRequestFilter() string {
	return "/sys/" + p.ProductKey + "/" + p.DeviceName + "/rrpc/request/+"
}

// RRPCResponseTopic returns the topic a device answers the RRPC request
// received on requestTopic on: …/rrpc/response/${messageId}, messageId
// being the last level of the request topic.
func RRPCResponseTopic(requestTopic string) (string, bool) {
	const req = "/rrpc/request/"
	i := strings.LastIndex(requestTopic, req)
	if i < 0 || i+len(req) == len(requestTopic) {
		return "", false
	}
	return requestTopic[:i] + "/rrpc/response/" + requestTopic[i+len(req):], true
}
