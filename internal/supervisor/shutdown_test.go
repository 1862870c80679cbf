package supervisor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"
)

// waitState waits until the only runner of s is in state.
func waitState(t *testing.T, s *Supervisor, state string) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if st := s.Snapshot()[0]; st.State != state {
			return poll.Continue("state %s, restarts %d", st.State, st.Restarts)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
}

func TestNoStartWhenStoppingDuringPrepare(t *testing.T) {
	release := make(chan struct{})
	prepared := make(chan struct{})
	spec, tokenFile := tokenSpec(t, "agent-runner")
	spec.Prepare = func(ctx context.Context) error {
		close(prepared)
		<-release // a slow step that ends on its own, not with ctx
		return nil
	}
	s := New(Options{}, spec)
	runSupervisor(t, s)

	<-prepared
	s.BeginStop()
	close(release)
	waitState(t, s, StateStopped)
	_, err := os.Stat(tokenFile)
	assert.Assert(t, os.IsNotExist(err), "a runner was started after BeginStop")
}

func TestNoStartWhenStoppingDuringBackoff(t *testing.T) {
	// Each run records its start and exits at once: the runner is mostly
	// waiting out its backoff.
	starts := filepath.Join(t.TempDir(), "starts")
	spec := Spec{Name: "workflow-runner", Mode: "native", Command: func() *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `echo start >> "$0"; exit 1`, starts)
	}}
	s := New(Options{}, spec)
	runSupervisor(t, s)

	waitState(t, s, StateRestarting)
	s.BeginStop()
	waitState(t, s, StateStopped)
	// Every run started exited and was counted; none started after the
	// last backoff.
	b, err := os.ReadFile(starts)
	assert.NilError(t, err)
	assert.Equal(t, strings.Count(string(b), "start"), s.Snapshot()[0].Restarts)
}
