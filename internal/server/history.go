package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// CrashFile, in the log directory, receives the Go runtime's output when
// the server dies of a panic or fatal error (debug.SetCrashOutput); it is
// emptied at each start, so it holds the last run's crash only.
const CrashFile = "crash.log"

// record is the server's history and alerting: the store (nil while the
// history is off, with the reason in off), the alert sender and limiter,
// and each runner's recent restarts.
type record struct {
	s      *server
	store  atomic.Pointer[history.Store]
	alerts *alerter
	// wake asks keepOpen to open the history again at once (it was found
	// damaged while the server ran).
	wake chan struct{}

	// prevEnd is how the previous run ended, prevAt when (zero: unknown).
	prevEnd string
	prevAt  time.Time

	mu       sync.Mutex
	off      error                  // why the history is off; nil while on
	restarts map[string][]time.Time // per runner, within the alert window
}

// openRecord opens the history. A history that cannot be opened (newer,
// full disk, held by a reader) is said in the journal and in status, the
// server runs on without it, and keepOpen tries again; a damaged one is
// moved aside and a new one started (see reopen). Never a crash loop
// because of the history.
func openRecord(s *server) *record {
	r := &record{s: s, restarts: map[string][]time.Time{}, wake: make(chan struct{}, 1)}
	r.alerts = newAlerter(s.o.Config.Alerts, recordState{r}, s.o.Log, r.add, r.current)
	if err := r.reopen(); err != nil {
		s.o.Log.Error("history off: lifecycle events are not recorded; retrying in the background", "err", err)
	}
	return r
}

// current is the open store, or nil while the history is off. Safe from
// any goroutine.
func (r *record) current() *history.Store { return r.store.Load() }

// reopen opens the history, moving a damaged file aside (and saying so:
// an event in the new history, and an alert). It returns why the history
// stays off.
func (r *record) reopen() error {
	st, reset, err := history.OpenOrReset(r.s.o.Config.DataDir, history.Options{}, time.Now())
	r.mu.Lock()
	r.off = err
	r.mu.Unlock()
	if err != nil {
		return err
	}
	r.store.Store(st)
	if reset != nil {
		r.historyReset(reset)
	}
	return nil
}

// historyReset records and raises that a damaged history was moved aside.
func (r *record) historyReset(reset *history.Reset) {
	e, a := resetReport(reset, r.s.o.Info.Version)
	r.s.o.Log.Error(e.Reason, "broken", reset.Broken)
	r.add(e)
	r.raise(a)
}

// resetReport is the event and the alert about a history moved aside, for
// the server and its ExecStopPost alike.
func resetReport(reset *history.Reset, version string) (history.Event, alert.Alert) {
	reason := fmt.Sprintf("the history was damaged (%v) and is kept as %s for inspection; a new history starts", reset.Why, reset.Broken)
	a := newAlert(alert.HistoryBroken, "history", version)
	a.Summary = fmt.Sprintf("stigmer on %s: %s", a.Host, reason)
	return history.Event{Kind: history.HistoryBroken, Component: "server", Reason: reason, Unclean: true}, a
}

// Retry bounds of keepOpen.
const (
	reopenFirst = time.Second
	reopenMax   = time.Minute
)

// keepOpen opens the history again while it is off, backing off from 1 s
// to a minute: a full disk, a file a reader held at the start or a
// directory fixed by hand must not leave it off until the next restart,
// which may be months away. A file of a newer stigmer stays off. It
// returns when ctx ends.
func (r *record) keepOpen(ctx context.Context) {
	delay := reopenFirst
	attempts := 0
	for {
		wait := delay
		if r.current() != nil || errors.Is(r.offErr(), history.ErrNewerFormat) {
			wait = -1 // until woken
		}
		if !r.sleep(ctx, wait) {
			return
		}
		if r.current() != nil {
			continue
		}
		attempts++
		if err := r.reopen(); err != nil {
			delay = min(2*delay, reopenMax)
			r.s.o.Log.Debug("history still off", "err", err, "attempts", attempts, "next_in", delay.String())
			continue
		}
		r.s.o.Log.Info("history on again", "path", r.current().Path(), "attempts", attempts)
		delay, attempts = reopenFirst, 0
	}
}

