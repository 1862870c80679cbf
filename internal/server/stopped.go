package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/oomkills"
)

// StoppedOptions are what `stigmer internal-stopped` (the unit's
// ExecStopPost=) gets: systemd's report of how the server ended, and where
// the history and the last log lines are.
type StoppedOptions struct {
	Version         string
	Result          string // $SERVICE_RESULT
	ExitCode        string // $EXIT_CODE: exited, killed or dumped
	ExitStatus      string // $EXIT_STATUS: a number or a signal name
	DataDir, LogDir string
	Alerts          config.Alerts
	Log             *slog.Logger
}

// LogLinesInAlert is how many of the server's last log lines an alert
// quotes, and how many lines of a Go crash trace.
const (
	LogLinesInAlert   = 20
	CrashLinesInAlert = 30
)

// Stopped records how the server ended and, when that was not a clean
// stop, sends the alert (rate-limited through the history). It runs after
// the server is gone, so the history is free to open. It is best effort:
// it logs what fails and returns an error only for a missing report.
func Stopped(ctx context.Context, o StoppedOptions) error {
	if o.Result == "" || o.ExitCode == "" {
		return fmt.Errorf("SERVICE_RESULT and EXIT_CODE are not set: this command is run by systemd (ExecStopPost= of stigmer.service, systemd 232 or newer), not by hand")
	}
	store, reset, err := history.OpenOrReset(o.DataDir, history.Options{}, time.Now())
	if err != nil {
		o.Log.Error("history off: the server's end is not recorded", "err", err)
		store = nil
	} else {
		defer store.Close()
	}
	var limits alert.StateStore
	if store != nil {
		limits = store
	}
	alerts := newAlerter(o.Alerts, limits, o.Log, func(e history.Event) {
		if store == nil {
			return
		}
		if err := store.Add(e); err != nil {
			o.Log.Error("history: event not recorded", "kind", e.Kind, "err", err)
		}
	}, func() *history.Store { return store })
	if reset != nil {
		e, a := resetReport(reset, o.Version)
		o.Log.Error(e.Reason, "broken", reset.Broken)
		alerts.record(e)
		if alerts.admit(&a) {
			alerts.send(ctx, a)
		}
	}
	result := o.Result
	if _, _, rose := oomKillsRose(store); rose && o.ExitCode == "killed" && o.ExitStatus == "KILL" {
		result = "oom-kill" // what systemd says when OOMPolicy= is not continue
	}
	trace := takeCrashTrace(o.LogDir)
	reason, clean := describeServiceEnd(result, o.ExitCode, o.ExitStatus, firstOr(trace, ""))
	e := history.Event{Kind: history.ServerExit, Component: "server", Reason: reason, Exit: o.ExitCode + " " + o.ExitStatus, Unclean: !clean}
	if !clean {
		e.Logs = lastLogs(o.LogDir, trace)
	}
	alerts.record(e)
	if clean {
		o.Log.Info("server ended: " + reason)
		return nil
	}
	a := newAlert(alert.ServerDied, "server", o.Version)
	a.Summary = fmt.Sprintf("stigmer.service on %s died: %s", a.Host, reason)
	a.Result, a.ExitCode, a.ExitStatus, a.Logs = o.Result, o.ExitCode, o.ExitStatus, e.Logs
	if alerts.admit(&a) {
		alerts.send(ctx, a)
	}
	return nil
}

// oomKillsRose reads the unit's OOM kill count and says whether it is
// above the baseline in store (set when the server started or last saw a
// runner die): then the SIGKILL that ended the server was the OOM
// killer's. ExecStopPost runs in the unit's cgroup and reads the same
// count. known is false when the kernel does not tell, or with no history.
func oomKillsRose(store *history.Store) (n int64, known, rose bool) {
	n, known = oomkills.Count()
	if !known || store == nil {
		return n, false, false
	}
	var before int64
	found, err := store.Get(oomBaselineRecord, &before)
	return n, true, err == nil && found && n > before
}

// describeServiceEnd reads systemd's $SERVICE_RESULT, $EXIT_CODE and
// $EXIT_STATUS (systemd.exec(5)) as an operator would say it. Only an exit
// with status 0 under a successful result is clean: systemd also counts
// death by SIGTERM, SIGHUP, SIGINT or SIGPIPE as success, but the server
// catches TERM and INT and exits 0 itself, so dying by one was not a stop.
// A Go runtime crash (a panic, a fatal signal such as SIGSEGV or the
// watchdog's SIGABRT) exits with status 2 after writing its trace; crash
// is the trace's first line then, and names it.
func describeServiceEnd(result, code, status, crash string) (string, bool) {
	var how string
	switch code {
	case "exited":
		how = "exited with status " + status
		if crash != "" {
			how = "crashed (Go runtime: " + crash + "), exit status " + status
		}
		switch status {
		case "0":
			if result == "success" {
				return "clean stop", true
			}
		case "78":
			how += " (EX_CONFIG: a bad configuration; not restarted until it is fixed, see `journalctl -u stigmer -n 20`)"
		}
	case "killed":
		how = "killed by SIG" + status
	case "dumped":
		how = "crashed with SIG" + status + " (core dumped)"
	default:
		how = code + " " + status
	}
	switch result {
	case "watchdog":
		return "watchdog timeout (the server stopped answering for WatchdogSec), then " + how, false
	case "oom-kill":
		return "killed by the kernel's OOM killer (" + how + ")", false
	case "timeout":
		return "timed out starting or stopping, then " + how, false
	case "success", "exit-code", "signal", "core-dump":
		return how, false
	}
	return how + " (result: " + result + ")", false
}

// takeCrashTrace returns the start of the Go crash trace the server left,
// and empties the file: each trace is reported once, and a start that
// fails before the server empties it (a bad configuration) does not
// report the previous crash again.
func takeCrashTrace(logDir string) []string {
	path := filepath.Join(logDir, CrashFile)
	trace := logging.FirstLines(path, CrashLinesInAlert)
	if len(trace) > 0 {
		_ = os.Truncate(path, 0)
	}
	return trace
}

func firstOr(lines []string, def string) string {
	if len(lines) == 0 {
		return def
	}
	return lines[0]
}

// lastLogs is what the alert quotes: the Go crash trace when the server
// died of one, then its last log lines.
func lastLogs(logDir string, trace []string) []string {
	var lines []string
	if len(trace) > 0 {
		lines = append(lines, "--- crash trace ("+filepath.Join(logDir, CrashFile)+"):")
		lines = append(lines, trace...)
		lines = append(lines, "--- last log lines:")
	}
	return append(lines, logging.LastLines(logDir, LogLinesInAlert)...)
}
