package main

// The history and alerts on the real binary: what an operator sees
// in status and `stigmer events`, and what a webhook receives, around a
// kill -9, a crashing runner and a clean stop. systemd's ExecStopPost is
// played by running `stigmer internal-stopped` with the variables systemd
// gives it; the VM test runs it under systemd itself.

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/alert/alerttest"
	"github.com/stigmer/stigmer/internal/api"
)

// fakeWebhook records the alerts posted to it.
func fakeWebhook(t *testing.T) (url string, alerts func() []alert.Alert) {
	rec := alerttest.NewRecorder(nil)
	srv := httptest.NewServer(&alerttest.FakeWebhook{Rec: rec})
	t.Cleanup(srv.Close)
	return srv.URL + "/hook/s3cr3t", func() []alert.Alert {
		var out []alert.Alert
		for _, r := range rec.Got() {
			var a alert.Alert
			assert.NilError(t, json.Unmarshal([]byte(r.Body), &a))
			out = append(out, a)
		}
		return out
	}
}

// stopped runs what systemd's ExecStopPost= runs, with its variables.
func stopped(t *testing.T, env []string, result, code, status string) *icmd.Result {
	t.Helper()
	return icmd.RunCmd(bounded(stigmerBin, "internal-stopped"),
		icmd.WithEnv(append(env, "SERVICE_RESULT="+result, "EXIT_CODE="+code, "EXIT_STATUS="+status)...))
}

func events(t *testing.T, env []string, args ...string) []api.EventList {
	t.Helper()
	res := icmd.RunCmd(bounded(stigmerBin, append([]string{"events", "--json"}, args...)...), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success)
	var l api.EventList
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &l))
	return []api.EventList{l}
}

func TestKill9IsRecordedAlertedOnceAndShownInStatus(t *testing.T) {
	hook, alerts := fakeWebhook(t)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook)
	home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
	s := startServer(t, env)
	s.waitReady(t)
	st := s.status(t)
	assert.Equal(t, st.History, "on ("+filepath.Join(home, "history.db")+")")
	assert.Equal(t, component(st, "server").LastExit, "none (a new history)")

	fi, err := os.Stat(filepath.Join(home, "history.db"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))

	// kill -9, then systemd's report of it.
	syscall.Kill(s.pid, syscall.SIGKILL)
	<-s.exited
	for _, c := range st.Components[1:] {
		reap(c.PID) // runners die with the server (parent-death signal)
	}
	stopped(t, env, "signal", "killed", "KILL").Assert(t, icmd.Success)
	got := alerts()
	assert.Equal(t, len(got), 1)
	a := got[0]
	assert.Equal(t, a.Kind, alert.ServerDied)
	assert.Equal(t, a.Unit, "stigmer.service")
	assert.Equal(t, a.Result, "signal")
	assert.Check(t, is.Contains(a.Summary, "died: killed by SIGKILL"))
	assert.Check(t, is.Contains(strings.Join(a.Logs, "\n"), `msg="server ready"`), "the last log lines: %q", a.Logs)

	// While it is down, `stigmer events` reads the file.
	res := icmd.RunCmd(bounded(stigmerBin, "events"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stderr(), "no server answers"))
	assert.Check(t, is.Contains(res.Stdout(), "server-exit"))
	assert.Check(t, is.Contains(res.Stdout(), "killed by SIGKILL"))

	// The next start knows how the last run ended, and counts a restart.
	s2 := startServer(t, env)
	s2.waitReady(t)
	srv := component(s2.status(t), "server")
	assert.Equal(t, srv.Restarts, 1)
	assert.Equal(t, srv.LastExit, "killed by SIGKILL")
	assert.Assert(t, srv.LastExitAt != nil)

	// A clean stop records, alerts nobody, and is not a restart.
	syscall.Kill(s2.pid, syscall.SIGTERM)
	<-s2.exited
	stopped(t, env, "success", "exited", "0").Assert(t, icmd.Success)
	assert.Equal(t, len(alerts()), 1, "a clean stop sends no alert")
	s3 := startServer(t, env)
	s3.waitReady(t)
	srv = component(s3.status(t), "server")
	assert.Equal(t, srv.Restarts, 1)
	assert.Equal(t, srv.LastExit, "clean stop")

	l := events(t, env)[0].Events
	var kinds []string
	for _, e := range l {
		kinds = append(kinds, e.Kind)
	}
	assert.Check(t, is.Contains(strings.Join(kinds, " "), "server-start runner-start"))
	assert.Check(t, is.Contains(strings.Join(kinds, " "), "server-exit alert"))
	assert.Check(t, is.Contains(strings.Join(kinds, " "), "server-stop server-exit server-start"))
}

