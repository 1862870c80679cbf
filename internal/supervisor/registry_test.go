package supervisor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"
)

func TestHeartbeatAfterDeregisterIsRefused(t *testing.T) {
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{}, spec)
	runSupervisor(t, s)
	tok := readToken(t, tokenFile)
	assert.NilError(t, s.Register("workflow-runner", tok))
	assert.NilError(t, s.Heartbeat("workflow-runner", tok))

	assert.NilError(t, s.Deregister("workflow-runner", tok))
	assert.Assert(t, errors.Is(s.Heartbeat("workflow-runner", tok), ErrUnknownInstance))
	assert.Assert(t, errors.Is(s.Register("workflow-runner", tok), ErrUnknownInstance))
	ready, reason := s.Ready()
	assert.Assert(t, !ready)
	// not "workflow-runner is up" next to a 503
	assert.Equal(t, reason, "workflow-runner is stopping")
	assert.Equal(t, s.Snapshot()[0].State, StateStopping)
}

func TestHeartbeatBeforeRegisterIsRefused(t *testing.T) {
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{}, spec)
	runSupervisor(t, s)
	tok := readToken(t, tokenFile)
	assert.Assert(t, errors.Is(s.Heartbeat("workflow-runner", tok), ErrUnknownInstance))
	assert.NilError(t, s.Register("workflow-runner", tok))
	assert.NilError(t, s.Heartbeat("workflow-runner", tok))
}

func TestOldTokenIsRefusedThroughTheBackoff(t *testing.T) {
	// The first run writes its token and exits; the next start is held
	// in Command, so the runner stays in its restart backoff.
	tokenFile := filepath.Join(t.TempDir(), "token")
	hold := make(chan struct{})
	defer close(hold)
	starts := 0
	spec := Spec{Name: "workflow-runner", Mode: "native", Command: func() *exec.Cmd {
		starts++
		if starts > 1 {
			<-hold
		}
		return exec.Command("/bin/sh", "-c", `echo "$STIGMER_RUNNER_TOKEN" > "$0.tmp" && mv "$0.tmp" "$0" && exit 3`, tokenFile)
	}}
	s := New(Options{}, spec)
	runSupervisor(t, s)
	tok := readToken(t, tokenFile)
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if st := s.Snapshot()[0]; st.State != StateRestarting {
			return poll.Continue("state %s", st.State)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	assert.Assert(t, errors.Is(s.Register("workflow-runner", tok), ErrUnknownInstance))
	assert.Assert(t, errors.Is(s.Heartbeat("workflow-runner", tok), ErrUnknownInstance))
	ready, reason := s.Ready()
	assert.Assert(t, !ready)
	assert.Equal(t, reason, "workflow-runner is restarting")
}

func TestTokenIsInPlaceBeforeTheRunnerRuns(t *testing.T) {
	// A runner may register the moment it runs. The test holds the
	// supervisor's lock from just before the start: as long as it holds
	// it, either no runner runs yet, or the one that runs must already
	// have its token recorded.
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	command := spec.Command
	locked := make(chan struct{})
	var once sync.Once
	var s *Supervisor
	spec.Command = func() *exec.Cmd {
		once.Do(func() { s.mu.Lock(); close(locked) })
		return command()
	}
	s = New(Options{}, spec)
	runSupervisor(t, s)

	<-locked
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	window := time.NewTimer(time.Second)
	defer window.Stop()
	for running := false; !running; {
		select {
		case <-window.C:
			running = true // nothing ran while the lock was held
		case <-tick.C:
			b, err := os.ReadFile(tokenFile)
			if err != nil {
				continue
			}
			running = true
			if got, want := s.runners[0].token, strings.TrimSpace(string(b)); got != want {
				s.mu.Unlock()
				t.Fatalf("the runner runs but the server holds token %q, not its %q: its registration would be refused", got, want)
			}
		}
	}
	s.mu.Unlock()
	assert.NilError(t, s.Register("workflow-runner", readToken(t, tokenFile)))
}

// A runner that deregisters to drain is neither "not registered" (it
// registered long ago) nor hung for its missing heartbeats: it gets
// StopTimeout to exit, as after a SIGTERM, and only then is killed.
func TestADrainingRunnerGetsStopTimeout(t *testing.T) {
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{HeartbeatInterval: 20 * time.Millisecond, RegisterTimeout: 100 * time.Millisecond,
		HungAfter: time.Minute, StopTimeout: 3 * time.Second}, spec)
	runSupervisor(t, s)
	tok := readToken(t, tokenFile)
	assert.NilError(t, s.Register("workflow-runner", tok))
	pid := s.Snapshot()[0].PID
	// Past RegisterTimeout since the start, then drain.
	time.Sleep(150 * time.Millisecond)
	assert.NilError(t, s.Deregister("workflow-runner", tok))

	// Twenty health checks later (well within StopTimeout) it still runs.
	time.Sleep(400 * time.Millisecond)
	st := s.Snapshot()[0]
	assert.Equal(t, st.PID, pid)
	assert.Equal(t, st.Restarts, 0, "killed while draining: %s", st.LastExit)

	poll.WaitOn(t, func(poll.LogT) poll.Result {
		st = s.Snapshot()[0]
		if st.RestartsByReason[ExitHung] == 0 {
			return poll.Continue("not killed yet: %+v", st.RestartsByReason)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second), poll.WithDelay(20*time.Millisecond))
	assert.Assert(t, strings.Contains(st.LastExit, "after deregistering and not exiting within 3s"), st.LastExit)
}
