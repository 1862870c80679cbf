package history

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func open(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	assert.NilError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestEventsAreKeptAcrossReopenAndReadBackInOrder(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	assert.NilError(t, err)
	t0 := time.Now().Add(-time.Hour)
	assert.NilError(t, s.Add(Event{Time: t0, Kind: ServerStart, Component: "server", PID: 10, Reason: "first start"}))
	assert.NilError(t, s.Add(Event{Kind: RunnerExit, Component: "workflow-runner", PID: 11, Exit: "signal 9 (killed)", Unclean: true, RestartInMS: 200}))
	assert.NilError(t, s.Close())

	fi, err := os.Stat(filepath.Join(dir, FileName))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600), "the history is the stigmer user's alone")

	s = open(t, dir, Options{ReadOnly: true})
	all, err := s.Events(time.Time{})
	assert.NilError(t, err)
	assert.Equal(t, len(all), 2)
	assert.Equal(t, all[0].Seq, uint64(1))
	assert.Equal(t, all[0].Reason, "first start")
	assert.Equal(t, all[1].Exit, "signal 9 (killed)")
	assert.Assert(t, !all[1].Time.IsZero(), "Add stamps the time")

	recent, err := s.Events(time.Now().Add(-time.Minute))
	assert.NilError(t, err)
	assert.Equal(t, len(recent), 1, "since drops the hour-old event")

	last, err := s.Last(func(e Event) bool { return e.Component == "server" })
	assert.NilError(t, err)
	assert.Equal(t, last.PID, 10)
}

func TestTheOldestEventsGoFirstAndCountsOutliveThem(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxEvents: 5})
	for i := range 12 {
		assert.NilError(t, s.Add(Event{Kind: RunnerStart, Component: "agent-runner", PID: 100 + i}))
	}
	all, err := s.Events(time.Time{})
	assert.NilError(t, err)
	assert.Equal(t, len(all), 5)
	assert.Equal(t, all[0].PID, 107, "the five newest are kept")
	assert.Equal(t, all[4].PID, 111)
	counts, err := s.Counts()
	assert.NilError(t, err)
	assert.Equal(t, counts[RunnerStart], uint64(12))
	assert.NilError(t, s.Add(Event{Kind: RunnerExit, Component: "agent-runner", Unclean: true}))
	assert.NilError(t, s.Add(Event{Kind: RunnerExit, Component: "agent-runner"}))
	counts, err = s.Counts()
	assert.NilError(t, err)
	assert.Equal(t, counts[RunnerExit], uint64(2))
	assert.Equal(t, counts[UncleanPrefix+RunnerExit], uint64(1))
}

func TestStateRecords(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	var v struct{ N int }
	ok, err := s.Get("alert/server", &v)
	assert.NilError(t, err)
	assert.Assert(t, !ok)
	v.N = 3
	assert.NilError(t, s.Put("alert/server", v))
	v.N = 0
	ok, err = s.Get("alert/server", &v)
	assert.NilError(t, err)
	assert.Assert(t, ok)
	assert.Equal(t, v.N, 3)
}

func TestANewerFormatIsRefusedWithTheFix(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keyFormat, []byte("2"))
	}))
	assert.NilError(t, db.Close())

	_, err = Open(dir, Options{})
	assert.Assert(t, errors.Is(err, ErrNewerFormat), "%v", err)
	assert.ErrorContains(t, err, filepath.Join(dir, FileName))
	assert.ErrorContains(t, err, "upgrade stigmer")
}

func TestADamagedFileIsRefusedWithTheFix(t *testing.T) {
	dir := t.TempDir()
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	assert.NilError(t, os.WriteFile(filepath.Join(dir, FileName), junk, 0o600))
	_, err := Open(dir, Options{})
	var he *Error
	assert.Assert(t, errors.As(err, &he), "%v", err)
	assert.Assert(t, errors.Is(err, ErrDamaged), "%v", err)
	assert.ErrorContains(t, err, "the server moves it aside as history.db.broken-TIME")
}

// filled is a history of n events, closed, and its path.
func filled(t *testing.T, n int) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir, Options{})
	assert.NilError(t, err)
	for i := range n {
		assert.NilError(t, s.Add(Event{Kind: RunnerExit, Component: "workflow-runner", PID: i, Reason: strings.Repeat("a reason that fills pages ", 4)}))
	}
	assert.NilError(t, s.Close())
	return dir, filepath.Join(dir, FileName)
}

// A file cut short (a full disk, a copy that stopped, a crash of the file
// system) makes bbolt read past its end: a SIGBUS that would kill the test
// binary, as it killed the server, its ExecStopPost and `stigmer events`.
// Each length is refused as damaged instead.
func TestACutShortFileIsDamagedNotAFault(t *testing.T) {
	dir, path := filled(t, 3000)
	whole, err := os.ReadFile(path)
	assert.NilError(t, err)
	for _, n := range []int{len(whole) / 3, len(whole)/3 + 1, len(whole) / 2, 3 * 4096, 4096 + 100, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			assert.NilError(t, os.WriteFile(path, whole[:n], 0o600))
			for _, ro := range []bool{false, true} {
				_, err := Open(dir, Options{ReadOnly: ro})
				assert.Assert(t, errors.Is(err, ErrDamaged), "read-only %v: %v", ro, err)
				assert.Check(t, errors.Is(Check(path), ErrDamaged))
			}
		})
	}
	assert.NilError(t, os.WriteFile(path, whole, 0o600))
	assert.NilError(t, Check(path), "the whole file is sound")
}

