package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// Env is the runner's environment, NAME=value; the supervisor adds
	// STIGMER_RUNNER_TOKEN and STIGMER_HEARTBEAT_INTERVAL, and
	// JOURNAL_STREAM when it gives the runner a stream of its own.
	Env []string
	// ControlFD gives each run one end of a socket pair for its control
	// channel, as a file descriptor named in STIGMER_CONTROL_FD; the other
	// end goes to Options.Control. A container, which cannot inherit it,
	// reaches the server's socket instead.
	ControlFD bool
	// Prepare, when set, runs before every start; its error is logged and
	// the start goes ahead (removing a stale container is best effort).
	Prepare func(ctx context.Context) error
	// Kill, when set, runs before the supervisor SIGKILLs a run (a hung
	// runner, or one still running StopTimeout after SIGTERM): it stops
	// what that signal would not reach (`docker kill` of the container,
	// which the engine, not the client, runs). It must be bounded; its
	// error is logged and the SIGKILL follows.
	Kill func(ctx context.Context) error
}

// Options tune the supervisor; zero values take the defaults below.
type Options struct {
	Log *slog.Logger
	// Stdout and Stderr of the runners: the server's own, so that their
	// lines reach the same journal stream or dev log file.
	Stdout, Stderr *os.File
	// Output, when set, opens a runner's own stdout and stderr for each
	// start (a journal stream tagged with its name) and returns the
	// JOURNAL_STREAM value describing it. The supervisor closes it once the
	// runner has started; on error it logs and uses Stdout and Stderr.
	Output func(runner string) (*os.File, string, error)
	// Control serves the supervisor's end of a run's control channel (see
	// Spec.ControlFD), on a goroutine of its own; it returns when the
	// runner closes its end, and closes conn.
	Control func(conn net.Conn)
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
	// Reason how the restart is counted, Stopping whether the server's
	// stop ended it, RestartIn the delay before the next start.
	Exited    bool
	Exit      string
	Reason    ExitReason
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

	pid        int
	state      string
	startedAt  time.Time
	restartsBy map[ExitReason]int // every reason, from New on
	lastExit   string
	lastExitAt time.Time
	// lastExitCode is the exit code (see classifyExit) of the last run
	// that ran; -1 before the first.
	lastExitCode  int
	restartDelay  time.Duration
	token         string
	registered    bool
	lastHeartbeat time.Time
	// deregisteredAt is when this run deregistered to drain (zero before):
	// from then it has StopTimeout to exit, as after a SIGTERM.
	deregisteredAt time.Time
	// killedFor is, between the kill and the exit, why the supervisor
	// killed the run (ExitHung, ExitNotRegistered); "" otherwise.
	killedFor ExitReason
}

// restarts is the total of restartsBy. s.mu is held.
func (r *runner) restarts() int {
	n := 0
	for _, c := range r.restartsBy {
		n += c
	}
	return n
}

// New returns a supervisor for specs; Run starts them.
func New(opts Options, specs ...Spec) *Supervisor {
	opts.defaults()
	s := &Supervisor{opts: opts, hurry: make(chan struct{})}
	for _, spec := range specs {
		r := &runner{
			spec:         spec,
			backoff:      DefaultBackoff(opts.RestartMaxDelay),
			ping:         make(chan chan struct{}),
			state:        StateStarting,
			restartsBy:   map[ExitReason]int{},
			lastExitCode: -1,
		}
		// Every reason counts from zero, so that a reason's first restart
		// is an increase and not a new series.
		for _, reason := range ExitReasons() {
			r.restartsBy[reason] = 0
		}
		s.runners = append(s.runners, r)
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
		end := s.runOnce(ctx, r, log)
		notStarted := errors.Is(end.err, errNotStarting)
		if notStarted || ctx.Err() != nil {
			if !notStarted {
				s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: end.pid, Exited: true, Exit: end.how, Reason: end.reason, Stopping: true})
			}
			s.update(r, func() {
				r.state, r.pid, r.token, r.registered = StateStopped, 0, "", false
				if !notStarted {
					r.recordExit(end)
				}
			})
			if notStarted {
				log.Info("runner not started: the server is stopping")
			} else {
				log.Info("runner stopped", "exit", end.how)
			}
			return
		}
		delay := r.backoff.Next(time.Since(started))
		var restarts int
		s.update(r, func() {
			r.restartsBy[end.reason]++
			restarts = r.restarts()
			r.recordExit(end)
			r.state, r.pid, r.restartDelay = StateRestarting, 0, delay
			// The exited instance's token dies with it: through the
			// backoff nothing may register or heartbeat in its name.
			r.token, r.registered = "", false
		})
		log.Warn("runner exited; restarting", "exit", end.how, "reason", string(end.reason), "restarts", restarts,
			"restart_in", delay.String(), "err", errString(end.err))
		s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: end.pid, Exited: true, Exit: end.how, Reason: end.reason, RestartIn: delay})
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

