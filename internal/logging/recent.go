package logging

import (
	"bufio"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// RecentFile is where the server keeps its last log lines, in the log
// directory, besides the journal: the alert after a crash quotes them, and
// the stigmer user it runs as cannot read the system journal. Two files of
// at most RecentMaxBytes each: RecentFile and RecentFile+".1".
const (
	RecentFile     = "recent.log"
	RecentMaxBytes = 256 << 10
)

// Recent appends log lines to RecentFile, rotating it at RecentMaxBytes.
// Writes are not synced: the lines must outlive the process (kill -9), not
// the machine.
type Recent struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
}

// OpenRecent opens (creates, mode 0600) the recent-lines file in dir.
func OpenRecent(dir string) (*Recent, error) {
	r := &Recent{path: filepath.Join(dir, RecentFile)}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Recent) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p (one log line), rotating first when the file is full.
func (r *Recent) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, errors.New("recent log closed")
	}
	if r.size+int64(len(p)) > RecentMaxBytes {
		r.f.Close()
		r.f = nil
		if err := os.Rename(r.path, r.path+".1"); err != nil {
			return 0, err
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// Close closes the file.
func (r *Recent) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// WithRecent returns log with its entries also written, as text, to the
// recent-lines file in dir, and the file to close at the end. When the
// file cannot be opened, log is returned as it was, with the reason.
func WithRecent(log *slog.Logger, dir string) (*slog.Logger, *Recent, error) {
	r, err := OpenRecent(dir)
	if err != nil {
		return log, nil, err
	}
	return slog.New(slog.NewMultiHandler(log.Handler(), NewTextHandler(r))), r, nil
}

// LastLines returns the last n lines of the recent-lines file in dir (and
// of its rotated half when needed), oldest first; none when there are none.
func LastLines(dir string, n int) []string {
	path := filepath.Join(dir, RecentFile)
	lines := readLines(path)
	if len(lines) < n {
		lines = append(readLines(path+".1"), lines...)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// FirstLines returns the first n lines of path (a crash trace starts with
// the panic and the goroutine that crashed).
func FirstLines(path string, n int) []string {
	lines := readLines(path)
	if len(lines) > n {
		lines = lines[:n]
	}
	return lines
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
