package history

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backups: a consistent copy of an open store (Backup), and the checks a
// file must pass before it may replace the history (Inspect).

// Backup writes a copy of the store to w, as it stands in one read
// transaction: bbolt's own copy, which writers do not wait for and which
// never holds half of a write. It reads the file, not the mapping. It
// returns the bytes written; the copy is whole only when err is nil.
func (s *Store) Backup(w io.Writer) (n int64, err error) {
	defer guard(s.path, &err)()
	err = s.db.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// ErrForeign is a sound bbolt file that is not a stigmer history: another
// program's database.
var ErrForeign = errors.New("not a stigmer history")

// Summary is what a history file holds, as Inspect found it.
type Summary struct {
	Path   string
	Size   int64
	Format int
	// Events kept, their sequence numbers and times; zero when none.
	Events            int
	FirstSeq, LastSeq uint64
	First, Last       time.Time
	// Counts are Counts' kinds: every event ever recorded, including
	// those the bound dropped.
	Counts map[string]uint64
}

// Inspect reads the history file at path without changing it (read only,
// under a shared lock, so never while a server holds it) and proves it is
// one a server can use: bbolt's page bounds (Check), bbolt's consistency
// check of every page, a stigmer history's buckets, a format this build
// reads, and every event readable. Every failure is an *Error saying what
// to do with such a file; it wraps ErrDamaged (damaged, cut short, empty,
// not bbolt), ErrForeign, ErrNewerFormat, ErrLocked, or the error of
// reading the file (os.ErrNotExist, os.ErrPermission).
func Inspect(path string) (Summary, error) {
	sum, err := inspect(path)
	if err != nil {
		return Summary{}, fileError(path, err)
	}
	return sum, nil
}

func inspect(path string) (sum Summary, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return sum, err
	}
	switch {
	case fi.IsDir():
		return sum, errors.New("is a directory, not a file")
	case fi.Size() == 0:
		return sum, fmt.Errorf("%w: empty", ErrDamaged)
	}
	if err := Check(path); err != nil {
		return sum, err
	}
	defer guard(path, &err)()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return sum, openError(path, err)
	}
	defer db.Close()
	sum = Summary{Path: path, Size: fi.Size(), Counts: map[string]uint64{}}
	err = db.View(func(tx *bolt.Tx) error {
		// Every page the buckets reach, touched here under the guard
		// first: bbolt's check reads them on a goroutine of its own,
		// where a fault would not be caught.
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		var first error
		for err := range tx.Check() { // drained: its goroutine sends them all
			if first == nil {
				first = fmt.Errorf("%w: %w", ErrDamaged, err)
			}
		}
		if first != nil {
			return first
		}
		return sum.read(tx)
	})
	return sum, err
}

// walk reads every key of b and of the buckets inside it.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if child := b.Bucket(k); child != nil {
				return walk(child)
			}
		}
		return nil
	})
}

// read fills sum from a history's buckets.
func (sum *Summary) read(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || meta.Get(keyFormat) == nil || tx.Bucket(bucketEvents) == nil {
		return fmt.Errorf("%w: a bbolt database without a stigmer history's buckets (meta, events)", ErrForeign)
	}
	v, err := strconv.Atoi(string(meta.Get(keyFormat)))
	if err != nil {
		return fmt.Errorf("%w: format %q", ErrDamaged, meta.Get(keyFormat))
	}
	sum.Format = v
	if v > Format {
		return fmt.Errorf("%w (format %d; this one reads up to %d)", ErrNewerFormat, v, Format)
	}
	err = tx.Bucket(bucketEvents).ForEach(func(k, raw []byte) error {
		var e Event
		if len(k) != 8 || json.Unmarshal(raw, &e) != nil {
			return fmt.Errorf("%w: event %x does not read", ErrDamaged, k)
		}
		if sum.Events == 0 {
			sum.FirstSeq, sum.First = e.Seq, e.Time
		}
		sum.Events++
		sum.LastSeq, sum.Last = e.Seq, e.Time
		return nil
	})
	if err != nil {
		return err
	}
	if counts := tx.Bucket(bucketCounts); counts != nil {
		return counts.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				sum.Counts[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	}
	return nil
}

// fileError is err about a file that is to replace the history (a
// backup), with what to do about it; the live history's own errors
// (openError, corruptError) speak of the server moving it aside instead.
func fileError(path string, err error) error {
	var he *Error
	if errors.As(err, &he) {
		err = he.Err
	}
	fix := "check the path"
	switch {
	case errors.Is(err, ErrDamaged):
		fix = "it is not a whole history (cut short, overwritten, or not one at all) and cannot be restored: use another backup; `stigmer restore --check FILE` shows what one holds"
	case errors.Is(err, ErrForeign):
		fix = "a backup of the history is what `stigmer backup FILE` writes"
	case errors.Is(err, ErrNewerFormat):
		fix = "restore it with the stigmer version that wrote it, or a newer one"
	case errors.Is(err, ErrLocked):
		fix = "a running server holds it: this is a live history, not a backup; copy it with `stigmer backup FILE`"
	case errors.Is(err, os.ErrPermission):
		fix = "run as root (sudo), or as its owner"
	}
	return &Error{Path: path, Err: err, Fix: fix}
}