// runEnd is how one run ended.
type runEnd struct {
	how    string     // for logs and status: "exit status 3", "signal 9 (killed) after no heartbeat for 10s"
	reason ExitReason // as the restart is counted
	code   int        // see classifyExit; -1 when it never ran
	err    error      // the start's or Wait's error
	pid    int        // 0 when it never ran
}

func startFailed(err error) runEnd {
	return runEnd{how: "not started: " + err.Error(), reason: ExitStartFailed, code: -1, err: err}
}

// recordExit keeps end as r's last exit; a start that failed leaves the
// exit code of the last run that ran. s.mu is held.
func (r *runner) recordExit(end runEnd) {
	r.lastExit, r.lastExitAt = end.how, time.Now()
	if end.reason != ExitStartFailed {
		r.lastExitCode = end.code
	}
}

// runOnce starts one run of r and returns when it has exited and been
// reaped, with how it ended. A failed start counts as an exit
// (ExitStartFailed); a start refused because the server is stopping ends
// with errNotStarting.
func (s *Supervisor) runOnce(ctx context.Context, r *runner, log *slog.Logger) runEnd {
	token, err := newToken()
	if err != nil {
		return startFailed(err)
	}
	cmd := r.spec.Command()
	cmd.Env = append(append([]string{}, r.spec.Env...),
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
	serve, err := s.controlChannel(r, cmd)
	if err != nil {
		return startFailed(err)
	}
	c, err := startChild(cmd, func() error { return s.start(ctx, r, cmd, token) })
	serve(err == nil)
	if errors.Is(err, errNotStarting) {
		return runEnd{how: err.Error(), code: -1, err: err}
	}
	s.opts.OnChange()
	if err != nil {
		return startFailed(err)
	}
	log.Info("runner started", "pid", c.pid, "mode", r.spec.Mode)
	s.opts.OnLifecycle(Lifecycle{Runner: r.spec.Name, PID: c.pid})
	err = s.watch(ctx, r, c, log)
	end := s.ended(r, err)
	end.pid = c.pid
	return end
}

// controlChannel gives cmd its end of a socket pair when r's spec asks for
// one. Once the start was tried, serve(started) closes the supervisor's
// copy of the runner's end (the runner holds its own), and either serves
// the other end or, when the runner did not start, closes it.
func (s *Supervisor) controlChannel(r *runner, cmd *exec.Cmd) (serve func(started bool), err error) {
	if !r.spec.ControlFD || s.opts.Control == nil {
		return func(bool) {}, nil
	}
	runnerEnd, ours, err := socketPair(r.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("making the control channel: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, runnerEnd)
	cmd.Env = append(cmd.Env, fmt.Sprintf("STIGMER_CONTROL_FD=%d", 2+len(cmd.ExtraFiles)))
	return func(started bool) {
		runnerEnd.Close()
		if !started {
			ours.Close()
			return
		}
		go s.opts.Control(ours)
	}, nil
}

// socketPair is a connected pair of Unix stream sockets, close-on-exec:
// the runner's end as a file to pass, and ours as a connection.
func socketPair(name string) (*os.File, net.Conn, error) {
	syscall.ForkLock.RLock() // no fork may inherit them before close-on-exec is set
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	runnerEnd := os.NewFile(uintptr(fds[0]), "control-"+name)
	f := os.NewFile(uintptr(fds[1]), "control-"+name)
	defer f.Close() // FileConn keeps a duplicate
	ours, err := net.FileConn(f)
	if err != nil {
		runnerEnd.Close()
		return nil, nil, err
	}
	return runnerEnd, ours, nil
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
	r.token, r.state, r.registered, r.killedFor, r.deregisteredAt = token, StateStarting, false, "", time.Time{}
	if err := cmd.Start(); err != nil {
		r.token = ""
		return err
	}
	r.pid, r.startedAt = cmd.Process.Pid, time.Now()
	return nil
}

// ended is how a run that ran ended, given Wait's err: when the
// supervisor killed it, its reason for the kill, else how the process
// ended.
func (s *Supervisor) ended(r *runner, err error) runEnd {
	end := runEnd{how: describeExit(err), err: err}
	end.reason, end.code = classifyExit(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.killedFor {
	case ExitHung:
		after := " after no heartbeat for " + s.opts.HungAfter.String()
		if !r.deregisteredAt.IsZero() {
			after = " after deregistering and not exiting within " + s.opts.StopTimeout.String()
		}
		end.reason, end.how = ExitHung, end.how+after
	case ExitNotRegistered:
		end.reason, end.how = ExitNotRegistered, end.how+" after no registration within "+s.opts.RegisterTimeout.String()
	}
	return end
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
			if reason, detail := s.hung(r); reason != "" {
				log.Error("runner hung; killing it", "pid", c.pid, "reason", detail)
				s.update(r, func() { r.state, r.killedFor = StateRestarting, reason })
				s.kill(r, c, log)
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
		s.kill(r, c, log)
		return <-c.exited
	case <-s.hurry:
		log.Warn("stopping now; killing runner", "pid", c.pid)
		s.kill(r, c, log)
		return <-c.exited
	}
}

// kill SIGKILLs the run c of r. The spec's Kill step comes first, on a
// goroutine of its own, so that the loop calling this goes on answering
// the health check (and sees the run end) while a slow container engine
// answers.
func (s *Supervisor) kill(r *runner, c *child, log *slog.Logger) {
	if r.spec.Kill == nil {
		c.signalGroup(syscall.SIGKILL)
		return
	}
	go func() {
		if err := r.spec.Kill(context.Background()); err != nil {
			log.Warn("killing the runner's container failed; killing its client anyway", "pid", c.pid, "err", err)
		}
		c.signalGroup(syscall.SIGKILL)
	}()
}

// hung says why r must be killed (ExitHung or ExitNotRegistered, and the
// details for the log), or "" when it is healthy or already being killed.
func (s *Supervisor) hung(r *runner) (ExitReason, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	switch {
	case r.killedFor != "":
		return "", ""
	case !r.deregisteredAt.IsZero(): // draining: no heartbeats, no registration
		if d := now.Sub(r.deregisteredAt); d > s.opts.StopTimeout {
			return ExitHung, fmt.Sprintf("still running %s after deregistering", d.Round(time.Millisecond))
		}
		return "", ""
	case r.registered && now.Sub(r.lastHeartbeat) > s.opts.HungAfter:
		return ExitHung, fmt.Sprintf("no heartbeat for %s", now.Sub(r.lastHeartbeat).Round(time.Millisecond))
	case !r.registered && now.Sub(r.startedAt) > s.opts.RegisterTimeout:
		return ExitNotRegistered, fmt.Sprintf("not registered %s after start", s.opts.RegisterTimeout)
	}
	return "", ""
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