// sleep waits d (for ever when negative) or until woken; false when ctx
// ended it.
func (r *record) sleep(ctx context.Context, d time.Duration) bool {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-r.wake:
	case <-timer:
	}
	return true
}

func (r *record) offErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.off
}

// lose turns the history off after st was found damaged while the server
// ran, and has keepOpen move it aside and start a new one.
func (r *record) lose(st *history.Store, err error) {
	if !r.store.CompareAndSwap(st, nil) {
		return // already lost
	}
	r.mu.Lock()
	r.off = err
	r.mu.Unlock()
	r.s.o.Log.Error("history off: the file was found damaged; moving it aside", "err", err)
	st.Close()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// recordState is the history as the alert limiter's store: the current
// one, or none while the history is off.
type recordState struct{ r *record }

func (rs recordState) Get(name string, v any) (bool, error) {
	if st := rs.r.current(); st != nil {
		return st.Get(name, v)
	}
	return false, nil
}

func (rs recordState) Put(name string, v any) error {
	if st := rs.r.current(); st != nil {
		return st.Put(name, v)
	}
	return nil
}

// add records e; a failure is logged, and the server goes on.
func (r *record) add(e history.Event) {
	st := r.current()
	if st == nil {
		return
	}
	if err := st.Add(e); err != nil {
		r.s.o.Log.Error("history: event not recorded", "kind", e.Kind, "err", err)
		if errors.Is(err, history.ErrDamaged) {
			r.lose(st, err)
		}
	}
}

// oomBaselineRecord is the state record holding the unit's OOM kill count
// as of the server's start or its last runner's death: a count above it
// when the server dies by SIGKILL means the OOM killer killed the server.
const oomBaselineRecord = "oom-baseline"

// noteOOMKills records the unit's OOM kill count as the baseline, and
// says whether it rose since the last baseline (a runner that just died
// by SIGKILL was the OOM killer's then).
func (r *record) noteOOMKills() bool {
	st := r.current()
	n, known, rose := oomKillsRose(st)
	if !known {
		return false
	}
	if err := st.Put(oomBaselineRecord, n); err != nil {
		r.s.o.Log.Warn("history: OOM kill count not recorded", "err", err)
	}
	return rose
}

// started records the server's start with how its previous run ended, and
// points the Go runtime's crash output at the log directory.
func (r *record) started() {
	r.catchCrashOutput()
	r.noteOOMKills()
	prev, unclean := "none (a new history)", false
	if st := r.current(); st != nil {
		last, err := st.Last(func(e history.Event) bool {
			return e.Kind == history.ServerStart || e.Kind == history.ServerStop || e.Kind == history.ServerExit || e.Kind == history.HistoryRestored
		})
		switch {
		case err != nil:
			prev = "unknown: " + err.Error()
		case last != nil:
			prev, unclean = previousEnd(*last)
			if last.Kind != history.ServerStart {
				r.prevAt = last.Time
			}
		}
	}
	r.prevEnd = prev
	r.s.o.Log.Info("server starting", "previous_run", prev, "history", r.state())
	r.add(history.Event{Kind: history.ServerStart, Component: "server", PID: os.Getpid(), Reason: "previous run: " + prev, Unclean: unclean})
}

// previousEnd says how the previous run ended, from the newest server
// event: systemd's report (ExecStopPost) or the server's own stop; a
// restore, which took a stopped server (and whose backup's last start
// may be of a server still running when it was copied); and when there
// is none of these, a start that never ended in order.
func previousEnd(last history.Event) (string, bool) {
	switch last.Kind {
	case history.ServerExit, history.ServerStop:
		return last.Reason, last.Unclean
	case history.HistoryRestored:
		return last.Reason, false
	default:
		return fmt.Sprintf("ended without a clean stop (pid %d; no report of its end: killed outside systemd, or the machine went down)", last.PID), true
	}
}

func (r *record) catchCrashOutput() {
	f, err := os.OpenFile(filepath.Join(r.s.o.Config.LogDir, CrashFile), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		r.s.o.Log.Warn("crash output stays in the journal only", "err", err)
		return
	}
	defer f.Close() // SetCrashOutput keeps its own copy
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		r.s.o.Log.Warn("crash output stays in the journal only", "err", err)
	}
}

