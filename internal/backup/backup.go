// Package backup writes a copy of the history to a file and puts such a
// copy back in place of the history: the file is written whole or not at
// all (a temporary file beside it, synced, checked, renamed), and a copy
// replaces the history only once history.Inspect passed it, while no
// process holds the history, with the history's owner and mode, the
// replaced file kept beside it. Who may do it, and whether a server must
// be stopped first, is the caller's to decide; taking the copy from a
// running server is the server's (history.Store.Backup).
package backup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/runfile"
)

// Write writes what copyTo writes into path, atomically, mode 0600: into
// a temporary file in path's directory, synced, then checked with
// history.Inspect, and only then renamed over path. On any failure path
// is as it was and the temporary file is gone. It returns what the copy
// holds.
func Write(path string, copyTo func(io.Writer) (int64, error)) (history.Summary, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return history.Summary{}, fmt.Errorf("%s is a directory: name the file to write, for example %s", path, filepath.Join(path, "stigmer-history-"+time.Now().Format("20060102")+".db"))
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return history.Summary{}, dirError(path, dir, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes it 0600 already; said again against a umask-less
	// future and because the mode is the promise.
	if err := tmp.Chmod(0o600); err != nil {
		return history.Summary{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := copyTo(tmp); err != nil {
		return history.Summary{}, err
	}
	if err := tmp.Sync(); err != nil {
		return history.Summary{}, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return history.Summary{}, fmt.Errorf("writing %s: %w", path, err)
	}
	sum, err := history.Inspect(tmp.Name())
	if err != nil {
		return history.Summary{}, fmt.Errorf("the copy is not a sound history, so %s was not written: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return history.Summary{}, fmt.Errorf("writing %s: %w", path, err)
	}
	done = true
	runfile.SyncDir(dir)
	sum.Path = path
	return sum, nil
}

// dirError is why no file could be made in dir, the directory path is
// to be written in, with what to do: the temporary file's own name means
// nothing to whoever named path.
func dirError(path, dir string, err error) error {
	dir = filepath.Clean(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot write %s: the directory %s does not exist; make it first (install -d -m 0700 %s)", path, dir, dir)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("cannot write %s: no permission to make files in %s; run as root (sudo), or name a file in a directory you may write", path, dir)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	return fmt.Errorf("writing %s: %w", path, err)
}

// Restored is what Restore did.
type Restored struct {
	// Path is the history now, Summary what it holds.
	Path    string
	Summary history.Summary
	// Aside is where the replaced history is kept; empty when there was
	// none.
	Aside string
	// UID and GID own the restored file (the data directory's owner).
	UID, GID int
}

// Restore puts the backup at file in place of the history in dataDir. It
// checks file with history.Inspect first (a refusal changes nothing),
// holds the history's lock throughout (a *history.LockedError when a
// process, a server, holds it), copies file into a temporary file in
// dataDir owned like dataDir, mode 0600, records the restore as its last
// event (history-restored), moves the history aside as
// history.db.before-restore-TIME (now, in UTC), and renames the copy into
// place. Summary is what the backup held.
func Restore(file, dataDir string, now time.Time) (Restored, error) {
	sum, err := history.Inspect(file)
	if err != nil {
		return Restored{}, err
	}
	dst := filepath.Join(dataDir, history.FileName)
	if same(file, dst) {
		return Restored{}, fmt.Errorf("%s is the history itself: name a backup (`stigmer backup FILE` writes one)", file)
	}
	di, err := os.Stat(dataDir)
	if err != nil {
		return Restored{}, fmt.Errorf("reading the data directory: %w", err)
	}
	st, ok := di.Sys().(*syscall.Stat_t)
	if !ok {
		return Restored{}, fmt.Errorf("reading the owner of %s: not a Unix file system", dataDir)
	}
	r := Restored{Path: dst, Summary: sum, UID: int(st.Uid), GID: int(st.Gid)}
	unlock, err := history.Lock(dst)
	if err != nil {
		return Restored{}, err
	}
	defer unlock()
	tmp, err := copyInto(file, dataDir, r.UID, r.GID)
	if err != nil {
		return Restored{}, err
	}
	defer os.Remove(tmp) // gone once renamed; on a failure, not left behind
	if _, err := os.Lstat(dst); err == nil {
		r.Aside = history.AsideName(dataDir, history.BeforeRestorePrefix, now)
	}
	if err := markRestored(tmp, file, sum, r.Aside); err != nil {
		return Restored{}, fmt.Errorf("the copy of %s in %s is not sound, so nothing was changed: %w", file, dataDir, err)
	}
	if r.Aside != "" {
		if err := os.Rename(dst, r.Aside); err != nil {
			return Restored{}, fmt.Errorf("moving the history aside, so nothing was changed: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if r.Aside != "" {
			if back := os.Rename(r.Aside, dst); back != nil {
				return Restored{}, fmt.Errorf("putting the copy in place: %w; and moving the history back from %s: %v (move it back by hand)", err, r.Aside, back)
			}
		}
		return Restored{}, fmt.Errorf("putting the copy in place, so nothing was changed: %w", err)
	}
	runfile.SyncDir(dataDir)
	return r, nil
}

// markRestored ends the copy at path with a history-restored event
// naming the backup and where the replaced history went. It is the last
// event the next server finds: the backup's own last start, of a server
// that was running when it was copied, must not read as a crash (a
// restart counted, StigmerServerRestarted fired).
func markRestored(path, file string, sum history.Summary, aside string) error {
	st, err := history.OpenFile(path, history.Options{})
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("the history was restored from %s (%d events", file, sum.Events)
	if sum.Events > 0 {
		reason += ", the last at " + sum.Last.UTC().Format(time.RFC3339)
	}
	reason += ")"
	if aside != "" {
		reason += "; the history it replaced is kept as " + aside
	}
	err = st.Add(history.Event{Kind: history.HistoryRestored, Component: "server", Reason: reason})
	return errors.Join(err, st.Close())
}

// copyInto copies file into a new temporary file in dir, owned by uid and
// gid, mode 0600, synced, and returns its path.
func copyInto(file, dir string, uid, gid int) (string, error) {
	in, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, "."+history.FileName+".restore-*")
	if err != nil {
		return "", fmt.Errorf("copying into %s: %w", dir, err)
	}
	fail := func(err error) (string, error) {
		out.Close()
		os.Remove(out.Name())
		return "", fmt.Errorf("copying into %s, so nothing was changed: %w", dir, err)
	}
	if err := out.Chmod(0o600); err != nil {
		return fail(err)
	}
	if os.Geteuid() != uid || os.Getegid() != gid {
		if err := out.Chown(uid, gid); err != nil {
			return fail(err)
		}
	}
	if _, err := io.Copy(out, in); err != nil {
		return fail(err)
	}
	if err := out.Sync(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	return out.Name(), nil
}

// same reports whether a and b are one file.
func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return errors.Join(err1, err2) == nil && os.SameFile(fa, fb)
}
