package main

// `stigmer backup` and `stigmer restore` on the real binary: a copy taken
// while the server writes events is whole and consistent; a restore brings
// the events back; each refusal (a server using the history, a damaged,
// foreign or newer file, a user who is not root) changes nothing and says
// what to do.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/history"
)

// historyEnv is testEnv whose data directory is named (STIGMER_DATA_DIR,
// the home), so that restore never looks at a host's /var/lib/stigmer;
// it returns the environment and that directory.
func historyEnv(t *testing.T, extra ...string) ([]string, string) {
	env := testEnv(t, extra...)
	home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
	return append(env, "STIGMER_DATA_DIR="+home), home
}

// backupEvents reads the events of the backup at path (a copy of it,
// under the name a history has).
func backupEvents(t *testing.T, path string) []history.Event {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, history.FileName), b, 0o600))
	st, err := history.Open(dir, history.Options{ReadOnly: true})
	assert.NilError(t, err)
	defer st.Close()
	events, err := st.Events(time.Time{})
	assert.NilError(t, err)
	return events
}

// killRunners kills whichever runner is up, again and again, until ctx
// ends: each kill is a runner-exit and, once restarted, a runner-start
// written to the history. It returns how many it killed.
func killRunners(ctx context.Context, s *serverProc) int {
	killed := 0
	last := map[int]bool{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return killed
		case <-tick.C:
		}
		st, err := s.client.Status(ctx)
		if err != nil {
			continue
		}
		for _, c := range st.Components[1:] {
			if c.State == "up" && c.PID != 0 && !last[c.PID] && syscall.Kill(c.PID, syscall.SIGKILL) == nil {
				last[c.PID] = true
				killed++
			}
		}
	}
}

var wroteEvents = regexp.MustCompile(`, (\d+) events, from `)

// TestABackupWhileTheServerWritesIsConsistent: with the runners killed as
// fast as the server restarts them (each an exit and a start written to
// the history), `stigmer backup` copies the history through the server,
// which holds it locked, six times. Each copy is a sound history whose
// events run without a gap, equal the server's own of the same number,
// and agree with the copy's counts: one transaction's view, never half
// of a write. Each copy holds more than the one before.
func TestABackupWhileTheServerWritesIsConsistent(t *testing.T) {
	env, _ := historyEnv(t, "STIGMER_RUNNER_RESTART_MAX_DELAY=1s")
	s := startServer(t, env)
	s.waitReady(t)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var killed int
	wg.Go(func() { killed = killRunners(ctx, s) })
	defer func() { stop(); wg.Wait() }()

	out := t.TempDir()
	var files []string
	prev := -1
	for i := range 6 {
		file := filepath.Join(out, "history-"+strconv.Itoa(i)+".db")
		res := icmd.RunCmd(bounded(stigmerBin, "backup", file), icmd.WithEnv(env...))
		res.Assert(t, icmd.Expected{Out: "wrote " + file + " (mode 0600), copied by the server at "})
		m := wroteEvents.FindStringSubmatch(res.Stdout())
		assert.Assert(t, m != nil, "no event count in %q", res.Stdout())
		n, _ := strconv.Atoi(m[1])
		assert.Assert(t, n > prev, "copy %d holds %d events, the one before %d: the server wrote nothing between them", i, n, prev)
		prev = n
		fi, err := os.Stat(file)
		assert.NilError(t, err)
		assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
		files = append(files, file)
		// Let the server write more before the next copy.
		poll.WaitOn(t, func(poll.LogT) poll.Result {
			if sum, err := history.Inspect(file); err == nil && eventsNow(t, env) > sum.Events {
				return poll.Success()
			}
			return poll.Continue("no event written since copy %d", i)
		}, poll.WithTimeout(20*time.Second), poll.WithDelay(20*time.Millisecond))
	}
	stop()
	wg.Wait()

	live := map[uint64]string{}
	for _, e := range eventList(t, env) {
		b, _ := json.Marshal(e)
		live[e.Seq] = string(b)
	}
	for _, file := range files {
		sum, err := history.Inspect(file)
		assert.NilError(t, err, file)
		events := backupEvents(t, file)
		kinds := map[string]uint64{}
		for i, e := range events {
			assert.Check(t, is.Equal(e.Seq, uint64(i+1)), "%s: event %d has seq %d", file, i, e.Seq)
			b, _ := json.Marshal(e)
			assert.Check(t, is.Equal(string(b), live[e.Seq]), "%s: event %d differs from the server's", file, e.Seq)
			kinds[e.Kind]++
		}
		for kind, n := range kinds {
			assert.Check(t, is.Equal(sum.Counts[kind], n), "%s: %d %s events, counted %d", file, n, kind, sum.Counts[kind])
		}
	}
	t.Logf("%d runner kills; copies of %d to %d events", killed, len(backupEvents(t, files[0])), prev)
}