// stopped records a clean stop and closes the store.
func (r *record) stopped(err error) {
	reason := "clean stop"
	if err != nil {
		reason = "stopped on an error: " + err.Error()
	}
	r.add(history.Event{Kind: history.ServerStop, Component: "server", PID: os.Getpid(), Reason: reason, Unclean: err != nil})
	if st := r.store.Swap(nil); st != nil {
		st.Close()
	}
}

// state is "on (path)" or "off: why", for status and the log.
func (r *record) state() string {
	if st := r.current(); st != nil {
		return "on (" + st.Path() + ")"
	}
	if err := r.offErr(); err != nil {
		return "off: " + err.Error()
	}
	return "off: closed"
}

// runner records a runner's start or end and raises the crash-loop alert.
// It runs on the runner's supervisor loop: the alert goes out on its own
// goroutine.
func (r *record) runner(l supervisor.Lifecycle) {
	e := history.Event{Kind: history.RunnerStart, Component: l.Runner, PID: l.PID}
	if l.Exited {
		e.Kind, e.Exit, e.RestartInMS = history.RunnerExit, l.Exit, l.RestartIn.Milliseconds()
		e.Unclean = !l.Stopping
		switch {
		case l.Stopping:
			e.Reason = "stopped with the server"
		case l.Reason == supervisor.ExitSignal && r.noteOOMKills():
			e.Reason = "killed by the kernel's OOM killer"
		case l.Reason == supervisor.ExitHung:
			e.Reason = "killed for hanging (no heartbeat)"
		case l.Reason == supervisor.ExitNotRegistered:
			e.Reason = "killed for not registering in time"
		}
	}
	r.add(e)
	if l.Exited && !l.Stopping {
		r.countRestart(l)
	}
}

// countRestart raises an alert when a runner restarted RunnerRestarts
// times within RunnerWindow.
func (r *record) countRestart(l supervisor.Lifecycle) {
	cfg := r.s.o.Config.Alerts
	now := time.Now()
	r.mu.Lock()
	recent := append(r.restarts[l.Runner], now)
	for len(recent) > 0 && now.Sub(recent[0]) > cfg.RunnerWindow {
		recent = recent[1:]
	}
	r.restarts[l.Runner] = recent
	n := len(recent)
	r.mu.Unlock()
	if n < cfg.RunnerRestarts {
		return
	}
	a := r.newAlert(alert.RunnerCrashing, l.Runner)
	a.Summary = fmt.Sprintf("stigmer on %s: %s keeps crashing, %d restarts in %s (last exit: %s)", a.Host, l.Runner, n, cfg.RunnerWindow, l.Exit)
	a.Restarts = n
	r.raise(a)
}

func (r *record) newAlert(kind, component string) alert.Alert {
	return newAlert(kind, component, r.s.o.Info.Version)
}

// newAlert is an alert about component of this host's stigmer.service.
func newAlert(kind, component, version string) alert.Alert {
	host, _ := os.Hostname()
	return alert.Alert{Kind: kind, Time: time.Now(), Host: host, Unit: "stigmer.service", Version: version, Component: component}
}

