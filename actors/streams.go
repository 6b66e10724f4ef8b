package actors

// streamKey identifies one publisher stream as a receiver sees it: the
// publishing device and the index of its publish entry.
type streamKey struct {
	publisher uint32
	stream    uint8
}

// seqWindow is how far back (in sequence numbers) duplicates are still
// recognised; an older arrival is counted as reordered only.
const seqWindow = 64

// seqTracker follows one (publisher, receiver) stream: the highest sequence
// number seen and a bitmap of the seqWindow numbers below it. 16 bytes.
type seqTracker struct {
	max     uint32
	started bool
	seen    uint64 // bit i: max−i was received
}

// observe records seq and reports whether it was a duplicate or arrived
// after a higher one (reordered). Gaps are not reordering: they are loss
// until the missing message arrives, late.
func (t *seqTracker) observe(seq uint32) (dup, reordered bool) {
	if !t.started {
		t.started, t.max, t.seen = true, seq, 1
		return false, false
	}
	if seq > t.max {
		if shift := seq - t.max; shift >= seqWindow {
			t.seen = 1
		} else {
			t.seen = t.seen<<shift | 1
		}
		t.max = seq
		return false, false
	}
	d := t.max - seq
	if d >= seqWindow {
		return false, true
	}
	bit := uint64(1) << d
	if t.seen&bit != 0 {
		return true, false
	}
	t.seen |= bit
	return false, true
}

// receiverStreams holds the trackers of one receiving device. Most devices
// receive one stream (their own, or one cloud publisher's), kept inline in
// 24 bytes; consumers of many publishers (fan-in) spill the others into a
// map (measured by BenchmarkReceiverStreams: about 40 bytes per stream).
type receiverStreams struct {
	firstKey streamKey
	first    seqTracker
	more     map[streamKey]seqTracker
}

// observe records seq on stream k (see seqTracker.observe).
func (r *receiverStreams) observe(k streamKey, seq uint32) (dup, reordered bool) {
	if !r.first.started || r.firstKey == k {
		r.firstKey = k
		return r.first.observe(seq)
	}
	if r.more == nil {
		r.more = make(map[streamKey]seqTracker)
	}
	t := r.more[k]
	dup, reordered = t.observe(seq)
	r.more[k] = t
	return dup, reordered
}
