package supervisor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, ResetAfter: 60 * time.Second}
	var got []time.Duration
	for range 7 {
		got = append(got, b.Next(time.Second))
	}
	ms := time.Millisecond
	assert.DeepEqual(t, got, []time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 2000 * ms, 2000 * ms, 2000 * ms})
	// a healthy run resets it
	assert.Equal(t, b.Next(61*time.Second), 200*ms)
	assert.Equal(t, b.Next(time.Second), 400*ms)
}

func TestDefaultBackoffReachesThirtySeconds(t *testing.T) {
	b := DefaultBackoff(30 * time.Second)
	first := b.Next(0)
	assert.Assert(t, first <= time.Second, "first restart within 1 s, got %s", first)
	var last time.Duration
	for range 20 {
		last = b.Next(0)
	}
	assert.Equal(t, last, 30*time.Second)
}

func TestDescribeAndClassifyExit(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
		reason             ExitReason
		code               int
	}{
		{"clean", "exit 0", "exit status 0", ExitCode, 0},
		{"status", "exit 3", "exit status 3", ExitCode, 3},
		{"killed", "kill -9 $$", "signal 9 (killed)", ExitSignal, 137},
		{"segv", "kill -SEGV $$", "signal 11 (segmentation fault)", ExitSignal, 139},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := exec.Command("/bin/sh", "-c", tc.script).Run()
			assert.Equal(t, describeExit(err), tc.want)
			reason, code := classifyExit(err)
			assert.Equal(t, reason, tc.reason)
			assert.Equal(t, code, tc.code)
		})
	}
}

func TestRestartsAreCountedByReason(t *testing.T) {
	shell := func(script string) func(*testing.T) (Spec, string) {
		return func(*testing.T) (Spec, string) {
			return Spec{Name: "workflow-runner", Command: func() *exec.Cmd { return exec.Command("/bin/sh", "-c", script) }}, ""
		}
	}
	waiting := func(t *testing.T) (Spec, string) { return tokenSpec(t, "workflow-runner") }
	for _, tc := range []struct {
		name     string
		spec     func(*testing.T) (Spec, string) // the spec, and the file it writes its token to
		opts     Options
		register bool // register once, then send no heartbeat
		reason   ExitReason
		code     int // LastExitCode after the first restart
		lastExit string
	}{
		// how the process ended
		{name: "exit status", spec: shell("exit 3"), reason: ExitCode, code: 3, lastExit: "exit status 3"},
		{name: "clean exit", spec: shell("exit 0"), reason: ExitCode, code: 0, lastExit: "exit status 0"},
		{name: "signal", spec: shell("kill -9 $$"), reason: ExitSignal, code: 137, lastExit: "signal 9 (killed)"},
		// the supervisor's kills count under why it killed, not as signals
		{name: "hung", spec: waiting, register: true,
			opts:   Options{HeartbeatInterval: 20 * time.Millisecond, HungAfter: 100 * time.Millisecond},
			reason: ExitHung, code: 137, lastExit: "signal 9 (killed) after no heartbeat for 100ms"},
		{name: "not registered", spec: waiting,
			opts:   Options{HeartbeatInterval: 20 * time.Millisecond, RegisterTimeout: 100 * time.Millisecond},
			reason: ExitNotRegistered, code: 137, lastExit: "signal 9 (killed) after no registration within 100ms"},
		// never ran, so no exit code
		{name: "start failed", spec: func(t *testing.T) (Spec, string) {
			missing := filepath.Join(t.TempDir(), "missing")
			return Spec{Name: "workflow-runner", Command: func() *exec.Cmd { return exec.Command(missing) }}, ""
		}, reason: ExitStartFailed, code: -1, lastExit: "not started: fork/exec "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, tokenFile := tc.spec(t)
			s := New(tc.opts, spec)
			before := s.Snapshot()[0]
			assert.Equal(t, before.LastExitCode, -1)
			for _, reason := range ExitReasons() {
				n, ok := before.RestartsByReason[reason]
				assert.Assert(t, ok && n == 0, "reason %s before any restart: %d (present: %v)", reason, n, ok)
			}
			runSupervisor(t, s)
			if tc.register {
				assert.NilError(t, s.Register("workflow-runner", readToken(t, tokenFile)))
			}

			var st Status
			poll.WaitOn(t, func(poll.LogT) poll.Result {
				if st = s.Snapshot()[0]; st.Restarts == 0 {
					return poll.Continue("state %s, no restart yet", st.State)
				}
				return poll.Success()
			}, poll.WithTimeout(10*time.Second), poll.WithDelay(5*time.Millisecond))
			for _, reason := range ExitReasons() {
				want := 0
				if reason == tc.reason {
					want = st.Restarts // every restart so far ended the same way
				}
				assert.Check(t, is.Equal(st.RestartsByReason[reason], want), "restarts for reason %s", reason)
			}
			assert.Check(t, is.Equal(st.LastExitCode, tc.code))
			assert.Check(t, is.Contains(st.LastExit, tc.lastExit))
			assert.Check(t, !st.Up)
		})
	}
}