func TestACrashingRunnerSendsOneAlert(t *testing.T) {
	hook, alerts := fakeWebhook(t)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook, "STIGMER_ALERT_RUNNER_RESTARTS=3", "STIGMER_ALERT_RUNNER_WINDOW=1m")
	s := startServer(t, env)
	s.waitReady(t)
	pid := component(s.status(t), "workflow-runner").PID
	for range 5 {
		syscall.Kill(pid, syscall.SIGKILL)
		pid = s.waitRunner(t, "workflow-runner", pid).PID
	}
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if len(alerts()) == 0 {
			return poll.Continue("no alert yet")
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	time.Sleep(500 * time.Millisecond) // a second alert would be on its way by now
	got := alerts()
	assert.Equal(t, len(got), 1, "five kills, one alert: %+v", got)
	assert.Equal(t, got[0].Kind, alert.RunnerCrashing)
	assert.Equal(t, got[0].Component, "workflow-runner")
	assert.Equal(t, got[0].Restarts, 3)
	assert.Check(t, is.Contains(s.log(), "alert held back"))

	l := events(t, env, "--since", "1m")[0].Events
	exits := 0
	for _, e := range l {
		if e.Kind == "runner-exit" && e.Component == "workflow-runner" {
			exits++
			assert.Check(t, is.Equal(e.Exit, "signal 9 (killed)"))
		}
	}
	assert.Equal(t, exits, 5)
}

// TestAFailedAlertHoldsNothingBack: an alert that no sink took (the
// webhook answered 503 to the try and the retry) must not start the
// interval; the next death, a minute later, is alerted, not held back for
// 15 minutes.
func TestAFailedAlertHoldsNothingBack(t *testing.T) {
	rec := alerttest.NewRecorder(nil)
	hook := &alerttest.FakeWebhook{Rec: rec}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+srv.URL+"/hook")
	assert.NilError(t, os.MkdirAll(strings.TrimPrefix(env[2], "STIGMER_HOME="), 0o750)) // the history's home
	hook.FailNext(2)
	res := stopped(t, env, "signal", "killed", "KILL")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stderr(), "alert not delivered"))
	assert.Equal(t, len(rec.Got()), 2, "a try and a retry, both refused")

	res = stopped(t, env, "watchdog", "killed", "ABRT")
	res.Assert(t, icmd.Success)
	assert.Check(t, !strings.Contains(res.Stderr(), "held back"), "%s", res.Stderr())
	got := rec.Got()
	assert.Equal(t, len(got), 3)
	var a alert.Alert
	assert.NilError(t, json.Unmarshal([]byte(got[2].Body), &a))
	assert.Check(t, is.Contains(a.Summary, "watchdog timeout"))

	// This one was delivered: the next is held back.
	res = stopped(t, env, "signal", "killed", "KILL")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stderr(), "alert held back"))
	assert.Equal(t, len(rec.Got()), 3)
}

func TestInternalStoppedByHandIsRefused(t *testing.T) {
	res := icmd.RunCmd(bounded(stigmerBin, "internal-stopped"), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 2, Err: "run by systemd (ExecStopPost="})
}

