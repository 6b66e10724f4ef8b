package metrics

import (
	"sync"
)

// GroupCounters are the counters of one device group: the same counters as
// the node's Recorder, so a group is one more dimension of every counter
// rather than a second, hand-kept set. Devices count into them through a
// Tally (Recorder.Tally), which counts each event fleet-wide and in the
// group with one call. The zero value is ready to use.
type GroupCounters struct {
	set counterSet
}

// Group returns the counters of group i, or nil when gs does not have
// them (a Tally of a nil group counts fleet-wide only).
func Group(gs []GroupCounters, i int) *GroupCounters {
	if i < 0 || i >= len(gs) {
		return nil
	}
	return &gs[i]
}

// Counts reads the group's counters.
func (g *GroupCounters) Counts() Counts {
	return g.set.load()
}

// Result reads the counters as the group's result line.
func (g *GroupCounters) Result(name string) GroupResult {
	c := g.Counts()
	return GroupResultFrom(name, &c)
}

// GroupResult is one group's line in a result: the Totals columns of the
// same JSON name (see GroupColumns); adding a field here (with the JSON
// name of a column) adds it to every group output.
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

// GroupResultFrom builds a group line from the group's counters.
func GroupResultFrom(name string, c *Counts) GroupResult {
	g := GroupResult{Name: name}
	for _, col := range columns {
		col.SetGroup(&g, col.from(c))
	}
	return g
}

// Add adds o's counters to g (the name stays g's).
func (g *GroupResult) Add(o *GroupResult) {
	for _, col := range columns {
		col.SetGroup(g, col.OfGroup(g)+col.OfGroup(o))
	}
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
