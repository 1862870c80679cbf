package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Spec says how to start one runner.
type Spec struct {
	Name string // "workflow-runner", "agent-runner"
	Mode string // "native" or "container", for status
	// Command returns a new, unstarted command for one run. The supervisor
	// adds the environment (Env plus the instance token), the process
	// attributes and stdio.
	Command func() *exec.Cmd
	// Prepare, when set, runs before every start; its error is logged and
	// the start goes ahead (removing a stale container is best effort).
	Prepare func(ctx context.Context) error
}

// Options tune the supervisor; zero values take the defaults below.
type Options struct {
	Log *slog.Logger
	// Env is the environment of every runner (the supervisor adds
	// STIGMER_RUNNER_TOKEN and STIGMER_HEARTBEAT_INTERVAL).
	Env []string
	// Stdout and Stderr of the runners: the server's own, so that their
	// lines reach the same journal stream or dev log file.
	Stdout, Stderr *os.File
	// Output, when set, opens a runner's own stdout and stderr for each
	// start (a journal stream tagged with its name) and returns the
	// JOURNAL_STREAM value describing it. The supervisor closes it once the
	// runner has started; on error it logs and uses Stdout and Stderr.
	Output func(runner string) (*os.File, string, error)
	// RestartMaxDelay caps the backoff (default 30 s).
	RestartMaxDelay time.Duration
	// HeartbeatInterval is how often runners report (default 1 s).
	HeartbeatInterval time.Duration
	// HungAfter is how long without a heartbeat makes a runner hung, to be
	// killed and restarted (default 10 s).
	HungAfter time.Duration
	// RegisterTimeout is how long a started runner may take to register
	// (default 60 s: a container image may need pulling).
	RegisterTimeout time.Duration
	// StopTimeout is how long runners get to exit after SIGTERM before
	// SIGKILL (default 10 s, below the unit's TimeoutStopSec).
	StopTimeout time.Duration
	// OnChange is called, outside any lock, after a runner's state changed.
	OnChange func()
	// OnLifecycle, when set, is told of every start and end of a runner,
	// outside any lock, from the runner's own loop (the server records
	// them in its history; a slow call delays only that runner).
	OnLifecycle func(Lifecycle)
}

