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

// Limiter lets one alert a subject and Interval through and holds back
// the rest, counting them, until a summary sums them up.
type Limiter struct {
	store    StateStore // nil: in memory only (no history)
	interval time.Duration
	mu       sync.Mutex
	mem      map[string]limitState
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
	return &Limiter{store: store, interval: interval, mem: map[string]limitState{}}
}

const subjectPrefix = "alert/"

// Admit says whether a goes out now. When it does, a carries what was held
// back before it (and the count restarts); when not, it is counted.
func (l *Limiter) Admit(a *Alert) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.load(a.Subject())
	if !st.LastSent.IsZero() && a.Time.Sub(st.LastSent) < l.interval {
		if st.HeldBack == 0 {
			st.HeldSince = a.Time
		}
		st.HeldBack++
		held := *a
		held.Logs = nil // the summary names it; the logs were journaled
		st.Last = &held
		l.save(a.Subject(), st)
		return false
	}
	if st.HeldBack > 0 {
		since := st.HeldSince
		a.HeldBack, a.HeldSince = st.HeldBack, &since
	}
	l.save(a.Subject(), limitState{LastSent: a.Time})
	return true
}

// Due returns a summary for each subject in subjects whose held-back
// alerts have waited out the interval, and counts them as sent.
func (l *Limiter) Due(now time.Time, subjects []string) []Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Alert
	for _, subj := range subjects {
		st := l.load(subj)
		if st.HeldBack == 0 || st.Last == nil || now.Sub(st.LastSent) < l.interval {
			continue
		}
		sum := *st.Last
		since := st.HeldSince
		sum.Kind, sum.Time, sum.HeldBack, sum.HeldSince = Summary, now, st.HeldBack, &since
		out = append(out, sum)
		l.save(subj, limitState{LastSent: now})
	}
	return out
}

func (l *Limiter) load(subject string) limitState {
	var st limitState
	if l.store != nil {
		if ok, err := l.store.Get(subjectPrefix+subject, &st); err == nil && ok {
			return st
		}
	}
	return l.mem[subject]
}

// save keeps the record in memory too: a history that fails to write still
// rate-limits this process.
func (l *Limiter) save(subject string, st limitState) {
	l.mem[subject] = st
	if l.store != nil {
		_ = l.store.Put(subjectPrefix+subject, st)
	}
}
