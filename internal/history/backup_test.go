package history

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// A copy taken while another goroutine adds events is a history that
// Inspect passes, holding a gapless run of events whose counts agree with
// them: what one transaction saw, never half of a write.
func TestABackupWhileWritingIsConsistent(t *testing.T) {
	dir, _ := filled(t, 3000) // a copy that takes long enough to see writes
	s := open(t, dir, Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			assert.Check(t, s.Add(Event{Kind: RunnerExit, Component: "agent-runner", PID: i, Reason: "a reason long enough to fill pages now and then"}))
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for i := range 50 {
		var buf bytes.Buffer
		n, err := s.Backup(&buf)
		assert.NilError(t, err)
		assert.Equal(t, n, int64(buf.Len()))
		path := filepath.Join(t.TempDir(), "backup.db")
		assert.NilError(t, os.WriteFile(path, buf.Bytes(), 0o600))
		sum, err := Inspect(path)
		assert.NilError(t, err, "copy %d", i)
		assert.Equal(t, sum.Format, Format)
		assert.Equal(t, sum.Counts[RunnerExit], sum.LastSeq, "copy %d: the counts and the events come from one transaction", i)
		if sum.Events > 0 {
			assert.Equal(t, sum.LastSeq-sum.FirstSeq+1, uint64(sum.Events), "copy %d: a gap in the events", i)
		}
	}
}

func TestInspectSaysWhatAHistoryHolds(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	assert.NilError(t, err)
	t0 := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
	for i := range 5 {
		assert.NilError(t, s.Add(Event{Time: t0.Add(time.Duration(i) * time.Hour), Kind: ServerStart, Component: "server", Unclean: i > 2}))
	}
	assert.NilError(t, s.Close())
	sum, err := Inspect(filepath.Join(dir, FileName))
	assert.NilError(t, err)
	assert.Equal(t, sum.Events, 5)
	assert.Equal(t, sum.FirstSeq, uint64(1))
	assert.Equal(t, sum.LastSeq, uint64(5))
	assert.Assert(t, sum.First.Equal(t0))
	assert.Assert(t, sum.Last.Equal(t0.Add(4*time.Hour)))
	assert.Equal(t, sum.Counts[ServerStart], uint64(5))
	assert.Equal(t, sum.Counts[UncleanPrefix+ServerStart], uint64(2))
	fi, err := os.Stat(filepath.Join(dir, FileName))
	assert.NilError(t, err)
	assert.Equal(t, sum.Size, fi.Size())
}

// Each file that must not replace a history is refused, with what it is
// and what to do, and is left as it was.
func TestInspectRefusesWhatCannotBeRestored(t *testing.T) {
	_, good := filled(t, 300)
	whole, err := os.ReadFile(good)
	assert.NilError(t, err)
	foreign := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("a"), []byte("b"))
	}))
	assert.NilError(t, db.Close())
	newer := filepath.Join(t.TempDir(), "newer.db")
	db, err = bolt.Open(newer, 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket(bucketEvents); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyFormat, []byte("2"))
	}))
	assert.NilError(t, db.Close())
	// A page in the middle overwritten: the meta pages still point at it.
	scribbled := bytes.Clone(whole)
	copy(scribbled[len(whole)/2:], bytes.Repeat([]byte{0xA5}, 8192))

	for _, c := range []struct {
		name    string
		content []byte
		path    string
		is      error
		says    string
	}{
		{name: "cut short", content: whole[:len(whole)/2], is: ErrDamaged, says: "cut short"},
		{name: "empty", content: []byte{}, is: ErrDamaged, says: "empty"},
		{name: "a text file", content: []byte("root:x:0:0:root:/root:/bin/bash\n"), is: ErrDamaged, says: "not a history file"},
		{name: "scribbled over", content: scribbled, is: ErrDamaged},
		{name: "another program's bbolt file", path: foreign, is: ErrForeign, says: "a bbolt database without a stigmer history's buckets"},
		{name: "a newer format", path: newer, is: ErrNewerFormat, says: "format 2; this one reads up to 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = filepath.Join(t.TempDir(), "backup.db")
				assert.NilError(t, os.WriteFile(path, c.content, 0o600))
			}
			before, err := os.ReadFile(path)
			assert.NilError(t, err)
			_, err = Inspect(path)
			assert.Assert(t, errors.Is(err, c.is), "%v", err)
			var he *Error
			assert.Assert(t, errors.As(err, &he))
			assert.Check(t, is.Contains(err.Error(), c.says))
			assert.Check(t, he.Fix != "")
			after, err := os.ReadFile(path)
			assert.NilError(t, err)
			assert.Check(t, bytes.Equal(before, after), "Inspect changed the file")
		})
	}
	_, err = Inspect(filepath.Join(t.TempDir(), "missing.db"))
	assert.Assert(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

func TestLockNamesWhoHoldsTheFile(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	path := filepath.Join(dir, FileName)
	_, err := Lock(path)
	var le *LockedError
	assert.Assert(t, errors.As(err, &le), "%v", err)
	assert.Assert(t, errors.Is(err, ErrLocked))
	if le.PID != 0 { // /proc/locks may not say, on some file systems
		assert.Equal(t, le.PID, os.Getpid())
	}
	assert.NilError(t, s.Close())

	unlock, err := Lock(path)
	assert.NilError(t, err)
	_, err = Open(dir, Options{LockTimeout: 50 * time.Millisecond})
	assert.Assert(t, errors.Is(err, ErrLocked), "a writer must wait while Lock holds the file: %v", err)
	unlock()
	open(t, dir, Options{})

	unlock, err = Lock(filepath.Join(t.TempDir(), FileName))
	assert.NilError(t, err, "a missing file has nothing to hold")
	unlock()
}
