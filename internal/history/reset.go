package history

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The names of history files set aside, each followed by the time (see
// AsideName): a damaged history the server moved aside,
// history.db.broken-20261129T060000Z, and the history a restore replaced,
// history.db.before-restore-20261129T060000Z.
const (
	BrokenPrefix        = FileName + ".broken-"
	BeforeRestorePrefix = FileName + ".before-restore-"
)

// Reset is a damaged history file that OpenOrReset moved aside.
type Reset struct {
	// Broken is where the damaged file is now.
	Broken string
	// Why is what was wrong with it.
	Why error
}

// OpenOrReset opens the store for writing like Open. When the file is
// damaged it moves it aside as history.db.broken-TIME (now, in UTC), where
// it stays for inspection, and starts a new history; reset then says so.
// Only the server and its ExecStopPost, the history's writers, call it:
// a reader cannot tell a damaged file from one being written by a newer
// stigmer, and must not move what it only reads. Errors are Open's, or an
// *Error saying the file could not be moved.
func OpenOrReset(dataDir string, o Options, now time.Time) (st *Store, reset *Reset, err error) {
	st, err = Open(dataDir, o)
	if err == nil || !errors.Is(err, ErrDamaged) || o.ReadOnly {
		return st, nil, err
	}
	path := filepath.Join(dataDir, FileName)
	broken := AsideName(dataDir, BrokenPrefix, now)
	if rerr := os.Rename(path, broken); rerr != nil {
		return nil, nil, &Error{path, fmt.Errorf("%w, and moving it aside failed: %w", ErrDamaged, rerr),
			"move it aside by hand (sudo mv " + path + " " + broken + ") and restart stigmer"}
	}
	why := err
	var he *Error
	if errors.As(err, &he) {
		why = he.Err
	}
	st, err = Open(dataDir, o)
	return st, &Reset{Broken: broken, Why: why}, err
}

// AsideName is the free name in dataDir for a file set aside at now:
// prefix and the time in UTC, with .2, .3, ... when a file of that second
// is there already (a second damaged file within the same second must
// not replace the first).
func AsideName(dataDir, prefix string, now time.Time) string {
	name := filepath.Join(dataDir, prefix+now.UTC().Format("20060102T150405Z"))
	candidate := name
	for i := 2; ; i++ {
		if _, err := os.Lstat(candidate); errors.Is(err, os.ErrNotExist) {
			return candidate
		}
		candidate = fmt.Sprintf("%s.%d", name, i)
	}
}

// BrokenFiles lists the damaged histories moved aside in dataDir, oldest
// first (their names sort by time).
func BrokenFiles(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), BrokenPrefix) {
			out = append(out, filepath.Join(dataDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
