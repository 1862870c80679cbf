package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the store's name in the data directory.
const FileName = "history.db"

// Format is the layout this build writes and the newest it reads. A newer
// stigmer that changes the layout raises it; an older one then refuses the
// file instead of misreading it.
const Format = 1

// DefaultMaxEvents bounds the store: the oldest events go first. 10 000
// events are months of a healthy server and about a day of a runner that
// crashes every ten seconds.
const DefaultMaxEvents = 10000

// Event kinds.
const (
	ServerStart = "server-start" // Reason: how the previous run ended
	ServerStop  = "server-stop"  // the server stopped itself in order
	ServerExit  = "server-exit"  // systemd's view of the end (ExecStopPost)
	RunnerStart = "runner-start"
	RunnerExit  = "runner-exit" // Exit, RestartIn; Reason when killed for hanging
	AlertSent   = "alert"       // an alert went out (or was held back)
	// HistoryBroken starts a new history after a damaged file was moved
	// aside; Reason names the file and what was wrong.
	HistoryBroken = "history-broken"
	// HistoryRestored ends a history that `stigmer restore` put in place:
	// Reason names the backup, and the history it replaced.
	HistoryRestored = "history-restored"
)

// Event is one thing that happened to the server or a runner.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Component string    `json:"component"` // "server" or a runner's name
	PID       int       `json:"pid,omitempty"`
	// Reason is why, in an operator's words ("killed by SIGKILL",
	// "clean stop", "no heartbeat for 10s").
	Reason string `json:"reason,omitempty"`
	// Exit is how a process ended ("exit status 2", "signal 9 (killed)").
	Exit string `json:"exit,omitempty"`
	// Unclean marks an end that was not a clean stop, and a server start
	// after one (a restart).
	Unclean bool `json:"unclean,omitempty"`
	// RestartInMS is the delay before the next start, for a runner exit.
	RestartInMS int64 `json:"restart_in_ms,omitempty"`
	// Logs are the last log lines before a server's end.
	Logs []string `json:"logs,omitempty"`
}

var (
	bucketEvents = []byte("events") // big-endian Seq -> JSON Event
	bucketMeta   = []byte("meta")   // "format" -> decimal
	bucketCounts = []byte("counts") // kind -> big-endian uint64, never dropped
	bucketState  = []byte("state")  // small named records, see Get/Put
	keyFormat    = []byte("format")
)

// Store is an open history file. Its methods are safe for concurrent use.
type Store struct {
	db        *bolt.DB
	path      string
	maxEvents int
}

// Options tune Open.
type Options struct {
	// MaxEvents bounds the events kept (default DefaultMaxEvents).
	MaxEvents int
	// ReadOnly opens without writing (a shared lock: readers do not wait
	// for each other, and wait for a writer only up to LockTimeout).
	ReadOnly bool
	// LockTimeout is how long to wait for another process holding the
	// file (default 2 s): the server holds it while it runs.
	LockTimeout time.Duration
}

// Error is a history file that cannot be used, with what to do about it.
type Error struct {
	Path string
	Err  error
	Fix  string
}

func (e *Error) Error() string { return fmt.Sprintf("history %s: %v; %s", e.Path, e.Err, e.Fix) }
func (e *Error) Unwrap() error { return e.Err }

// ErrNewerFormat is a file written by a newer stigmer.
var ErrNewerFormat = errors.New("written by a newer stigmer")

// ErrLocked is a file another process holds (a running server).
var ErrLocked = errors.New("held by another process")

// Open opens (or, unless read-only, creates with mode 0600) the store in
// dataDir. Every failure is an *Error naming the file and the fix; the
// server runs on without history then.
func Open(dataDir string, o Options) (*Store, error) {
	return OpenFile(filepath.Join(dataDir, FileName), o)
}

// OpenFile is Open of the history file at path, whatever its name (a
// copy about to be put in place).
func OpenFile(path string, o Options) (*Store, error) {
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if err := Check(path); err != nil {
		if errors.Is(err, ErrDamaged) {
			return nil, corruptError(path, err)
		}
		return nil, openError(path, err)
	}
	db, err := openBolt(path, o)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, maxEvents: o.MaxEvents}
	if err := s.checkFormat(o.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the file with bbolt, which reads its freelist as it
// opens. Should that fault, the file is closed again (its lock with it).
func openBolt(path string, o Options) (db *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if err != nil && db == nil && file != nil {
			file.Close()
		}
	}()
	defer guard(path, &err)()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: o.LockTimeout, ReadOnly: o.ReadOnly,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		},
	})
	if err != nil {
		return nil, openError(path, err)
	}
	return db, nil
}

// openError explains why bbolt could not open path.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return &Error{path, ErrLocked, "another stigmer server is using it; stop it, or ask it (`stigmer events` goes through the API while the server runs)"}
	case errors.Is(err, os.ErrPermission):
		return &Error{path, err, "it belongs to the stigmer user: run this as root or as stigmer (sudo -u stigmer), or fix its owner (chown stigmer:stigmer)"}
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return corruptError(path, err)
	}
	return &Error{path, err, "check that the data directory is writable and has free space (df -h " + filepath.Dir(path) + ")"}
}