// Lifecycle is one start or end of a runner.
type Lifecycle struct {
	Runner string
	PID    int
	// Exited is false for a start. For an end, Exit says how it ended,
	// Hung whether the supervisor killed it for hanging, Stopping whether
	// the server's stop ended it, RestartIn the delay before the next start.
	Exited    bool
	Exit      string
	Hung      bool
	Stopping  bool
	RestartIn time.Duration
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.RestartMaxDelay == 0 {
		o.RestartMaxDelay = 30 * time.Second
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.HungAfter == 0 {
		o.HungAfter = 10 * time.Second
	}
	if o.RegisterTimeout == 0 {
		o.RegisterTimeout = 60 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.OnLifecycle == nil {
		o.OnLifecycle = func(Lifecycle) {}
	}
}

// Runner states as status shows them.
const (
	StateStarting   = "starting"   // process started, not registered yet
	StateUp         = "up"         // registered and heartbeating
	StateRestarting = "restarting" // exited, waiting out the backoff
	StateStopping   = "stopping"   // SIGTERM sent on shutdown
	StateStopped    = "stopped"    // exited on shutdown
)

// Errors of Register, Heartbeat and Deregister.
var (
	ErrUnknownRunner   = errors.New("no such runner")
	ErrUnknownInstance = errors.New("this runner instance is not the one the server started (stale token)")
	ErrStopping        = errors.New("the server is stopping")
)

// Supervisor keeps the runners running. Its methods are safe for
// concurrent use.
type Supervisor struct {
	opts     Options
	runners  []*runner // in Spec order
	mu       sync.Mutex
	stopping bool

	hurry     chan struct{} // closed by Hurry
	hurryOnce sync.Once
}

// Hurry makes the stop immediate: runners still stopping get SIGKILL now
// instead of after StopTimeout. Safe to call more than once, from any
// goroutine.
func (s *Supervisor) Hurry() { s.hurryOnce.Do(func() { close(s.hurry) }) }

// runner is one supervised child; fields below mu are guarded by
// Supervisor.mu.
type runner struct {
	spec    Spec
	backoff Backoff
	ping    chan chan struct{} // liveness round trips to the manage loop

	pid           int
	state         string
	startedAt     time.Time
	restarts      int
	lastExit      string
	lastExitAt    time.Time
	restartDelay  time.Duration
	token         string
	registered    bool
	lastHeartbeat time.Time
	// killedHung marks, between the kill and the exit, a run the
	// supervisor killed for hanging.
	killedHung bool
}

// New returns a supervisor for specs; Run starts them.
func New(opts Options, specs ...Spec) *Supervisor {
	opts.defaults()
	s := &Supervisor{opts: opts, hurry: make(chan struct{})}
	for _, spec := range specs {
		s.runners = append(s.runners, &runner{
			spec:    spec,
			backoff: DefaultBackoff(opts.RestartMaxDelay),
			ping:    make(chan chan struct{}),
			state:   StateStarting,
		})
	}
	return s
}

// Run starts every runner and keeps it running until ctx is done, then
// stops them (SIGTERM, StopTimeout, SIGKILL). It returns only after every
// child has been reaped.
func (s *Supervisor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.runners {
		wg.Go(func() { s.manage(ctx, r) })
	}
	<-ctx.Done()
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	wg.Wait()
}

// BeginStop makes Ready false and refuses new registrations, ahead of the
// context being cancelled: the API says "stopping" from the first moment.
func (s *Supervisor) BeginStop() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.opts.OnChange()
}

// manage runs r until ctx is done: start, watch, back off, start again.
// It starts nothing once the server is stopping.
func (s *Supervisor) manage(ctx context.Context, r *runner) {
	log := s.opts.Log.With("runner", r.spec.Name)
	for {
		s.prepare(ctx, r, log)
		started := time.Now()
		how, pid, exitErr := s.runOnce(ctx, r, log)
		if errors.Is(exitErr, errNotStarting) || ctx.Err() != nil {
			if !errors.Is(exitErr, errNotStarting) {
				s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: pid, Exited: true, Exit: how, Stopping: true})
			}
			s.update(r, func() {
				r.state, r.pid, r.token, r.registered = StateStopped, 0, "", false
				if !errors.Is(exitErr, errNotStarting) {
					r.lastExit, r.lastExitAt = how, time.Now()
				}
			})
			if errors.Is(exitErr, errNotStarting) {
				log.Info("runner not started: the server is stopping")
			} else {
				log.Info("runner stopped", "exit", how)
			}
			return
		}
		delay := r.backoff.Next(time.Since(started))
		var restarts int
		var hung bool
		s.update(r, func() {
			hung = r.killedHung
			r.restarts++
			restarts = r.restarts
			r.state, r.pid, r.lastExit, r.lastExitAt, r.restartDelay = StateRestarting, 0, how, time.Now(), delay
			// The exited instance's token dies with it: through the
			// backoff nothing may register or heartbeat in its name.
			r.token, r.registered = "", false
		})
		log.Warn("runner exited; restarting", "exit", how, "restarts", restarts, "restart_in", delay.String(), "err", errString(exitErr))
		s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: pid, Exited: true, Exit: how, Hung: hung, RestartIn: delay})
		if !s.wait(ctx, r, delay) {
			s.update(r, func() { r.state = StateStopped })
			log.Info("runner not restarted: the server is stopping")
			return
		}
	}
}

// prepare runs the spec's Prepare step (removing a stale container, which
// a slow container engine can take many seconds over) while the loop goes
// on answering liveness pings: a slow step is not a stuck server, and the
// watchdog must not kill it for one. The step itself is bounded (see
// container.Runtime.RemoveStale) and stops when ctx ends.
func (s *Supervisor) prepare(ctx context.Context, r *runner, log *slog.Logger) {
	if r.spec.Prepare == nil {
		return
	}
	done := make(chan error, 1)
	go func() { done <- r.spec.Prepare(ctx) }()
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				log.Warn("preparing runner start; starting it anyway", "err", err)
			}
			return
		case reply := <-r.ping:
			close(reply)
		}
	}
}

func errString(err error) string {
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		return ""
	}
	return err.Error()
}

// wait sleeps d while answering liveness pings; false when ctx ended it.
func (s *Supervisor) wait(ctx context.Context, r *runner, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case reply := <-r.ping:
			close(reply)
		}
	}
}

// errNotStarting is runOnce's answer when the server is stopping: the
// runner was not started, and must not be.
var errNotStarting = errors.New("not started: the server is stopping")

// runOnce starts one run of r and returns when it has exited and been
// reaped, with how it ended (a description, the PID it had, and the exit
// error). A failed start counts as an exit; a start refused because the
// server is stopping returns errNotStarting.
func (s *Supervisor) runOnce(ctx context.Context, r *runner, log *slog.Logger) (string, int, error) {
	token, err := newToken()
	if err != nil {
		return "not started: " + err.Error(), 0, err
	}
	cmd := r.spec.Command()
	cmd.Env = append(append([]string{}, s.opts.Env...),
		"STIGMER_RUNNER_TOKEN="+token,
		"STIGMER_HEARTBEAT_INTERVAL="+s.opts.HeartbeatInterval.String())
	cmd.Stdout, cmd.Stderr = s.opts.Stdout, s.opts.Stderr
	if s.opts.Output != nil {
		out, streamEnv, err := s.opts.Output(r.spec.Name)
		if err != nil {
			log.Warn("runner output goes to the server's stderr", "err", err)
		} else {
			defer out.Close() // the child holds its own copy
			cmd.Stdout, cmd.Stderr = out, out
			cmd.Env = append(cmd.Env, "JOURNAL_STREAM="+streamEnv) // the last value wins
		}
	}
	cmd.SysProcAttr = procAttr()
	c, err := startChild(cmd, func() error { return s.start(ctx, r, cmd, token) })
	if errors.Is(err, errNotStarting) {
		return err.Error(), 0, err
	}
	s.opts.OnChange()
	if err != nil {
		return "not started: " + err.Error(), 0, err
	}
	log.Info("runner started", "pid", c.pid, "mode", r.spec.Mode)
	s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: c.pid})
	err = s.watch(ctx, r, c, log)
	return s.describe(r, err), c.pid, err
}

