// Package runfile writes the server's run files (PID, address) atomically and
// tells which process holds the PID file's lock.
package runfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Write writes content to path through a temporary file of a
// unique name beside it, created exclusively without following symlinks,
// fsynced and renamed over path: a reader never sees half a file, a
// symlink planted at the temporary name or at path is never written
// through, and the file survives a crash. With lock, the returned file
// holds a write lock (fcntl) on what is now path, for as long as it stays
// open: the proof that the locker owns path (see LockHolder). Without
// lock the returned file is nil.
func Write(path, content string, lock bool) (*os.File, error) {
	suffix := make([]byte, 8)
	if _, err := io.ReadFull(rand.Reader, suffix); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+hex.EncodeToString(suffix)+".tmp")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if lock {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			return fail(fmt.Errorf("locking: %w", err))
		}
	}
	if _, err := f.WriteString(content); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	SyncDir(filepath.Dir(path))
	if lock {
		return f, nil
	}
	return nil, f.Close()
}

// SyncDir makes a rename in dir durable; best effort, as some file systems
// refuse to fsync a directory.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort, see above
		d.Close()
	}
}

// ErrNotLocked is returned by LockHolder when no process holds a lock on
// the file.
var ErrNotLocked = errors.New("no process holds a lock on it")

// LockHolder returns the PID of the process that holds the write lock that
// Write took on path (the server, for its PID file), ErrNotLocked
// when none does, or the error of opening path. The caller's own locks do
// not count (fcntl locks never conflict with their owner's).
func LockHolder(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("asking who locks %s: %w", path, err)
	}
	if lk.Type == unix.F_UNLCK {
		return 0, ErrNotLocked
	}
	return int(lk.Pid), nil
}
