package hal

import "time"

// minBurst is the smallest piece a bandwidth limit moves at once; it keeps
// very low limits from degenerating into byte-at-a-time transfers.
const minBurst = 512

// burstOf returns the bucket depth for a rate: 20 ms of traffic, at least
// minBurst bytes. It is also the largest piece moved in one step, so a
// limited connection wakes about 50 times a second while it is saturated.
func burstOf(rate int64) int {
	return int(max(rate/50, minBurst))
}

// bucket is a token bucket that lets a piece go while the balance is not
// negative and charges the piece after the fact ("pay after"): a piece never
// waits for more tokens than the bucket can hold, and debt is repaid at the
// configured rate. Idle time fills the bucket to one burst at most; but time
// a waiter spends past its due time (a late timer on a busy machine) is
// credited in full, up to maxLateCredit, so the long-run rate of a saturated
// connection stays exact however late its wake-ups are. The zero value is
// unlimited. It is not safe for concurrent use.
type bucket struct {
	rate    int64   // bytes per second; 0 = unlimited
	tokens  float64 // balance in bytes; may be negative (debt)
	last    time.Time
	waiting bool // the last delay asked its caller to wait
}

// maxLateCredit bounds the credit for a waiter's lateness.
const maxLateCredit = time.Second

// setRate changes the rate at now. A bucket that becomes limited starts full.
func (b *bucket) setRate(rate int64, now time.Time) {
	if rate == b.rate {
		return
	}
	if b.rate == 0 {
		b.rate, b.tokens, b.last = rate, float64(burstOf(rate)), now
		return
	}
	b.refill(now)
	b.rate = rate
	if rate == 0 {
		b.tokens, b.waiting = 0, false
		return
	}
	b.tokens = min(b.tokens, float64(burstOf(rate)))
}

func (b *bucket) refill(now time.Time) {
	el := now.Sub(b.last)
	if el <= 0 {
		return
	}
	limit := float64(burstOf(b.rate))
	if b.waiting {
		limit = max(limit, maxLateCredit.Seconds()*float64(b.rate))
	}
	// Accumulate up to the limit, never cutting a surplus already earned.
	b.tokens = min(b.tokens+el.Seconds()*float64(b.rate), max(limit, b.tokens))
	b.last = now
}

// delay returns how long to wait before the next piece may go (0: now).
func (b *bucket) delay(now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.refill(now)
	if b.waiting = b.tokens < 0; !b.waiting {
		return 0
	}
	return time.Duration(-b.tokens / float64(b.rate) * float64(time.Second))
}

// take charges n bytes moved at now.
func (b *bucket) take(n int, now time.Time) {
	if b.rate == 0 {
		return
	}
	b.refill(now)
	b.tokens -= float64(n)
}

// piece bounds one step of a transfer of n bytes under the limit.
func (b *bucket) piece(n int) int {
	if b.rate == 0 {
		return n
	}
	return min(n, burstOf(b.rate))
}
