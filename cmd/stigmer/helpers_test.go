package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/api"
)

// stigmerBin is the binary under test, built once by TestMain with stamped
// build information.
var stigmerBin string

const (
	testVersion = "9.8.7-test"
	testCommit  = "0123456789abcdef"
	testDate    = "2026-01-02T03:04:05Z"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv("STIGMER_TEST_IMPOSTOR"); spec != "" {
		serveImpostor(spec) // this binary, run as a stand-in server (impostor_test.go)
		return
	}
	// Orphaned runners are re-parented to this process instead of PID 1,
	// so that a test can wait for them and see how they ended.
	if err := becomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, "setting PR_SET_CHILD_SUBREAPER:", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "stigmer-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stigmerBin = filepath.Join(dir, "stigmer")
	build := exec.Command("go", "build", "-o", stigmerBin,
		"-ldflags", fmt.Sprintf("-X main.version=%s -X main.commit=%s -X main.date=%s", testVersion, testCommit, testDate), ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building stigmer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is a clean environment for the binary: a temporary HOME and
// STIGMER_HOME, a free loopback port, and extra on top.
// standInPath is the absolute path of testdata/name, a shell stand-in for
// a command that cannot run here (kept as a file so that shellcheck reads it).
func standInPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	assert.NilError(t, err)
	return p
}

func testEnv(t testing.TB, extra ...string) []string {
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"STIGMER_HOME=" + filepath.Join(dir, "stigmer-home"),
		"STIGMER_LISTEN=127.0.0.1:0",
		"STIGMER_RUNTIME_DIR=" + runtimeDir(t),
	}
	return append(env, extra...)
}

// runtimeDir is a runtime directory for the server's sockets: short, as
// a Unix socket's path must be (t.TempDir's, named after the test, may be
// too long).
func runtimeDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "stigmer-run-")
	assert.NilError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serverProc is a running `stigmer internal-server`.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int
	addr    string
	client  *api.Client
	logPath string
	exited  chan struct{}
	state   *os.ProcessState
	waitErr error
}

// startServer runs internal-server with env. Its output goes to a file,
// not a pipe: runners inherit it, and a pipe held by an orphan would keep
// Wait blocked, hiding exactly what the orphan tests look for.
func startServer(t testing.TB, env []string) *serverProc {
	t.Helper()
	return startServerUnder(t, env)
}

// startServerUnder is startServer with the server run by wrapper (for
// example prlimit and its arguments).
func startServerUnder(t testing.TB, env []string, wrapper ...string) *serverProc {
	t.Helper()
	return startServerWithFiles(t, env, nil, wrapper...)
}

// startServerWithFiles is startServerUnder with files passed as fd 3 on.
func startServerWithFiles(t testing.TB, env []string, files []*os.File, wrapper ...string) *serverProc {
	t.Helper()
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	assert.NilError(t, err)
	defer logf.Close()
	argv := append(wrapper, stigmerBin, "internal-server", "--address-file", addrFile)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.ExtraFiles = files
	cmd.Stdout, cmd.Stderr = logf, logf
	assert.NilError(t, cmd.Start())
	s := &serverProc{cmd: cmd, pid: cmd.Process.Pid, logPath: logf.Name(), exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); s.state = cmd.ProcessState; close(s.exited) }()
	t.Cleanup(func() { s.kill(t) })
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		select {
		case <-s.exited:
			return poll.Error(fmt.Errorf("server exited at start (%v):\n%s", s.waitErr, s.log()))
		default:
		}
		b, err := os.ReadFile(addrFile)
		if err != nil {
			return poll.Continue("no address file yet")
		}
		s.addr = strings.TrimSpace(string(b))
		return poll.Success()
	}, poll.WithTimeout(20*time.Second), poll.WithDelay(10*time.Millisecond))
	s.client = api.NewClient("http://" + s.addr)
	return s
}

func (s *serverProc) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// kill SIGKILLs the server and its runners if they still run.
func (s *serverProc) kill(t testing.TB) {
	select {
	case <-s.exited:
		return
	default:
	}
	st, err := s.client.Status(context.Background())
	_ = syscall.Kill(s.pid, syscall.SIGKILL)
	<-s.exited
	if err == nil {
		for _, c := range st.Components[1:] {
			if c.PID != 0 {
				_ = syscall.Kill(c.PID, syscall.SIGKILL)
				reap(c.PID)
			}
		}
	}
	if t.Failed() {
		t.Logf("server log:\n%s", s.log())
	}
}

// reap collects pid if it was re-parented to this process; other PIDs are
// ignored (ECHILD).
func reap(pid int) {
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, 0, nil)
}

func (s *serverProc) status(t testing.TB) api.Status {
	t.Helper()
	st, err := s.client.Status(context.Background())
	assert.NilError(t, err, "server log:\n%s", s.log())
	return st
}

func component(st api.Status, name string) api.Component {
	for _, c := range st.Components {
		if c.Name == name {
			return c
		}
	}
	return api.Component{}
}

// waitReady waits until /readyz says 200.
func (s *serverProc) waitReady(t testing.TB) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		rd, err := s.client.Ready(context.Background())
		switch {
		case err != nil:
			return poll.Continue("readyz: %v", err)
		case !rd.Ready:
			return poll.Continue("not ready: %s", rd.Reason)
		}
		return poll.Success()
	}, poll.WithTimeout(30*time.Second), poll.WithDelay(10*time.Millisecond))
}

// waitRunner waits until runner name is up with a PID other than old and
// returns its status.
func (s *serverProc) waitRunner(t testing.TB, name string, old int) api.Component {
	t.Helper()
	var c api.Component
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		st, err := s.client.Status(context.Background())
		if err != nil {
			return poll.Continue("status: %v", err)
		}
		c = component(st, name)
		if c.State != "up" || c.PID == old || c.PID == 0 {
			return poll.Continue("%s: pid %d, state %s", name, c.PID, c.State)
		}
		return poll.Success()
	}, poll.WithTimeout(60*time.Second), poll.WithDelay(5*time.Millisecond))
	return c
}

// procState is the state letter of pid from /proc/PID/stat ("Z" for a
// zombie), or "" when the process does not exist.
func procState(pid int) (state string, ppid int) {
	fields := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	if fields == nil {
		return "", 0
	}
	ppid, _ = strconv.Atoi(fields[1])
	return fields[0], ppid
}

// statFields returns the fields of a /proc stat file after the command
// name (state first), or nil when it cannot be read.
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	// the command name is in parentheses and may hold spaces
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
}

// zombieChildren lists the zombie children of parent.
func zombieChildren(parent int) []int {
	entries, _ := os.ReadDir("/proc")
	var zs []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ppid := procState(pid); st == "Z" && ppid == parent {
			zs = append(zs, pid)
		}
	}
	return zs
}

// waitGone waits until pid no longer exists (not even as a zombie).
func waitGone(t testing.TB, pid int, what string) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if st, ppid := procState(pid); st != "" {
			return poll.Continue("%s (pid %d) still there, state %s, parent %d", what, pid, st, ppid)
		}
		return poll.Success()
	}, poll.WithTimeout(20*time.Second), poll.WithDelay(5*time.Millisecond))
}