// corruptError is a damaged file. The server moves such a file aside at
// its start (OpenOrReset); a reader can only say so.
func corruptError(path string, err error) error {
	if !errors.Is(err, ErrDamaged) {
		err = fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return &Error{path, err, "the server moves it aside as " + FileName + ".broken-TIME and starts a new history when it starts (sudo systemctl restart stigmer)"}
}

// guard makes a fault while bbolt reads the mapped file (damage inside the
// file that Check cannot see, or an I/O error of the disk under it) a
// panic of this goroutine instead of a fatal SIGBUS, and turns that panic,
// and those bbolt raises itself on some damaged pages, into a corruption
// error: a broken history must never crash the server. Use it as
// `defer guard(path, &err)()` in every function that reaches bbolt.
func guard(path string, err *error) func() {
	was := debug.SetPanicOnFault(true)
	return func() {
		debug.SetPanicOnFault(was)
		if r := recover(); r != nil {
			*err = corruptError(path, fmt.Errorf("%v", r))
		}
	}
}

func (s *Store) checkFormat(readOnly bool) (err error) {
	defer guard(s.path, &err)()
	return s.update(readOnly, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if readOnly {
				return nil // a new, empty file: nothing to read
			}
			return s.create(tx)
		}
		v, err := strconv.Atoi(string(meta.Get(keyFormat)))
		if err != nil {
			return corruptError(s.path, fmt.Errorf("format %q", meta.Get(keyFormat)))
		}
		if v > Format {
			return &Error{s.path, fmt.Errorf("%w (format %d; this one reads up to %d)", ErrNewerFormat, v, Format),
				"upgrade stigmer to the version that wrote it, or move the file aside (mv " + s.path + " " + s.path + ".newer) to start a new history"}
		}
		return nil
	})
}

func (s *Store) create(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketEvents, bucketCounts, bucketState} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keyFormat, []byte(strconv.Itoa(Format)))
}

// update runs fn in a write transaction, or a read one when readOnly.
func (s *Store) update(readOnly bool, fn func(*bolt.Tx) error) error {
	if readOnly {
		return s.db.View(fn)
	}
	return s.db.Update(fn)
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Add records e (Seq and, when zero, Time are set here) and drops the
// oldest events beyond the bound. It returns once the event is on disk.
func (s *Store) Add(e Event) (err error) {
	defer guard(s.path, &err)()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if events == nil {
			return corruptError(s.path, errors.New("no events bucket"))
		}
		seq, err := events.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := events.Put(seqKey(seq), v); err != nil {
			return err
		}
		if err := count(tx.Bucket(bucketCounts), e.Kind); err != nil {
			return err
		}
		if e.Unclean {
			if err := count(tx.Bucket(bucketCounts), UncleanPrefix+e.Kind); err != nil {
				return err
			}
		}
		return trim(events, seq, s.maxEvents)
	})
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			return err
		}
		return &Error{s.path, err, "check free space and the file system (df -h " + filepath.Dir(s.path) + "); the server goes on without recording"}
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func count(counts *bolt.Bucket, kind string) error {
	var n uint64
	if v := counts.Get([]byte(kind)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	return counts.Put([]byte(kind), binary.BigEndian.AppendUint64(nil, n+1))
}

// trim deletes the oldest events until at most max are left. Keys are
// consecutive (only the oldest are ever deleted), so the count is the
// distance from the first key to last, without walking the bucket.
func trim(events *bolt.Bucket, last uint64, max int) error {
	c := events.Cursor()
	for k, _ := c.First(); k != nil && last-binary.BigEndian.Uint64(k) >= uint64(max); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Events returns the events at or after since (all when zero), oldest
// first.
func (s *Store) Events(since time.Time) (out []Event, err error) {
	defer guard(s.path, &err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if events == nil {
			return nil
		}
		return events.ForEach(func(_, v []byte) error {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return corruptError(s.path, fmt.Errorf("event: %w", err))
			}
			if !e.Time.Before(since) {
				out = append(out, e)
			}
			return nil
		})
	})
	return out, err
}

// Last returns the newest event for which match is true, or nil.
func (s *Store) Last(match func(Event) bool) (found *Event, err error) {
	defer guard(s.path, &err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		if events == nil {
			return nil
		}
		c := events.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return corruptError(s.path, fmt.Errorf("event: %w", err))
			}
			if match(e) {
				found = &e
				return nil
			}
		}
		return nil
	})
	return found, err
}

// UncleanPrefix marks, in Counts, the events of a kind that were unclean:
// "unclean/server-start" counts the server's starts after an unclean end,
// its restarts.
const UncleanPrefix = "unclean/"

// Counts returns how many events of each kind were ever recorded, including
// those dropped by the bound: they outlive restarts and trimming. Unclean
// ones are counted again under UncleanPrefix+kind.
func (s *Store) Counts() (map[string]uint64, error) { return s.counters(bucketCounts) }

// Get reads the JSON record name into v; false when there is none.
func (s *Store) Get(name string, v any) (ok bool, err error) {
	defer guard(s.path, &err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		state := tx.Bucket(bucketState)
		if state == nil {
			return nil
		}
		raw := state.Get([]byte(name))
		if raw == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(bytes.Clone(raw), v)
	})
	return ok, err
}

// Put stores v as the JSON record name (alert rate-limit state).
func (s *Store) Put(name string, v any) (err error) {
	defer guard(s.path, &err)()
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).Put([]byte(name), raw)
	})
}