// tokenSpec runs a shell that writes its instance token to a file and
// then waits, like a runner that never registers on its own.
func tokenSpec(t *testing.T, name string) (Spec, string) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	return Spec{Name: name, Mode: "native", Command: func() *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `echo "$STIGMER_RUNNER_TOKEN" > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 600`, tokenFile)
	}}, tokenFile
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	var tok string
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		b, err := os.ReadFile(path)
		if err != nil {
			return poll.Continue("no token yet: %v", err)
		}
		tok = strings.TrimSpace(string(b))
		return poll.Success()
	}, poll.WithTimeout(10*time.Second), poll.WithDelay(10*time.Millisecond))
	return tok
}

func TestRegistrationAndReadiness(t *testing.T) {
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{}, spec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	tok := readToken(t, tokenFile)
	ready, reason := s.Ready()
	assert.Assert(t, !ready)
	assert.Equal(t, reason, "workflow-runner is starting")
	assert.Assert(t, !s.Snapshot()[0].Up)

	// failure: wrong name, stale token
	assert.Assert(t, errors.Is(s.Register("nope", tok), ErrUnknownRunner))
	assert.Assert(t, errors.Is(s.Register("workflow-runner", "stale"), ErrUnknownInstance))
	assert.Assert(t, errors.Is(s.Heartbeat("workflow-runner", ""), ErrUnknownInstance))

	// success
	assert.NilError(t, s.Register("workflow-runner", tok))
	ready, _ = s.Ready()
	assert.Assert(t, ready)
	snap := s.Snapshot()
	assert.Equal(t, len(snap), 1)
	assert.Equal(t, snap[0].State, StateUp)
	assert.Assert(t, snap[0].Up)
	assert.Assert(t, snap[0].PID > 0)
	assert.Equal(t, s.Summary(), "workflow-runner up; restarts 0")

	s.BeginStop()
	ready, reason = s.Ready()
	assert.Assert(t, !ready)
	assert.Equal(t, reason, "the server is stopping")
}

