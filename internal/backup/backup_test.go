package backup

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/fs"

	"github.com/stigmer/stigmer/internal/history"
)

// historyWith is a closed history of n events in a new data directory.
func historyWith(t *testing.T, n int, component string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	s, err := history.Open(dir, history.Options{})
	assert.NilError(t, err)
	for i := range n {
		assert.NilError(t, s.Add(history.Event{Kind: history.RunnerExit, Component: component, PID: i}))
	}
	assert.NilError(t, s.Close())
	return dir
}

func copyOf(t *testing.T, dir string) func(io.Writer) (int64, error) {
	s, err := history.Open(dir, history.Options{ReadOnly: true})
	assert.NilError(t, err)
	t.Cleanup(func() { s.Close() })
	return s.Backup
}

func TestWriteIsWholeOrNothingAndPrivate(t *testing.T) {
	src := historyWith(t, 50, "agent-runner")
	out := fs.NewDir(t, "backups", fs.WithFile("nightly.db", "the previous backup"))
	path := out.Join("nightly.db")

	// A copy that fails half way leaves the old file and nothing else.
	_, err := Write(path, func(w io.Writer) (int64, error) {
		n, _ := io.CopyN(w, bytes.NewReader(make([]byte, 8192)), 4096)
		return n, errors.New("the server went away")
	})
	assert.ErrorContains(t, err, "the server went away")
	assert.Assert(t, fs.Equal(out.Path(), fs.Expected(t, fs.WithFile("nightly.db", "the previous backup"), fs.MatchAnyFileMode)))
	// So does a copy that is not a history.
	_, err = Write(path, func(w io.Writer) (int64, error) {
		n, err := w.Write(bytes.Repeat([]byte("x"), 9000))
		return int64(n), err
	})
	assert.Assert(t, errors.Is(err, history.ErrDamaged), "%v", err)
	assert.Assert(t, fs.Equal(out.Path(), fs.Expected(t, fs.WithFile("nightly.db", "the previous backup"), fs.MatchAnyFileMode)))

	sum, err := Write(path, copyOf(t, src))
	assert.NilError(t, err)
	assert.Equal(t, sum.Events, 50)
	assert.Equal(t, sum.Path, path)
	fi, err := os.Stat(path)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
	assert.Equal(t, sum.Size, fi.Size())
	entries, err := os.ReadDir(out.Path())
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "no temporary file left")

	_, err = Write(out.Path(), copyOf(t, src))
	assert.ErrorContains(t, err, "is a directory: name the file to write")
	missing := out.Join("nightly", "history.db")
	_, err = Write(missing, copyOf(t, src))
	assert.Error(t, err, "cannot write "+missing+": the directory "+out.Join("nightly")+" does not exist; make it first (install -d -m 0700 "+out.Join("nightly")+")")
	_, err = Write(out.Join("nightly.db", "history.db"), copyOf(t, src))
	assert.ErrorContains(t, err, out.Join("nightly.db")+" is not a directory")
	entries, err = os.ReadDir(out.Path())
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "nothing made")
}

func TestRestoreKeepsTheReplacedHistoryAndTheOwner(t *testing.T) {
	backupDir := historyWith(t, 7, "workflow-runner")
	file := filepath.Join(backupDir, history.FileName)
	data := historyWith(t, 3, "agent-runner")
	before, err := os.ReadFile(filepath.Join(data, history.FileName))
	assert.NilError(t, err)
	owner := 0
	if os.Geteuid() == 0 {
		// As root, the data directory's owner is the restored file's.
		owner = 65534
		assert.NilError(t, os.Chown(data, owner, owner))
	}
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	r, err := Restore(file, data, now)
	assert.NilError(t, err)
	assert.Equal(t, r.Path, filepath.Join(data, history.FileName))
	assert.Equal(t, r.Aside, filepath.Join(data, "history.db.before-restore-20261129T060000Z"))
	assert.Equal(t, r.Summary.Events, 7)
	kept, err := os.ReadFile(r.Aside)
	assert.NilError(t, err)
	assert.Assert(t, bytes.Equal(kept, before), "the replaced history is kept as it was")

	fi, err := os.Stat(r.Path)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, int(st.Uid), owner)
		assert.Equal(t, int(st.Gid), owner)
	}
	s, err := history.Open(data, history.Options{ReadOnly: true})
	assert.NilError(t, err)
	events, err := s.Events(time.Time{})
	assert.NilError(t, err)
	assert.NilError(t, s.Close())
	assert.Equal(t, len(events), 8, "the backup's 7, and the restore's")
	assert.Equal(t, events[0].Component, "workflow-runner")
	last := events[7]
	assert.Equal(t, last.Kind, history.HistoryRestored)
	assert.Check(t, is.Contains(last.Reason, "the history was restored from "+file+" (7 events, the last at "))
	assert.Check(t, is.Contains(last.Reason, "; the history it replaced is kept as "+r.Aside))

	// Again within the same second: the first replaced history stays.
	r, err = Restore(file, data, now)
	assert.NilError(t, err)
	assert.Equal(t, r.Aside, filepath.Join(data, "history.db.before-restore-20261129T060000Z.2"))

	// Into a data directory without a history: nothing to set aside.
	empty := t.TempDir()
	r, err = Restore(file, empty, now)
	assert.NilError(t, err)
	assert.Equal(t, r.Aside, "")
}

// Each refusal changes nothing in the data directory.
func TestRestoreRefusalsChangeNothing(t *testing.T) {
	good := filepath.Join(historyWith(t, 5, "agent-runner"), history.FileName)
	whole, err := os.ReadFile(good)
	assert.NilError(t, err)
	foreign := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err }))
	assert.NilError(t, db.Close())
	cut := filepath.Join(t.TempDir(), "cut.db")
	assert.NilError(t, os.WriteFile(cut, whole[:len(whole)/2], 0o600))

	data := historyWith(t, 3, "workflow-runner")
	before := snapshot(t, data)
	for _, c := range []struct {
		name, file string
		is         error
	}{
		{"damaged", cut, history.ErrDamaged},
		{"foreign", foreign, history.ErrForeign},
		{"the history itself", filepath.Join(data, history.FileName), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Restore(c.file, data, time.Now())
			assert.Assert(t, err != nil)
			if c.is != nil {
				assert.Assert(t, errors.Is(err, c.is), "%v", err)
			}
			assert.DeepEqual(t, snapshot(t, data), before)
		})
	}

	t.Run("held by a server", func(t *testing.T) {
		s, err := history.Open(data, history.Options{})
		assert.NilError(t, err)
		defer s.Close()
		before := snapshot(t, data) // opening it for writing wrote to it
		_, err = Restore(good, data, time.Now())
		var le *history.LockedError
		assert.Assert(t, errors.As(err, &le), "%v", err)
		assert.Check(t, is.Equal(le.Path, filepath.Join(data, history.FileName)))
		assert.DeepEqual(t, snapshot(t, data), before)
	})
}

// snapshot is the data directory's files and their contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		assert.NilError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}
