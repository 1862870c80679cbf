package supervisor

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Register records that the runner instance holding token is up. Errors:
// ErrUnknownRunner, ErrUnknownInstance (a token from an earlier run or an
// earlier server; a token is valid only while its process runs, not
// through the restart backoff), ErrStopping.
func (s *Supervisor) Register(name, token string) error {
	return s.touch(name, token, false, func(r *runner) {
		r.registered = true
		if r.state == StateStarting {
			r.state = StateUp
		}
	})
}

// Heartbeat records that the runner instance holding token is alive. It
// returns the errors of Register; a runner that is not registered (it
// deregistered, or never registered) gets ErrUnknownInstance.
func (s *Supervisor) Heartbeat(name, token string) error {
	return s.touch(name, token, true, func(r *runner) {})
}

// Deregister records that the runner is draining before it exits: it is no
// longer ready, its state is stopping, and its token is retired (a later
// Register, Heartbeat or Deregister with it gets ErrUnknownInstance).
func (s *Supervisor) Deregister(name, token string) error {
	return s.touch(name, token, false, func(r *runner) {
		r.registered, r.token, r.deregisteredAt = false, "", time.Now()
		if r.state == StateStarting || r.state == StateUp {
			r.state = StateStopping
		}
	})
}

// touch checks name and token, and for a heartbeat that the instance is
// registered, then applies change and records the contact.
func (s *Supervisor) touch(name, token string, mustBeRegistered bool, change func(*runner)) error {
	r := s.find(name)
	if r == nil {
		return fmt.Errorf("%w %q", ErrUnknownRunner, name)
	}
	s.mu.Lock()
	var err error
	switch {
	case token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(r.token)) != 1: // no timing oracle
		err = ErrUnknownInstance
	case s.stopping && !r.registered:
		err = ErrStopping
	case mustBeRegistered && !r.registered:
		err = ErrUnknownInstance
	default:
		before := r.state
		r.lastHeartbeat = time.Now()
		change(r)
		if before == r.state {
			s.mu.Unlock()
			return nil
		}
	}
	s.mu.Unlock()
	if err == nil {
		s.opts.OnChange()
	}
	return err
}

func (s *Supervisor) find(name string) *runner {
	for _, r := range s.runners {
		if r.spec.Name == name {
			return r
		}
	}
	return nil
}

// Status is one runner as the status API shows it.
type Status struct {
	Name          string
	Mode          string
	PID           int
	State         string
	StartedAt     *time.Time
	UptimeSeconds float64
	Restarts      int
	// RestartsByReason splits Restarts by why each run ended; every
	// ExitReason is present, zero or not.
	RestartsByReason map[ExitReason]int
	LastExit         string
	LastExitAt       *time.Time
	// LastExitCode is the exit status of the last run that ran, 128+N
	// when signal N ended it (a start that failed does not change it);
	// -1 before the first exit.
	LastExitCode int
	// RestartDelayMS is the backoff applied before the current run.
	RestartDelayMS int64
	// HeartbeatAgeSeconds is the time since the last heartbeat, -1 before
	// the first.
	HeartbeatAgeSeconds float64
	// Up is whether the runner is registered and heartbeating (its last
	// heartbeat within three intervals): its part of Ready.
	Up bool
}

// Snapshot returns the state of every runner, in start order.
func (s *Supervisor) Snapshot() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]Status, 0, len(s.runners))
	for _, r := range s.runners {
		st := Status{
			Name: r.spec.Name, Mode: r.spec.Mode, PID: r.pid, State: r.state,
			Restarts: r.restarts(), RestartsByReason: maps.Clone(r.restartsBy),
			LastExit: r.lastExit, LastExitCode: r.lastExitCode,
			RestartDelayMS: r.restartDelay.Milliseconds(), HeartbeatAgeSeconds: -1,
			Up: s.heartbeating(r, now),
		}
		if r.pid != 0 {
			started := r.startedAt
			st.StartedAt = &started
			st.UptimeSeconds = now.Sub(started).Seconds()
		}
		if !r.lastExitAt.IsZero() {
			at := r.lastExitAt
			st.LastExitAt = &at
		}
		if r.registered {
			st.HeartbeatAgeSeconds = now.Sub(r.lastHeartbeat).Seconds()
		}
		out = append(out, st)
	}
	return out
}

// Ready reports whether every runner is registered and heartbeating (a
// heartbeat within three intervals), and if not, why.
func (s *Supervisor) Ready() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false, "the server is stopping"
	}
	var reasons []string
	now := time.Now()
	for _, r := range s.runners {
		switch {
		case !r.registered:
			reasons = append(reasons, fmt.Sprintf("%s is %s", r.spec.Name, r.state))
		case !s.heartbeating(r, now):
			reasons = append(reasons, fmt.Sprintf("%s sent no heartbeat for %s", r.spec.Name, now.Sub(r.lastHeartbeat).Round(time.Second)))
		}
	}
	if len(reasons) > 0 {
		return false, strings.Join(reasons, "; ")
	}
	return true, ""
}

// heartbeating is whether r is registered and its last heartbeat is at
// most three intervals old. s.mu is held.
func (s *Supervisor) heartbeating(r *runner, now time.Time) bool {
	return r.registered && now.Sub(r.lastHeartbeat) <= 3*s.opts.HeartbeatInterval
}

// Summary is the one-line state for systemd's STATUS= and logs:
// "workflow-runner up, agent-runner up; restarts 0/0".
func (s *Supervisor) Summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var states, restarts []string
	for _, r := range s.runners {
		states = append(states, r.spec.Name+" "+r.state)
		restarts = append(restarts, fmt.Sprint(r.restarts()))
	}
	return strings.Join(states, ", ") + "; restarts " + strings.Join(restarts, "/")
}
