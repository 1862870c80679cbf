package supervisor

import "time"

// Backoff computes the delay before a runner's next restart: Initial after
// the first exit, doubling on each further exit up to Max, and back to
// Initial once a run lasted ResetAfter or longer (the runner was healthy,
// so the failure is new).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration

	last time.Duration
}

// DefaultBackoff restarts within a second at first, doubling to a 30 s
// cap, and forgets after 60 s of healthy running.
func DefaultBackoff(max time.Duration) Backoff {
	return Backoff{Initial: 200 * time.Millisecond, Max: max, ResetAfter: 60 * time.Second}
}

// Next returns the delay before restarting a runner whose last run lasted ran.
func (b *Backoff) Next(ran time.Duration) time.Duration {
	switch {
	case b.last == 0 || ran >= b.ResetAfter:
		b.last = b.Initial
	default:
		b.last = min(2*b.last, b.Max)
	}
	b.last = min(b.last, b.Max)
	return b.last
}