// TestADamagedHistoryIsMovedAsideAndSaid: a history.db cut short (bbolt
// reads past its end: a SIGBUS that killed the server, its ExecStopPost and
// `stigmer events`, at every restart) or overwritten: the server starts,
// keeps the file as history.db.broken-TIME, starts a new history, and says
// so in the log, the new history and an alert naming the file.
func TestADamagedHistoryIsMovedAsideAndSaid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path string)
		why   string
	}{
		{"cut short", func(t *testing.T, path string) {
			assert.NilError(t, os.Truncate(path, 3*4096))
		}, "cut short"},
		{"overwritten", func(t *testing.T, path string) {
			assert.NilError(t, os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 4096)), 0o600))
		}, "neither meta page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook, alerts := fakeWebhook(t)
			env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook)
			home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
			path := filepath.Join(home, "history.db")
			// a history worth several pages, then the damage
			s := startServer(t, env)
			s.waitReady(t)
			for range 3 {
				old := component(s.status(t), "workflow-runner").PID
				assert.NilError(t, syscall.Kill(old, syscall.SIGKILL))
				s.waitRunner(t, "workflow-runner", old)
			}
			assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
			<-s.exited
			tc.spoil(t, path)
			spoiled, err := os.ReadFile(path)
			assert.NilError(t, err)

			s = startServer(t, env)
			s.waitReady(t)
			st := s.status(t)
			assert.Equal(t, st.History, "on ("+path+")")
			broken, err := filepath.Glob(path + ".broken-*")
			assert.NilError(t, err)
			assert.Assert(t, is.Len(broken, 1))
			kept, err := os.ReadFile(broken[0])
			assert.NilError(t, err)
			assert.Assert(t, string(kept) == string(spoiled), "the damaged file is kept as it was")
			assert.Check(t, is.Contains(s.log(), "the history was damaged"))

			l := events(t, env)[0].Events
			assert.Equal(t, l[0].Kind, "history-broken")
			assert.Check(t, is.Contains(l[0].Reason, tc.why))
			assert.Check(t, is.Contains(l[0].Reason, "kept as "+broken[0]))
			poll.WaitOn(t, func(poll.LogT) poll.Result {
				for _, a := range alerts() {
					if a.Kind == alert.HistoryBroken {
						assert.Check(t, is.Contains(a.Summary, broken[0]))
						return poll.Success()
					}
				}
				return poll.Continue("no history-broken alert among %d", len(alerts()))
			}, poll.WithTimeout(10*time.Second))
		})
	}
}

// TestExecStopPostSurvivesACutShortHistory: the unit's ExecStopPost opens
// the history to record the end; with the file cut short it faulted too,
// and no alert went out. Now it moves the file aside, records the end in a
// new history, and alerts both.
func TestExecStopPostSurvivesACutShortHistory(t *testing.T) {
	hook, alerts := fakeWebhook(t)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook)
	home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
	s := startServer(t, env)
	s.waitReady(t)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited
	path := filepath.Join(home, "history.db")
	assert.NilError(t, os.Truncate(path, 3*4096))

	stopped(t, env, "signal", "killed", "KILL").Assert(t, icmd.Success)
	var kinds []string
	for _, a := range alerts() {
		kinds = append(kinds, a.Kind)
	}
	assert.DeepEqual(t, kinds, []string{alert.HistoryBroken, alert.ServerDied})
	broken, err := filepath.Glob(path + ".broken-*")
	assert.NilError(t, err)
	assert.Assert(t, is.Len(broken, 1))
	res := icmd.RunCmd(bounded(stigmerBin, "events", "--json"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stdout(), `"kind": "history-broken"`))
	assert.Check(t, is.Contains(res.Stdout(), `"reason": "killed by SIGKILL"`))
}

// TestAHistoryThatCannotBeOpenedComesBack: the history cannot be opened at
// the start (a directory where the file should be; the file held by a
// reader, as `stigmer events` holds it while it reads): the server starts
// and serves with the history off, says why, and opens it once the cause
// is gone, without a restart.
func TestAHistoryThatCannotBeOpenedComesBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block func(t *testing.T, path string) (unblock func())
		why   string
	}{
		{"a directory in its place", func(t *testing.T, path string) func() {
			assert.NilError(t, os.Mkdir(path, 0o700))
			return func() { assert.NilError(t, os.Remove(path)) }
		}, "is a directory"},
		{"held by a reader", func(t *testing.T, path string) func() {
			f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
			assert.NilError(t, err)
			assert.NilError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_SH))
			return func() { f.Close() }
		}, "held by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t)
			home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
			assert.NilError(t, os.MkdirAll(home, 0o750))
			path := filepath.Join(home, "history.db")
			unblock := tc.block(t, path)
			s := startServer(t, env)
			s.waitReady(t)
			st := s.status(t)
			assert.Check(t, is.Contains(st.History, "off: history "+path))
			assert.Check(t, is.Contains(st.History, tc.why))
			assert.Check(t, is.Contains(s.log(), "history off"))
			res := icmd.RunCmd(bounded(stigmerBin, "events"), icmd.WithEnv(env...))
			res.Assert(t, icmd.Expected{ExitCode: 1, Err: "history off"})

			unblock()
			poll.WaitOn(t, func(poll.LogT) poll.Result {
				if h := s.status(t).History; h != "on ("+path+")" {
					return poll.Continue("history %s", h)
				}
				return poll.Success()
			}, poll.WithTimeout(30*time.Second), poll.WithDelay(100*time.Millisecond))
			assert.Check(t, is.Contains(s.log(), `msg="history on again"`))
			old := component(s.status(t), "workflow-runner").PID
			assert.NilError(t, syscall.Kill(old, syscall.SIGKILL))
			s.waitRunner(t, "workflow-runner", old)
			l := events(t, env)[0].Events
			assert.Assert(t, len(l) > 0 && l[len(l)-1].Kind == "runner-start", "recorded again: %v", l)
		})
	}
}