// raise sends a unless the limiter holds it back, without blocking the
// caller.
func (r *record) raise(a alert.Alert) {
	if r.alerts.admit(&a) {
		go r.alerts.send(context.Background(), a)
	}
}

// serverRestarts is the server's own restart count, for status: its
// starts after an unclean end, ever (the count outlives the bound on
// events).
func (r *record) serverRestarts() int {
	st := r.current()
	if st == nil {
		return 0
	}
	counts, err := st.Counts()
	if err != nil {
		return 0
	}
	return int(counts[history.UncleanPrefix+history.ServerStart])
}

// metricCounts is the history's counts for stigmer_history_events_total,
// none while the history is off. The unclean ones, which Counts keeps
// under a prefix, get names of their own: server-restart (a start after
// an unclean end), server-died, runner-crashed.
func (r *record) metricCounts() func() (map[string]uint64, error) {
	rename := map[string]string{
		history.UncleanPrefix + history.ServerStart: kindServerRestart,
		history.UncleanPrefix + history.ServerExit:  kindServerDied,
		history.UncleanPrefix + history.RunnerExit:  kindRunnerCrashed,
	}
	return func() (map[string]uint64, error) {
		st := r.current()
		if st == nil {
			return nil, nil
		}
		counts, err := st.Counts()
		if err != nil {
			return nil, err
		}
		out := map[string]uint64{}
		for k, n := range counts {
			if name, ok := rename[k]; ok {
				out[name] = n
			} else if !strings.HasPrefix(k, history.UncleanPrefix) {
				out[k] = n
			}
		}
		return out, nil
	}
}

// summaries sends, every quarter interval, a summary of the alerts held
// back once their interval is over, until ctx ends.
func (r *record) summaries(ctx context.Context) {
	every := min(max(r.s.o.Config.Alerts.Interval/4, 2*time.Second), time.Minute)
	subjects := []string{"server", "history", WorkflowRunner, AgentRunner}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, a := range r.alerts.limiter.Due(subjects) {
				a.Summary = fmt.Sprintf("stigmer on %s: %d more like this since %s: %s", a.Host, a.HeldBack, a.HeldSince.Format(time.RFC3339), a.Summary)
				r.add(history.Event{Kind: history.AlertSent, Component: a.Component, Reason: a.Summary})
				go r.alerts.send(context.Background(), a)
			}
		}
	}
}

// alerter raises alerts: the limiter's decision, the history's event,
// the sinks, and the limiter told whether a sink took it.
type alerter struct {
	cfg     config.Alerts
	limiter *alert.Limiter
	sender  *alert.Sender
	log     *slog.Logger
	record  func(history.Event)
}

// newAlerter's store is the history that counts each delivery for
// stigmer_alert_sends_total (nil while it is off).
func newAlerter(cfg config.Alerts, limits alert.StateStore, log *slog.Logger, record func(history.Event), store func() *history.Store) *alerter {
	sender := alert.NewSender(cfg, log)
	sender.OnResult = tallySends(store, log)
	return &alerter{cfg: cfg, limiter: alert.NewLimiter(limits, cfg.Interval), sender: sender, log: log, record: record}
}

// admit says whether a goes out (then it is recorded in the history, and
// the caller sends it); one held back is logged.
func (al *alerter) admit(a *alert.Alert) bool {
	if !al.limiter.Admit(a) {
		al.log.Warn("alert held back (one per interval; a summary follows)", "alert", a.Summary, "interval", al.cfg.Interval.String())
		return false
	}
	al.record(history.Event{Kind: history.AlertSent, Component: a.Component, Reason: a.Summary})
	return true
}

// send delivers a, which admit or Due let through, and tells the limiter
// whether a sink took it: only then does the interval start.
func (al *alerter) send(ctx context.Context, a alert.Alert) {
	delivered, _ := al.sender.Send(ctx, a) // each sink's failure is logged
	al.limiter.Done(a, delivered)
}