// eventList is the server's history, as `stigmer events --json` gives it.
func eventList(t *testing.T, env []string) []history.Event {
	t.Helper()
	res := icmd.RunCmd(bounded(stigmerBin, "events", "--json"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success)
	var l api.EventList
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &l))
	return l.Events
}

func eventsNow(t *testing.T, env []string) int { return len(eventList(t, env)) }

// TestRestoreBringsTheEventsBack: a backup of a server's history, the
// data directory lost (as a purge loses it), a new server with a new
// history, stopped; restore puts the backup in place, keeps the history it
// replaced, and the next server starts from the restored events.
func TestRestoreBringsTheEventsBack(t *testing.T) {
	env, home := historyEnv(t)
	s := startServer(t, env)
	s.waitReady(t)
	old := component(s.status(t), "workflow-runner").PID
	assert.NilError(t, syscall.Kill(old, syscall.SIGKILL))
	s.waitRunner(t, "workflow-runner", old)
	file := filepath.Join(t.TempDir(), "nightly.db")
	icmd.RunCmd(bounded(stigmerBin, "backup", file), icmd.WithEnv(env...)).Assert(t, icmd.Success)
	before := backupEvents(t, file)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited

	assert.NilError(t, os.RemoveAll(home))
	s2 := startServer(t, env)
	s2.waitReady(t)
	assert.NilError(t, syscall.Kill(s2.pid, syscall.SIGTERM))
	<-s2.exited
	replaced, err := os.ReadFile(filepath.Join(home, history.FileName))
	assert.NilError(t, err)

	check := icmd.RunCmd(bounded(stigmerBin, "restore", "--check", file), icmd.WithEnv(env...))
	check.Assert(t, icmd.Expected{Out: "sound: it can be restored"})
	assert.Check(t, is.Contains(check.Stdout(), "Events    "+strconv.Itoa(len(before))+" kept, from "))
	assert.Check(t, is.Regexp(`(?m)^runner-exit +1$`, check.Stdout()))

	res := icmd.RunCmd(bounded(stigmerBin, "restore", file), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{Out: "restored " + file + " as " + filepath.Join(home, history.FileName) + " (root:root, mode 0600): "})
	assert.Check(t, is.Contains(res.Stdout(), "the history it replaced is kept as "+filepath.Join(home, history.BeforeRestorePrefix)))
	assert.Check(t, is.Contains(res.Stdout(), "start the server: stigmer server start"))
	aside, err := filepath.Glob(filepath.Join(home, history.BeforeRestorePrefix+"*"))
	assert.NilError(t, err)
	assert.Assert(t, is.Len(aside, 1))
	kept, err := os.ReadFile(aside[0])
	assert.NilError(t, err)
	assert.Check(t, string(kept) == string(replaced), "the replaced history is kept as it was")
	fi, err := os.Stat(filepath.Join(home, history.FileName))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))

	s3 := startServer(t, env)
	s3.waitReady(t)
	after := eventList(t, env)
	assert.Assert(t, len(after) > len(before)+1)
	for i, e := range before {
		assert.Check(t, is.Equal(after[i].Seq, e.Seq))
		assert.Check(t, is.Equal(after[i].Kind, e.Kind))
	}
	// The backup ends with the start of a server that was running when
	// it was copied: the restore's own event says what happened since,
	// and the next start is no restart after a crash.
	assert.Check(t, is.Equal(after[len(before)].Kind, history.HistoryRestored))
	assert.Check(t, is.Contains(after[len(before)].Reason, "the history was restored from "+file))
	assert.Check(t, is.Equal(after[len(before)+1].Kind, history.ServerStart), "the next start follows the restored events")
	srv := component(s3.status(t), "server")
	assert.Check(t, is.Contains(srv.LastExit, "the history was restored from "+file))
	assert.Check(t, is.Equal(srv.Restarts, 0), "a restore is not a crash")
}

