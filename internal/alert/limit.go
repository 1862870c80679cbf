package alert

import (
	"sync"
	"time"
)

// StateStore keeps the limiter's records where the next process finds
// them (the history; *history.Store implements it): the server and the
// ExecStopPost that reports its death share one limit.
type StateStore interface {
	Get(name string, v any) (bool, error)
	Put(name string, v any) error
}

// Limiter lets one delivered alert a subject and Interval through and
// holds back the rest, counting them, until a summary sums them up. Only
// a delivered alert starts the interval: one that no sink took leaves
// the way open for the next.
//
// Time: within a process the limiter measures with the monotonic clock,
// so a wall clock stepped back (a VM with a bad RTC) cannot stretch the
// interval. A record from an earlier process has only wall-clock times;
// one that lies in the future (the clock was stepped back since) counts
// as expired. Its methods are safe for concurrent use.
type Limiter struct {
	store    StateStore // nil: in memory only (no history)
	interval time.Duration
	// now is time.Now: its monotonic reading orders times within this
	// process. Tests set their own clock.
	now func() time.Time

	mu      sync.Mutex
	mem     map[string]limitState // this process's records
	sending map[string]bool       // admitted, not yet Done
}

// limitState is one subject's record.
type limitState struct {
	LastSent  time.Time `json:"last_sent"`
	HeldBack  int       `json:"held_back"`
	HeldSince time.Time `json:"held_since"`
	// Last is the newest held-back alert, for the summary.
	Last *Alert `json:"last,omitempty"`
}

// NewLimiter returns a limiter keeping its records in store (may be nil).
func NewLimiter(store StateStore, interval time.Duration) *Limiter {
	return &Limiter{store: store, interval: interval, now: time.Now,
		mem: map[string]limitState{}, sending: map[string]bool{}}
}

const subjectPrefix = "alert/"

// Admit says whether a goes out now: no alert about its subject was
// delivered within the interval, and none is being sent. When it does, a
// carries what was held back before it, and the caller reports how the
// sending went with Done. When not, a is counted as held back.
func (l *Limiter) Admit(a *Alert) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	subj := a.Subject()
	st := l.load(subj)
	if l.sending[subj] || l.recent(st) {
		if st.HeldBack == 0 {
			st.HeldSince = a.Time
		}
		st.HeldBack++
		held := *a
		held.Logs = nil // the summary names it; the logs were journaled
		st.Last = &held
		l.save(subj, st)
		return false
	}
	if st.HeldBack > 0 {
		since := st.HeldSince
		a.HeldBack, a.HeldSince = st.HeldBack, &since
	}
	l.sending[subj] = true
	return true
}

// Done ends the sending of a, which Admit or Due let through. When it was
// delivered its interval starts, and what it carried as held back is
// cleared; when not, the record stays as it was, so that the next alert
// goes out at once and carries the same count.
func (l *Limiter) Done(a Alert, delivered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	subj := a.Subject()
	delete(l.sending, subj)
	if !delivered {
		return
	}
	st := l.load(subj)
	st.LastSent = l.now()
	// Held back while it was being sent: kept for the next summary.
	st.HeldBack -= a.HeldBack
	if st.HeldBack <= 0 {
		st.HeldBack, st.HeldSince, st.Last = 0, time.Time{}, nil
	}
	l.save(subj, st)
}

// recent says whether st's last delivery is within the interval. l.mu is
// held.
func (l *Limiter) recent(st limitState) bool {
	if st.LastSent.IsZero() {
		return false
	}
	// Sub uses the monotonic readings when both times have one (this
	// process's records), else the wall clock; negative is a wall-clock
	// time in the future: expired.
	elapsed := l.now().Sub(st.LastSent)
	return elapsed >= 0 && elapsed < l.interval
}

// Due returns a summary for each subject in subjects whose held-back
// alerts have waited out the interval, and counts them as being sent:
// report each with Done.
func (l *Limiter) Due(subjects []string) []Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var out []Alert
	for _, subj := range subjects {
		st := l.load(subj)
		if st.HeldBack == 0 || st.Last == nil || l.sending[subj] || l.recent(st) {
			continue
		}
		sum := *st.Last
		since := st.HeldSince
		sum.Kind, sum.Time, sum.HeldBack, sum.HeldSince = Summary, now, st.HeldBack, &since
		out = append(out, sum)
		l.sending[subj] = true
	}
	return out
}

// load is subject's record: this process's own once it has one (its
// times carry monotonic readings), else the store's. l.mu is held.
func (l *Limiter) load(subject string) limitState {
	if st, ok := l.mem[subject]; ok {
		return st
	}
	var st limitState
	if l.store != nil {
		if ok, err := l.store.Get(subjectPrefix+subject, &st); err == nil && ok {
			return st
		}
	}
	return st
}

// save keeps the record in memory too: a history that fails to write still
// rate-limits this process.
func (l *Limiter) save(subject string, st limitState) {
	l.mem[subject] = st
	if l.store != nil {
		_ = l.store.Put(subjectPrefix+subject, st)
	}
}
