package metrics

import (
	"sync"
	"sync/atomic"
)

// GroupCounters are the counters of one device group, kept beside the
// node's Recorder (which holds the fleet-wide ones): cheap atomics, one set
// per group.
type GroupCounters struct {
	Devices, ConnectOK, ConnectFailed, Published, Acked, Received, Disconnects, PublishErrors atomic.Int64
}

// GroupResult is one group's line in a result.
type GroupResult struct {
	Name          string `json:"name"`
	Devices       int64  `json:"devices"`
	ConnectOK     int64  `json:"connect_ok"`
	ConnectFailed int64  `json:"connect_failed"`
	Published     int64  `json:"published"`
	Acked         int64  `json:"acked"`
	Received      int64  `json:"received"`
	Disconnects   int64  `json:"disconnects"`
	PublishErrors int64  `json:"publish_errors"`
}

// Result reads the counters as the group's result line.
func (g *GroupCounters) Result(name string) GroupResult {
	return GroupResult{
		Name: name, Devices: g.Devices.Load(), ConnectOK: g.ConnectOK.Load(), ConnectFailed: g.ConnectFailed.Load(),
		Published: g.Published.Load(), Acked: g.Acked.Load(), Received: g.Received.Load(),
		Disconnects: g.Disconnects.Load(), PublishErrors: g.PublishErrors.Load(),
	}
}

// Add adds o's counters to g (the name stays g's).
func (g *GroupResult) Add(o *GroupResult) {
	g.Devices += o.Devices
	g.ConnectOK += o.ConnectOK
	g.ConnectFailed += o.ConnectFailed
	g.Published += o.Published
	g.Acked += o.Acked
	g.Received += o.Received
	g.Disconnects += o.Disconnects
	g.PublishErrors += o.PublishErrors
}

// mergeGroups adds b's group lines into a's, by name, keeping a's order.
func mergeGroups(a, b []GroupResult) []GroupResult {
	out := append([]GroupResult(nil), a...)
next:
	for i := range b {
		for j := range out {
			if out[j].Name == b[i].Name {
				out[j].Add(&b[i])
				continue next
			}
		}
		out = append(out, b[i])
	}
	return out
}

// FirstErrors keeps the first error message seen for each connect failure
// reason, so a run whose devices all fail can say why. Safe for concurrent
// use.
type FirstErrors struct {
	mu   sync.Mutex
	seen map[string]string
}

// Note records err under reason; it reports whether it was the first of
// its reason.
func (f *FirstErrors) Note(reason FailReason, err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.seen[reason.String()]; ok {
		return false
	}
	if f.seen == nil {
		f.seen = make(map[string]string)
	}
	f.seen[reason.String()] = err.Error()
	return true
}

// Map returns a copy of the first error per reason (nil when none).
func (f *FirstErrors) Map() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		return nil
	}
	out := make(map[string]string, len(f.seen))
	for k, v := range f.seen {
		out[k] = v
	}
	return out
}