// TestACrashTraceIsQuotedOnce: SIGSEGV makes the Go runtime print its trace
// and exit 2; the report names the crash and quotes the trace, and the
// next report (a start that fails before the server runs) does not again.
func TestACrashTraceIsQuotedOnce(t *testing.T) {
	hook, alerts := fakeWebhook(t)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook, "STIGMER_ALERT_INTERVAL=10s")
	s := startServer(t, env)
	s.waitReady(t)
	st := s.status(t)
	syscall.Kill(s.pid, syscall.SIGSEGV)
	<-s.exited
	for _, c := range st.Components[1:] {
		reap(c.PID)
	}
	assert.Equal(t, s.state.ExitCode(), 2, "the Go runtime's exit status after a fatal signal")
	stopped(t, env, "exit-code", "exited", "2").Assert(t, icmd.Success)
	got := alerts()
	assert.Equal(t, len(got), 1)
	assert.Check(t, is.Contains(got[0].Summary, "died: crashed (Go runtime: SIGSEGV: segmentation violation), exit status 2"))
	assert.Check(t, is.Contains(strings.Join(got[0].Logs, "\n"), "--- crash trace ("))

	time.Sleep(10 * time.Second) // past the alert interval
	stopped(t, env, "exit-code", "exited", "78").Assert(t, icmd.Success)
	got = alerts()
	assert.Equal(t, len(got), 2)
	assert.Check(t, is.Contains(got[1].Summary, "exited with status 78 (EX_CONFIG"))
	assert.Check(t, !strings.Contains(strings.Join(got[1].Logs, "\n"), "crash trace"), "the old trace again: %q", got[1].Logs)
}

// TestAFullDiskLeavesTheServerServing: the data directory on a file system
// with no room for the history (a 64 KiB tmpfs, filled): the server starts,
// serves, and says the history is off with the file and the fix. Needs
// root for the mount (CI runs as root).
func TestAFullDiskLeavesTheServerServing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	icmd.RunCommand("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "stigmer-test-full", dir).Assert(t, icmd.Success)
	t.Cleanup(func() { icmd.RunCommand("umount", dir) })
	filler, err := os.Create(filepath.Join(dir, "filler"))
	assert.NilError(t, err)
	for {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break // ENOSPC: the disk is full
		}
	}
	filler.Close()

	env := testEnv(t, "STIGMER_DATA_DIR="+dir)
	s := startServer(t, env)
	s.waitReady(t)
	st := s.status(t)
	assert.Check(t, is.Contains(st.History, "off: history "+filepath.Join(dir, "history.db")))
	assert.Check(t, is.Contains(st.History, "no space left on device"))
	assert.Check(t, is.Contains(st.History, "df -h "+dir))
	assert.Check(t, is.Contains(s.log(), "history off"))

	// Space freed: the history is opened without a restart.
	assert.NilError(t, os.Remove(filepath.Join(dir, "filler")))
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if h := s.status(t).History; !strings.HasPrefix(h, "on (") {
			return poll.Continue("history %s", h)
		}
		return poll.Success()
	}, poll.WithTimeout(30*time.Second), poll.WithDelay(100*time.Millisecond))
}