// Each refusal of restore: exit 1, what to do, and the data directory as
// it was.
func TestRestoreRefusesAndChangesNothing(t *testing.T) {
	env, home := historyEnv(t)
	s := startServer(t, env)
	s.waitReady(t)
	good := filepath.Join(t.TempDir(), "good.db")
	icmd.RunCmd(bounded(stigmerBin, "backup", good), icmd.WithEnv(env...)).Assert(t, icmd.Success)
	whole, err := os.ReadFile(good)
	assert.NilError(t, err)

	// A server that holds the history (started by hand: not the service,
	// not a dev server).
	before := dataFiles(t, home)
	res := icmd.RunCmd(bounded(stigmerBin, "restore", good), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "a stigmer server that uses it: stop it first, then restore; nothing was changed"})
	assert.Check(t, is.Contains(res.Stderr(), filepath.Join(home, history.FileName)+" is held by "))
	assert.DeepEqual(t, dataFiles(t, home), before)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited

	files := t.TempDir()
	cut := filepath.Join(files, "cut.db")
	assert.NilError(t, os.WriteFile(cut, whole[:len(whole)/2], 0o600))
	text := filepath.Join(files, "passwd")
	assert.NilError(t, os.WriteFile(text, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o600))
	foreign := boltFile(t, files, "other.db", map[string]string{"widgets": ""})
	newer := boltFile(t, files, "newer.db", map[string]string{"events": "", "meta": "2"})
	before = dataFiles(t, home)
	for _, c := range []struct{ name, file, says string }{
		{"damaged", cut, "damaged: cut short"},
		{"not a database", text, "neither meta page is a valid bbolt meta page"},
		{"foreign", foreign, "not a stigmer history: a bbolt database without a stigmer history's buckets"},
		{"newer", newer, "written by a newer stigmer (format 2; this one reads up to 1); restore it with the stigmer version that wrote it"},
		{"missing", filepath.Join(files, "missing.db"), "no such file or directory; check the path"},
		{"a directory", files, "is a directory, not a file; check the path"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := icmd.RunCmd(bounded(stigmerBin, "restore", c.file), icmd.WithEnv(env...))
			res.Assert(t, icmd.Expected{ExitCode: 1, Err: "refusing to restore " + c.file + ", nothing was changed: "})
			assert.Check(t, is.Contains(res.Stderr(), c.says))
			assert.DeepEqual(t, dataFiles(t, home), before)
			check := icmd.RunCmd(bounded(stigmerBin, "restore", "--check", c.file), icmd.WithEnv(env...))
			check.Assert(t, icmd.Expected{ExitCode: 1, Err: c.file + " cannot be restored: "})
		})
	}

	// A dev server of this home.
	d := &devServer{env: env, home: home}
	d.run(t, "server", "start").Assert(t, icmd.Expected{Out: "stigmer server ready"})
	t.Cleanup(func() { d.run(t, "server", "stop") })
	before = dataFiles(t, home)
	res = icmd.RunCmd(bounded(stigmerBin, "restore", good), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the stigmer dev server of " + home + " runs (pid "})
	assert.Check(t, is.Contains(res.Stderr(), "stop it first (stigmer server stop), restore, then start it (stigmer server start); nothing was changed"))
	assert.DeepEqual(t, dataFiles(t, home), before)
}

// A user who is neither root nor the data directory's owner may not
// restore, nor have the server copy the history.
func TestRestoreAndBackupAreRootsAndTheServiceUsers(t *testing.T) {
	asRoot(t)
	open := openDir(t) // nobody reaches the data directory and the backup
	assert.NilError(t, os.Chmod(open, 0o1777))
	home := filepath.Join(open, "home")
	env := testEnv(t, "STIGMER_HOME="+home, "STIGMER_DATA_DIR="+home)
	run := strings.TrimPrefix(env[4], "STIGMER_RUNTIME_DIR=")
	assert.NilError(t, os.Chmod(run, 0o755)) // as RuntimeDirectoryMode= makes /run/stigmer
	s := startServer(t, env)
	s.waitReady(t)
	good := filepath.Join(open, "good.db")
	icmd.RunCmd(bounded(stigmerBin, "backup", good), icmd.WithEnv(env...)).Assert(t, icmd.Success)
	assert.NilError(t, os.Chmod(good, 0o644))
	assert.NilError(t, os.Chmod(filepath.Dir(stigmerBin), 0o755))

	asNobody := func(args ...string) (string, int) {
		cmd := exec.Command(stigmerBin, args...)
		cmd.Env, cmd.Dir = env, open
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput() // the exit code says how it went
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := asNobody("backup", filepath.Join(open, "mine.db"))
	assert.Equal(t, code, 1, out)
	assert.Check(t, is.Contains(out, "uid 65534 may not copy the history: only root, the server's user, may; run `sudo stigmer backup FILE`"))
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited

	before := dataFiles(t, home)
	out, code = asNobody("restore", good)
	assert.Equal(t, code, 1, out)
	assert.Check(t, is.Contains(out, "uid 65534 (nobody) may not restore the history in "+home+": only root and its owner, uid 0 (root), may; run `sudo stigmer restore "+good+"`"))
	assert.DeepEqual(t, dataFiles(t, home), before)
	// Saying what a backup holds takes only reading it.
	out, code = asNobody("restore", "--check", good)
	assert.Equal(t, code, 0, out)
	assert.Check(t, is.Contains(out, "sound: it can be restored"))
}

// dataFiles is the data directory's files and their contents.
func dataFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		assert.NilError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

// boltFile is a bbolt file in dir with a bucket for each key of buckets,
// holding format=VALUE when VALUE is set (a history's meta bucket).
func boltFile(t *testing.T, dir, name string, buckets map[string]string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	db, err := bolt.Open(path, 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, db.Update(func(tx *bolt.Tx) error {
		for b, format := range buckets {
			bk, err := tx.CreateBucket([]byte(b))
			if err != nil {
				return err
			}
			if format != "" {
				if err := bk.Put([]byte("format"), []byte(format)); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	assert.NilError(t, db.Close())
	return path
}
