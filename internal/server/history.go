package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// CrashFile, in the log directory, receives the Go runtime's output when
// the server dies of a panic or fatal error (debug.SetCrashOutput); it is
// emptied at each start, so it holds the last run's crash only.
const CrashFile = "crash.log"

// record is the server's history and alerting: the store (nil when off,
// with the reason in off), the alert sender and limiter, and each
// runner's recent restarts.
type record struct {
	s       *server
	store   *history.Store
	off     string
	sender  *alert.Sender
	limiter *alert.Limiter

	// prevEnd is how the previous run ended, prevAt when (zero: unknown).
	prevEnd string
	prevAt  time.Time

	mu       sync.Mutex
	restarts map[string][]time.Time // per runner, within the alert window
}

// openRecord opens the history. A history that cannot be opened (newer,
// damaged, full disk, held) is said in the journal and in status, and the
// server runs on without it: never a crash loop because of its history.
func openRecord(s *server) *record {
	r := &record{s: s, restarts: map[string][]time.Time{}}
	store, err := history.Open(s.o.Config.DataDir, history.Options{})
	if err != nil {
		r.off = err.Error()
		s.o.Log.Error("history off: lifecycle events are not recorded", "err", err)
	} else {
		r.store = store
	}
	r.sender = alert.NewSender(s.o.Config.Alerts, s.o.Log)
	r.sender.OnResult = tallySends(r.currentStore, s.o.Log)
	r.limiter = alert.NewLimiter(r.stateStore(), s.o.Config.Alerts.Interval)
	return r
}

// currentStore is the history, nil while it is off.
func (r *record) currentStore() *history.Store { return r.store }

// stateStore is the store as the limiter's, or nil (an interface holding
// a nil *Store is not nil).
func (r *record) stateStore() alert.StateStore {
	if r.store == nil {
		return nil
	}
	return r.store
}

// add records e; a failure is logged, and the server goes on.
func (r *record) add(e history.Event) {
	if r.store == nil {
		return
	}
	if err := r.store.Add(e); err != nil {
		r.s.o.Log.Error("history: event not recorded", "kind", e.Kind, "err", err)
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
	n, known, rose := oomKillsRose(r.store)
	if !known {
		return false
	}
	if err := r.store.Put(oomBaselineRecord, n); err != nil {
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
	if r.store != nil {
		last, err := r.store.Last(func(e history.Event) bool {
			return e.Kind == history.ServerStart || e.Kind == history.ServerStop || e.Kind == history.ServerExit
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
// event: systemd's report (ExecStopPost) or the server's own stop, and
// when there is neither, a start that never ended in order.
func previousEnd(last history.Event) (string, bool) {
	switch last.Kind {
	case history.ServerExit, history.ServerStop:
		return last.Reason, last.Unclean
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
	if r.store != nil {
		r.store.Close()
	}
}

// state is "on (path)" or "off: why", for status and the log.
func (r *record) state() string {
	if r.store == nil {
		return "off: " + r.off
	}
	return "on (" + r.store.Path() + ")"
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
	if !r.limiter.Admit(&a) {
		r.s.o.Log.Warn("alert held back (one per interval)", "alert", a.Summary, "interval", r.s.o.Config.Alerts.Interval.String())
		return
	}
	r.add(history.Event{Kind: history.AlertSent, Component: a.Component, Reason: a.Summary})
	go r.sender.Send(context.Background(), a) //nolint:errcheck // Send logs each sink's failure
}

// serverRestarts is the server's own restart count, for status: its
// starts after an unclean end, ever (the count outlives the bound on
// events).
func (r *record) serverRestarts() int {
	if r.store == nil {
		return 0
	}
	counts, err := r.store.Counts()
	if err != nil {
		return 0
	}
	return int(counts[history.UncleanPrefix+history.ServerStart])
}

// metricCounts is the history's counts for stigmer_history_events_total,
// or nil when the history is off. The unclean ones, which Counts keeps
// under a prefix, get names of their own: server-restart (a start after
// an unclean end), server-died, runner-crashed.
func (r *record) metricCounts() func() (map[string]uint64, error) {
	if r.store == nil {
		return nil
	}
	rename := map[string]string{
		history.UncleanPrefix + history.ServerStart: kindServerRestart,
		history.UncleanPrefix + history.ServerExit:  kindServerDied,
		history.UncleanPrefix + history.RunnerExit:  kindRunnerCrashed,
	}
	return func() (map[string]uint64, error) {
		counts, err := r.store.Counts()
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
	subjects := []string{"server", WorkflowRunner, AgentRunner}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, a := range r.limiter.Due(now, subjects) {
				a.Summary = fmt.Sprintf("stigmer on %s: %d more like this since %s: %s", a.Host, a.HeldBack, a.HeldSince.Format(time.RFC3339), a.Summary)
				r.add(history.Event{Kind: history.AlertSent, Component: a.Component, Reason: a.Summary})
				go r.sender.Send(context.Background(), a) //nolint:errcheck // logged per sink
			}
		}
	}
}
