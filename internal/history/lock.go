package history

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// LockedError is a history file that a process holds (a server: bbolt
// takes an flock(2) on the file it opens for writing).
type LockedError struct {
	Path string
	// PID holds the lock; 0 when /proc/locks does not say.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return e.Path + " is held by another process"
	}
	return fmt.Sprintf("%s is held by pid %d", e.Path, e.PID)
}

// Unwrap makes a LockedError an ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock takes the history file's lock as a writer does, without waiting,
// and holds it until unlock: meanwhile no server opens the file (one that
// starts waits, then runs without history and opens it again later). A
// file that a process holds is a *LockedError naming it. A missing file
// is not an error: there is nothing to hold.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, PID: flockHolder(f)}
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}

// flockHolder finds who holds an flock on f's file in /proc/locks
// ("1: FLOCK ADVISORY WRITE 812 fd:01:1234 0 EOF"); 0 when it cannot.
func flockHolder(f *os.File) int {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return 0
	}
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	// Stat_t.Dev is uint64 on Linux, int32 on macOS (where nothing has
	// /proc/locks, but the package builds).
	dev := uint64(st.Dev)
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), st.Ino)
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// "->" marks a waiter, which shifts the fields by one.
		if len(f) < 6 || f[1] == "->" || f[1] != "FLOCK" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