// A file cut short under an open store (another process truncated it)
// faults on the next read; the guard makes that an error.
func TestAFaultWhileReadingIsAnError(t *testing.T) {
	dir, path := filled(t, 3000)
	s := open(t, dir, Options{})
	assert.NilError(t, os.Truncate(path, 2*4096))
	_, err := s.Events(time.Time{})
	assert.Assert(t, errors.Is(err, ErrDamaged), "%v", err)
	_, err = s.Counts()
	assert.Assert(t, errors.Is(err, ErrDamaged), "%v", err)
}

func TestOpenOrResetMovesADamagedFileAside(t *testing.T) {
	dir, path := filled(t, 3000)
	assert.NilError(t, os.Truncate(path, 4096*3))
	now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.FixedZone("CET", 3600))
	s, reset, err := OpenOrReset(dir, Options{}, now)
	assert.NilError(t, err)
	defer s.Close()
	assert.Assert(t, reset != nil)
	assert.Equal(t, reset.Broken, filepath.Join(dir, "history.db.broken-20261129T050000Z"))
	assert.Assert(t, errors.Is(reset.Why, ErrDamaged))
	assert.ErrorContains(t, reset.Why, "cut short")
	fi, err := os.Stat(reset.Broken)
	assert.NilError(t, err)
	assert.Equal(t, fi.Size(), int64(4096*3), "kept as it was, for inspection")
	assert.NilError(t, s.Add(Event{Kind: ServerStart, Component: "server"}))
	all, err := s.Events(time.Time{})
	assert.NilError(t, err)
	assert.Equal(t, len(all), 1, "a new history")
	broken, err := BrokenFiles(dir)
	assert.NilError(t, err)
	assert.DeepEqual(t, broken, []string{reset.Broken})

	// A sound file, or one written by a newer stigmer, stays where it is.
	s.Close()
	s, reset, err = OpenOrReset(dir, Options{}, now)
	assert.NilError(t, err)
	assert.Assert(t, reset == nil)
	s.Close()
	// A second damaged file within the same second does not replace the first.
	assert.NilError(t, os.WriteFile(path, []byte("junk"), 0o600))
	s, reset, err = OpenOrReset(dir, Options{}, now)
	assert.NilError(t, err)
	s.Close()
	assert.Equal(t, reset.Broken, filepath.Join(dir, "history.db.broken-20261129T050000Z.2"))
}

func TestASecondWriterIsToldWhoHoldsTheFile(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{})
	_, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	assert.Assert(t, errors.Is(err, ErrLocked), "%v", err)
	assert.ErrorContains(t, err, "stigmer events")
}

func TestAMissingDirectoryIsNamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	_, err := Open(dir, Options{})
	assert.ErrorContains(t, err, filepath.Join(dir, FileName))
	assert.ErrorContains(t, err, "writable")
}

// The writer of TestKill9LosesNothingWritten: adds events until killed,
// printing each Seq once Add returned (so once it is on disk).
func TestMain(m *testing.M) {
	if dir := os.Getenv("HISTORY_TEST_WRITER"); dir != "" {
		s, err := Open(dir, Options{MaxEvents: 300})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for i := 0; ; i++ {
			if err := s.Add(Event{Kind: RunnerExit, Component: "workflow-runner", PID: i, Exit: "exit status 1", Logs: []string{"a line of log"}}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Println(i)
		}
	}
	os.Exit(m.Run())
}

// TestKill9LosesNothingWritten kills a writer with SIGKILL at moments
// spread over its writes, ten times on one file: every event Add had
// returned for is there afterwards, and the file opens and reads each time.
func TestKill9LosesNothingWritten(t *testing.T) {
	dir := t.TempDir()
	exe, err := os.Executable()
	assert.NilError(t, err)
	for round := range 10 {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "HISTORY_TEST_WRITER="+dir)
		out, err := cmd.StdoutPipe()
		assert.NilError(t, err)
		assert.NilError(t, cmd.Start())
		acked := -1
		buf := make([]byte, 1)
		line := ""
		want := 5 + round*7 // events to see acknowledged before the kill
		for acked < want {
			if _, err := out.Read(buf); err != nil {
				t.Fatalf("writer ended early: %v", err)
			}
			if buf[0] == '\n' {
				fmt.Sscan(line, &acked)
				line = ""
				continue
			}
			line += string(buf)
		}
		assert.NilError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()

		s, err := Open(dir, Options{ReadOnly: true})
		assert.NilError(t, err, "round %d", round)
		all, err := s.Events(time.Time{})
		assert.NilError(t, err)
		last, err := s.Last(func(Event) bool { return true })
		assert.NilError(t, err)
		assert.NilError(t, s.Close())
		assert.Assert(t, last != nil && last.PID >= acked, "round %d: last event on disk is PID %v, the writer had been told %d was written", round, last, acked)
		for i := 1; i < len(all); i++ {
			assert.Check(t, is.Equal(all[i].Seq, all[i-1].Seq+1), "round %d: sequence has a gap", round)
		}
	}
}

// BenchmarkAdd is the cost of recording one event (one fsync'd bbolt
// transaction) in a store at its bound, and reports the file's size.
func BenchmarkAdd(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := Event{Kind: RunnerExit, Component: "workflow-runner", PID: 4242, Exit: "signal 9 (killed)", Unclean: true, RestartInMS: 1600}
	for range DefaultMaxEvents {
		if err := s.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.Add(e); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-at-10000-events")
}
