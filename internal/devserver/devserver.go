// Package devserver runs the server for development, without systemd:
// `stigmer server start` starts it in the background in its own session
// with a PID file, an address file and a log file under $STIGMER_HOME, and
// `stigmer server stop` stops it. In production systemd does this job.
package devserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/listen"
	"github.com/stigmer/stigmer/internal/runfile"
)

// Paths are the dev server's files under $STIGMER_HOME.
type Paths struct {
	Home        string
	PIDFile     string
	AddressFile string
	LogFile     string
}

// PathsIn returns the files of a dev server whose home is home.
func PathsIn(home string) Paths {
	return Paths{
		Home:        home,
		PIDFile:     filepath.Join(home, "server.pid"),
		AddressFile: filepath.Join(home, "server.addr"),
		LogFile:     filepath.Join(home, "logs", "server.log"),
	}
}

// ServiceActive reports whether the packaged stigmer.service is active on
// this machine, asking systemctl; without systemctl or systemd it is false.
func ServiceActive(ctx context.Context) bool {
	path, err := exec.LookPath("systemctl")
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, path, "is-active", "--quiet", "stigmer.service").Run() == nil
}

// ServiceRunning reports whether stigmer.service runs or is about to:
// active, activating (a start, or a restart pending for RestartSec),
// deactivating or reloading, with the state systemctl gives. Without
// systemctl or systemd it is false.
func ServiceRunning(ctx context.Context) (state string, running bool) {
	path, err := exec.LookPath("systemctl")
	if err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// is-active exits 3 for every state but active: its output says which.
	out, _ := exec.CommandContext(ctx, path, "is-active", "stigmer.service").Output()
	state = strings.TrimSpace(string(out))
	switch state {
	case "active", "activating", "deactivating", "reloading", "refreshing":
		return state, true
	}
	return state, false
}

// ErrServiceActive is returned by CheckCanStart when stigmer.service runs.
var ErrServiceActive = errors.New("stigmer.service is active on this machine: the packaged server already runs under systemd; use `stigmer server status` and `systemctl status stigmer`, or stop it first with `sudo systemctl stop stigmer`")

// Running returns the PID of this home's dev server when one runs: the PID
// file names a live stigmer server, and that server holds the file's lock.
func Running(p Paths) (int, bool) {
	pid, err := owner(p)
	return pid, err == nil
}

// owner proves that the PID in the PID file is this home's server: the
// server holds a lock on the file it wrote (see runfile.LockHolder), so a
// PID copied from another home's file, a recycled PID or a stale file
// cannot pass. ErrNotRunning means no file, no PID, or a PID that no longer
// runs; a *ForeignPIDError means the PID runs but is not this home's server.
func owner(p Paths) (int, error) {
	b, err := os.ReadFile(p.PIDFile)
	if err != nil {
		return 0, ErrNotRunning
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, ErrNotRunning
	}
	holder, err := runfile.LockHolder(p.PIDFile)
	switch {
	case errors.Is(err, runfile.ErrNotLocked):
		if !alive(pid) {
			return 0, ErrNotRunning
		}
		return 0, &ForeignPIDError{PIDFile: p.PIDFile, PID: pid, Process: Describe(pid)}
	case err != nil:
		return 0, ErrNotRunning // the file went away meanwhile
	case holder != pid:
		return 0, &ForeignPIDError{PIDFile: p.PIDFile, PID: pid, Process: Describe(pid), Holder: holder}
	case !isServer(pid):
		return 0, &ForeignPIDError{PIDFile: p.PIDFile, PID: pid, Process: Describe(pid), Holder: holder}
	}
	return pid, nil
}

// ForeignPIDError is a PID file whose PID runs but is not proven to be
// this home's server: Stop refuses to signal it.
type ForeignPIDError struct {
	PIDFile string
	PID     int
	Process string // its command line, as found
	Holder  int    // the PID that holds the file's lock; 0 when none
}

func (e *ForeignPIDError) Error() string {
	if e.Holder == 0 {
		return fmt.Sprintf("not stopping pid %d: %s names it (%s), but no stigmer server holds that file's lock, so it is not this STIGMER_HOME's server (a stale or hand-written file); if no dev server of this home runs, remove %s", e.PID, e.PIDFile, e.Process, e.PIDFile)
	}
	return fmt.Sprintf("not stopping pid %d: %s names it (%s), but the file is held by pid %d (%s); the file was changed by hand: stop the server with `kill %d` if it is this home's", e.PID, e.PIDFile, e.Process, e.Holder, Describe(e.Holder), e.Holder)
}

// alive reports whether a process pid exists (a zombie counts as gone).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return (err == nil || errors.Is(err, syscall.EPERM)) && Describe(pid) != "no command line"
}

// Describe is pid's command line for messages: `/usr/bin/stigmer
// internal-server`, "not running", ...
func Describe(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "not running"
		}
		return "command line unreadable: " + err.Error()
	}
	cmd := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if cmd == "" {
		return "no command line"
	}
	if len(cmd) > 120 {
		cmd = cmd[:120] + "…"
	}
	return "`" + cmd + "`"
}