// runSupervisor runs s until the test ends.
func runSupervisor(t *testing.T, s *Supervisor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// pingWithin pings s with a timeout.
func pingWithin(s *Supervisor, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Ping(ctx)
}

func TestPingFailsWhileALoopIsStuck(t *testing.T) {
	// The loop is stuck in a state-change callback that never returns, a
	// stand-in for a deadlock in the server: the watchdog must stop.
	release := make(chan struct{})
	var once sync.Once
	spec, tokenFile := tokenSpec(t, "agent-runner")
	s := New(Options{OnChange: func() { <-release }}, spec)
	runSupervisor(t, s)
	defer once.Do(func() { close(release) })

	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if _, err := os.Stat(tokenFile); err != nil {
			return poll.Continue("runner not started yet")
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	assert.ErrorContains(t, pingWithin(s, 200*time.Millisecond), "supervisor loop of agent-runner does not answer")

	once.Do(func() { close(release) })
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if err := pingWithin(s, 200*time.Millisecond); err != nil {
			return poll.Continue("%v", err)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
}

func TestPingAnswersWhileASlowPrepareRuns(t *testing.T) {
	// A slow pre-start step (a container engine taking its time to remove
	// a stale container) is not a stuck loop: pings are answered all
	// along, and the runner starts once the step is done.
	release := make(chan struct{})
	prepared := make(chan struct{})
	spec, tokenFile := tokenSpec(t, "agent-runner")
	spec.Prepare = func(ctx context.Context) error {
		close(prepared)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return errors.New("slow engine")
	}
	s := New(Options{}, spec)
	runSupervisor(t, s)

	<-prepared
	for range 3 {
		assert.NilError(t, pingWithin(s, 5*time.Second), "a loop running a slow step did not answer")
	}
	_, err := os.Stat(tokenFile)
	assert.Assert(t, errors.Is(err, os.ErrNotExist), "runner started before its pre-start step ended")
	close(release)
	readToken(t, tokenFile)
}

func TestHungRunnerIsKilledAndRestarted(t *testing.T) {
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{HeartbeatInterval: 20 * time.Millisecond, HungAfter: 100 * time.Millisecond}, spec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	tok := readToken(t, tokenFile)
	assert.NilError(t, s.Register("workflow-runner", tok))
	// no heartbeats follow: the runner counts as hung
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		snap := s.Snapshot()[0]
		if snap.Restarts == 0 {
			return poll.Continue("state %s, restarts 0", snap.State)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	snap := s.Snapshot()[0]
	assert.Assert(t, is.Contains(snap.LastExit, "signal 9 (killed) after no heartbeat for 100ms"))
}

func TestOutputGivesEachRunnerItsOwnStream(t *testing.T) {
	dir := t.TempDir()
	var opened []string
	var mu sync.Mutex
	s := New(Options{Output: func(runner string) (*os.File, string, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, runner)
		f, err := os.Create(filepath.Join(dir, runner+".out"))
		return f, "7:42", err
	}}, Spec{Name: "agent-runner", Command: func() *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `echo "stream $JOURNAL_STREAM"; echo "trace" >&2; exec sleep 600`)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	poll.WaitOn(t, func(poll.LogT) poll.Result {
		b, _ := os.ReadFile(filepath.Join(dir, "agent-runner.out"))
		if string(b) != "stream 7:42\ntrace\n" {
			return poll.Continue("output so far: %q", b)
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	mu.Lock()
	defer mu.Unlock()
	assert.DeepEqual(t, opened, []string{"agent-runner"})
}

// TestLifecycleTellsEachStartAndEnd: a runner killed by a signal, then the
// server's stop, as the history sees them.
func TestLifecycleTellsEachStartAndEnd(t *testing.T) {
	var mu sync.Mutex
	var got []Lifecycle
	record := func(l Lifecycle) { mu.Lock(); got = append(got, l); mu.Unlock() }
	seen := func() []Lifecycle { mu.Lock(); defer mu.Unlock(); return append([]Lifecycle{}, got...) }
	spec, tokenFile := tokenSpec(t, "workflow-runner")
	s := New(Options{OnLifecycle: record}, spec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()

	readToken(t, tokenFile)
	first := s.Snapshot()[0].PID
	assert.NilError(t, os.Remove(tokenFile))
	assert.NilError(t, syscall.Kill(first, syscall.SIGKILL))
	readToken(t, tokenFile)
	cancel()
	<-done

	l := seen()
	assert.Equal(t, len(l), 4, "%+v", l)
	assert.DeepEqual(t, l[0], Lifecycle{Runner: "workflow-runner", PID: first})
	assert.Equal(t, l[1].PID, first)
	assert.Assert(t, l[1].Exited && !l[1].Stopping)
	assert.Equal(t, l[1].Reason, ExitSignal)
	assert.Equal(t, l[1].Exit, "signal 9 (killed)")
	assert.Assert(t, l[1].RestartIn > 0)
	assert.Assert(t, !l[2].Exited && l[2].PID != first)
	assert.Assert(t, l[3].Exited && l[3].Stopping, "%+v", l[3])
	assert.Equal(t, l[3].PID, l[2].PID)
}