// start starts cmd unless the server is stopping. It holds the lock from
// the check to the end of cmd.Start, so that shutdown (BeginStop, or Run
// seeing ctx end) either comes first and nothing starts, or comes after
// and finds the runner to stop. The token is in place before the process
// exists: a fast runner's registration waits for the lock and then
// matches, instead of getting a conflict for a token not yet recorded.
func (s *Supervisor) start(ctx context.Context, r *runner, cmd *exec.Cmd, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || ctx.Err() != nil {
		return errNotStarting
	}
	r.token, r.state, r.registered, r.killedHung = token, StateStarting, false, false
	if err := cmd.Start(); err != nil {
		r.token = ""
		return err
	}
	r.pid, r.startedAt = cmd.Process.Pid, time.Now()
	return nil
}

// describe is how the run ended, with the reason when the supervisor
// killed it for hanging.
func (s *Supervisor) describe(r *runner, err error) string {
	how := describeExit(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.killedHung {
		how += " after no heartbeat for " + s.opts.HungAfter.String()
	}
	return how
}

// watch waits for the child to exit, killing it when it hangs and
// stopping it when ctx is done. It returns Wait's error.
func (s *Supervisor) watch(ctx context.Context, r *runner, c *child, log *slog.Logger) error {
	tick := time.NewTicker(s.opts.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case err := <-c.exited:
			return err
		case <-ctx.Done():
			return s.stop(r, c, log)
		case <-tick.C:
			if reason := s.hung(r); reason != "" {
				log.Error("runner hung; killing it", "pid", c.pid, "reason", reason)
				s.update(r, func() { r.state, r.killedHung = StateRestarting, true })
				c.signalGroup(syscall.SIGKILL)
			}
		case reply := <-r.ping:
			close(reply)
		}
	}
}

// stop sends SIGTERM, waits up to StopTimeout, then SIGKILLs.
func (s *Supervisor) stop(r *runner, c *child, log *slog.Logger) error {
	s.update(r, func() { r.state = StateStopping })
	c.signalGroup(syscall.SIGTERM)
	t := time.NewTimer(s.opts.StopTimeout)
	defer t.Stop()
	select {
	case err := <-c.exited:
		return err
	case <-t.C:
		log.Warn("runner did not stop in time; killing it", "pid", c.pid, "timeout", s.opts.StopTimeout.String())
		c.signalGroup(syscall.SIGKILL)
		return <-c.exited
	case <-s.hurry:
		log.Warn("stopping now; killing runner", "pid", c.pid)
		c.signalGroup(syscall.SIGKILL)
		return <-c.exited
	}
}

// hung says why r must be killed, or "" when it is healthy.
func (s *Supervisor) hung(r *runner) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	switch {
	case r.killedHung:
		return ""
	case r.registered && now.Sub(r.lastHeartbeat) > s.opts.HungAfter:
		return fmt.Sprintf("no heartbeat for %s", now.Sub(r.lastHeartbeat).Round(time.Millisecond))
	case !r.registered && now.Sub(r.startedAt) > s.opts.RegisterTimeout:
		return fmt.Sprintf("not registered %s after start", s.opts.RegisterTimeout)
	}
	return ""
}

// update changes r under the lock, then reports the change.
func (s *Supervisor) update(r *runner, change func()) {
	s.mu.Lock()
	change()
	s.mu.Unlock()
	s.opts.OnChange()
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a runner token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Ping checks that every runner's manage loop answers, which proves the
// supervisor is not stuck. The watchdog is pinged only after it succeeds.
func (s *Supervisor) Ping(ctx context.Context) error {
	for _, r := range s.runners {
		reply := make(chan struct{})
		select {
		case r.ping <- reply:
		case <-ctx.Done():
			return fmt.Errorf("supervisor loop of %s does not answer: %w", r.spec.Name, ctx.Err())
		}
		select {
		case <-reply:
		case <-ctx.Done():
			return fmt.Errorf("supervisor loop of %s does not answer: %w", r.spec.Name, ctx.Err())
		}
	}
	return nil
}