// isServer tells a live stigmer server from a recycled PID or a zombie
// (whose cmdline is empty): its arguments are `internal-server ...` (the
// background server) or `server start --foreground`.
func isServer(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if len(args) < 2 {
		return false
	}
	args = args[1:]
	return args[0] == "internal-server" ||
		(len(args) >= 3 && args[0] == "server" && args[1] == "start" && slices.Contains(args[2:], "--foreground"))
}

// Address returns the address the running dev server listens on.
func Address(p Paths) (string, bool) {
	if _, ok := Running(p); !ok {
		return "", false
	}
	b, err := os.ReadFile(p.AddressFile)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// CheckCanStart refuses to start when the service or a dev server runs,
// or when addr is taken.
func CheckCanStart(ctx context.Context, p Paths, addr string) error {
	if ServiceActive(ctx) {
		return ErrServiceActive
	}
	if pid, ok := Running(p); ok {
		addr, _ := Address(p)
		return fmt.Errorf("a stigmer dev server already runs (pid %d, on %s); see `stigmer server status`, or stop it with `stigmer server stop`", pid, addr)
	}
	ln, err := listen.TCP(addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// Started describes a dev server that is up.
type Started struct {
	PID     int
	Address string
	LogFile string
}

// Start runs `exe internal-server` in the background, in its own session,
// with its output appended to the log file, and waits until it is ready or
// has failed. Call CheckCanStart first.
func Start(ctx context.Context, exe string, p Paths, timeout time.Duration) (Started, error) {
	for _, f := range []string{p.PIDFile, p.AddressFile} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Started{}, fmt.Errorf("removing stale %s: %w", f, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(p.LogFile), 0o750); err != nil {
		return Started{}, fmt.Errorf("creating log dir: %w", err)
	}
	logf, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return Started{}, fmt.Errorf("opening log file: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(exe, "internal-server", "--address-file", p.AddressFile, "--pid-file", p.PIDFile)
	cmd.Env = append(os.Environ(), "STIGMER_HOME="+p.Home)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own session: the server outlives this command and the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Started{}, fmt.Errorf("starting %s internal-server: %w", exe, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	addr, err := waitReady(ctx, p, exited, timeout)
	if err != nil {
		return Started{}, fmt.Errorf("%w; its log %s ends with:\n%s", err, p.LogFile, tail(p.LogFile, 15))
	}
	return Started{PID: cmd.Process.Pid, Address: addr, LogFile: p.LogFile}, nil
}

// waitReady polls the address file and /readyz until the server is ready,
// the server exits, or timeout passes.
func waitReady(ctx context.Context, p Paths, exited <-chan error, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "it has not written its address yet"
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("the server exited before it was ready (%v)", err)
		case <-deadline.C:
			return "", fmt.Errorf("the server is not ready after %s (%s); it keeps running: see `stigmer server status`, stop it with `stigmer server stop`", timeout, last)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
		}
		b, err := os.ReadFile(p.AddressFile)
		if err != nil {
			continue
		}
		addr := strings.TrimSpace(string(b))
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		rd, err := api.NewClient("http://" + addr).Ready(rctx)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case rd.Ready:
			return addr, nil
		default:
			last = rd.Reason
		}
	}
}

// tail returns the last n lines of path, indented, for error messages.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, "  "+sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Stopped says what Stop did.
type Stopped struct {
	PID  int
	Took time.Duration
}

// ErrNotRunning is returned by Stop when no dev server runs.
var ErrNotRunning = errors.New("no stigmer dev server is running")

// Stop sends SIGTERM to the dev server and waits up to timeout for it to
// exit. Stale PID and address files are removed. It refuses, with a
// *ForeignPIDError, a PID that is not proven to be this home's server.
func Stop(ctx context.Context, p Paths, timeout time.Duration) (Stopped, error) {
	pid, err := owner(p)
	if errors.Is(err, ErrNotRunning) {
		removeQuietly(p.PIDFile, p.AddressFile)
		return Stopped{}, ErrNotRunning
	}
	if err != nil {
		return Stopped{}, err // the files stay: they may be another server's
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return Stopped{}, fmt.Errorf("sending SIGTERM to pid %d: %w", pid, err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for isServer(pid) {
		if time.Since(start) > timeout {
			return Stopped{}, fmt.Errorf("the server (pid %d) did not stop within %s after SIGTERM; see %s, or kill it with `kill -9 %d`", pid, timeout, p.LogFile, pid)
		}
		select {
		case <-ctx.Done():
			return Stopped{}, ctx.Err()
		case <-tick.C:
		}
	}
	removeQuietly(p.PIDFile, p.AddressFile)
	return Stopped{PID: pid, Took: time.Since(start)}, nil
}

func removeQuietly(paths ...string) {
	for _, p := range paths {
		_ = os.Remove(p) // absent is fine; the server removes its own on a clean exit
	}
}
