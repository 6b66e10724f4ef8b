package actors

// streamKey identifies one publisher stream as a receiver sees it: the
// publishing device and the index of its publish entry.
type streamKey struct {
	publisher uint32
	stream    uint8
}

// maxGaps bounds the missing-number ranges one stream remembers (8 bytes
// each, so at most 2 KiB per stream). A stream that loses more than this
// many separate runs of messages forgets the oldest ones: an arrival in a
// forgotten range can no longer be told from a duplicate, and is counted
// as a late (reordered) first arrival.
const maxGaps = 256

// seqGap is a range [lo, hi] of sequence numbers not received yet.
type seqGap struct{ lo, hi uint32 }

// seqTracker follows one (publisher, receiver) stream over its whole
// length: the highest sequence number seen and the ranges below it that
// have not arrived. A stream without loss costs no memory beyond the
// tracker itself; each run of lost messages costs one range.
type seqTracker struct {
	max     uint32
	started bool
	// floor: numbers below it that are not in gaps are unknown (forgotten
	// after maxGaps), rather than received. 0 while nothing was forgotten.
	floor uint32
	gaps  []seqGap // sorted, disjoint, all below max
}

// observe records seq and reports whether it was a duplicate (a number
// already received) or arrived after a higher one (reordered). Gaps are not
// reordering: they are loss until the missing message arrives, late.
func (t *seqTracker) observe(seq uint32) (dup, reordered bool) {
	if !t.started {
		t.started, t.max = true, seq
		if seq > 0 {
			// Streams start at 0: what came before the first arrival is
			// missing (lost, or published before this receiver subscribed).
			t.gaps = append(t.gaps, seqGap{0, seq - 1})
		}
		return false, false
	}
	if seq > t.max {
		if seq > t.max+1 {
			t.addGap(seqGap{t.max + 1, seq - 1})
		}
		t.max = seq
		return false, false
	}
	if seq == t.max {
		return true, false
	}
	// seq < max: a late first arrival if it is in a gap, else a duplicate.
	i := t.find(seq)
	if i < 0 {
		if seq < t.floor {
			return false, true // forgotten: cannot prove a duplicate
		}
		return true, false
	}
	t.fill(i, seq)
	return false, true
}

// find returns the index of the gap holding seq, or -1.
func (t *seqTracker) find(seq uint32) int {
	// Late arrivals are mostly recent: look from the newest gap down, with
	// a binary search over the rest.
	n := len(t.gaps)
	if n == 0 {
		return -1
	}
	if g := t.gaps[n-1]; seq >= g.lo {
		if seq <= g.hi {
			return n - 1
		}
		return -1
	}
	lo, hi := 0, n-1 // the gap, if any, is in [lo, hi)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.gaps[m].hi < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < n && t.gaps[lo].lo <= seq && seq <= t.gaps[lo].hi {
		return lo
	}
	return -1
}

// fill marks seq of gap i as received, shrinking or splitting the gap.
func (t *seqTracker) fill(i int, seq uint32) {
	g := &t.gaps[i]
	switch {
	case g.lo == g.hi:
		t.gaps = append(t.gaps[:i], t.gaps[i+1:]...)
	case seq == g.lo:
		g.lo++
	case seq == g.hi:
		g.hi--
	default:
		right := seqGap{seq + 1, g.hi}
		g.hi = seq - 1
		t.gaps = append(t.gaps, seqGap{})
		copy(t.gaps[i+2:], t.gaps[i+1:])
		t.gaps[i+1] = right
		t.trim()
	}
}

// addGap appends a range above every existing one.
func (t *seqTracker) addGap(g seqGap) {
	t.gaps = append(t.gaps, g)
	t.trim()
}

// trim forgets the oldest gaps beyond maxGaps.
func (t *seqTracker) trim() {
	if over := len(t.gaps) - maxGaps; over > 0 {
		t.floor = t.gaps[over-1].hi + 1
		n := copy(t.gaps, t.gaps[over:])
		t.gaps = t.gaps[:n]
	}
}

// receiverStreams holds the trackers of one receiving device. Most devices
// receive one stream (their own, or one cloud publisher's), kept inline;
// consumers of many publishers (fan-in) spill the others into a map
// (measured by BenchmarkReceiverStreams).
type receiverStreams struct {
	firstKey streamKey
	first    seqTracker
	more     map[streamKey]*seqTracker
}

// observe records seq on stream k (see seqTracker.observe).
func (r *receiverStreams) observe(k streamKey, seq uint32) (dup, reordered bool) {
	if !r.first.started || r.firstKey == k {
		r.firstKey = k
		return r.first.observe(seq)
	}
	if r.more == nil {
		r.more = make(map[streamKey]*seqTracker)
	}
	t := r.more[k]
	if t == nil {
		t = new(seqTracker)
		r.more[k] = t
	}
	return t.observe(seq)
}
