package main

// Tests of the server's hardening: what an operator or a hostile client can
// do to a running server, checked on the real binary.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/api"
)

func TestConfigurationRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"every interface", []string{"STIGMER_LISTEN=0.0.0.0:7299"},
			`STIGMER_LISTEN="0.0.0.0:7299" is not a loopback address and the API has no authentication; use 127.0.0.1:7299, or set STIGMER_ALLOW_NON_LOOPBACK=1`},
		{"no host", []string{"STIGMER_LISTEN=:7299"}, `STIGMER_LISTEN=":7299" is not a loopback address`},
		{"restart cap below 1s", []string{"STIGMER_RUNNER_RESTART_MAX_DELAY=1ms"},
			`STIGMER_RUNNER_RESTART_MAX_DELAY="1ms" is below the minimum of 1s`},
		{"relative STIGMER_HOME", []string{"STIGMER_HOME=relhome"}, `STIGMER_HOME="relhome" is not an absolute path`},
		{"an allowed host given as a URL", []string{"STIGMER_ALLOWED_HOSTS=stigmer.example.com,https://proxy.example.com"},
			`STIGMER_ALLOWED_HOSTS="stigmer.example.com,https://proxy.example.com" has "https://proxy.example.com", which is a URL or a path`},
		{"an allowed host wildcard", []string{"STIGMER_ALLOWED_HOSTS=*"}, `STIGMER_ALLOWED_HOSTS="*" has "*", which is a wildcard`},
		{"an allowed host with a bad port", []string{"STIGMER_ALLOWED_HOSTS=stigmer.internal:99999"},
			`has "stigmer.internal:99999", which does not end in a port number from 1 to 65535; list host names or IP addresses`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res := icmd.RunCmd(bounded(stigmerBin, "internal-server"), icmd.WithEnv(testEnv(t, tc.env...)...), icmd.Dir(dir))
			res.Assert(t, icmd.Expected{ExitCode: 78, Err: tc.want})
			assert.Equal(t, strings.Count(res.Stderr(), "\n"), 1, "one line: %q", res.Stderr())
			entries, err := os.ReadDir(dir)
			assert.NilError(t, err)
			assert.Equal(t, len(entries), 0, "created in the working directory: %v", entries)
		})
	}
	t.Run("no directory created before a later check fails", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nonexistent")
		res := icmd.RunCmd(bounded(stigmerBin, "internal-server"),
			icmd.WithEnv(testEnv(t, "STIGMER_DATA_DIR="+filepath.Join(missing, "data"), "STIGMER_LLM_PROVIDER=gemini")...))
		res.Assert(t, icmd.Expected{ExitCode: 78, Err: `STIGMER_LLM_PROVIDER="gemini"`})
		_, err := os.Stat(missing)
		assert.Assert(t, os.IsNotExist(err), "%s was created by a start that failed its checks", missing)
	})
}

func TestNonLoopbackListenOnPurposeIsWarnedAbout(t *testing.T) {
	s := startServer(t, testEnv(t, "STIGMER_LISTEN=0.0.0.0:0", "STIGMER_ALLOW_NON_LOOPBACK=1"))
	s.waitReady(t)
	assert.Assert(t, is.Contains(s.log(), `level=WARN msg="the API listens beyond loopback, without authentication`))
	assert.Assert(t, is.Contains(s.log(), `opted_in_by="STIGMER_ALLOW_NON_LOOPBACK=1"`))
	// Shown as configured, not as Go names the socket ([::]).
	assert.Check(t, strings.HasPrefix(s.addr, "0.0.0.0:"), "address file: %s", s.addr)
	assert.Check(t, strings.HasPrefix(s.status(t).Listen, "0.0.0.0:"), "status: %s", s.status(t).Listen)
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "status", "--address", s.addr), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{Out: "stigmer " + testVersion + " on " + s.addr + ": ready"})
}

// TestLocalClientsNeverUseAProxy: with HTTP_PROXY in the service's
// environment and the API beyond loopback (its clients then dial
// 0.0.0.0 or [::], which Go does not exempt from the proxy as it does
// loopback), the runners' calls, with their tokens, went to the proxy:
// they never registered, and were restarted for ever. Nothing the server
// or the CLI sends may go there.
func TestLocalClientsNeverUseAProxy(t *testing.T) {
	var mu sync.Mutex
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.Method+" "+r.URL.String())
		mu.Unlock()
		http.Error(w, "a stand-in proxy that records", http.StatusBadGateway)
	}))
	defer proxy.Close()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	defer conn.Close()
	env := testEnv(t, "STIGMER_LISTEN=0.0.0.0:0", "STIGMER_ALLOW_NON_LOOPBACK=1",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	s := startServer(t, env)
	host, _, err := net.SplitHostPort(s.addr)
	assert.NilError(t, err)
	assert.Assert(t, net.ParseIP(host).IsUnspecified(), "the clients dial %s", s.addr)
	s.waitReady(t) // both runners registered

	buf := make([]byte, 4096)
	for {
		assert.NilError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, _, err := conn.ReadFromUnix(buf)
		assert.NilError(t, err, "no WATCHDOG=1: the health check failed; log:\n%s", s.log())
		if string(buf[:n]) == "WATCHDOG=1" {
			break
		}
	}
	res := icmd.RunCmd(bounded(stigmerBin, "server", "status", "--address", s.addr), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{Out: "workflow-runner"})
	mu.Lock()
	defer mu.Unlock()
	assert.Assert(t, is.Len(proxied, 0), "requests sent to the proxy: %v", proxied)
}

// rawGet sends one request to addr with the given Host header and returns
// the status code and body.
func rawRequest(t *testing.T, addr, method, path, host, body string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	assert.NilError(t, err)
	defer c.Close()
	assert.NilError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, host, len(body), body)
	assert.NilError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	assert.NilError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	assert.NilError(t, err)
	return resp.StatusCode, string(b)
}

func TestHostHeaderMustNameTheServer(t *testing.T) {
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	_, port, _ := net.SplitHostPort(s.addr)
	for _, host := range []string{s.addr, "127.0.0.1", "localhost", "localhost:" + port, "LocalHost:" + port, "[::1]:" + port, "[::1]"} {
		code, body := rawRequest(t, s.addr, "GET", "/api/v1/status", host, "")
		assert.Equal(t, code, 200, "Host %s: %s", host, body)
	}
	// A page of attacker.example whose name was re-pointed at 127.0.0.1
	// (DNS rebinding) sends its own name.
	for _, host := range []string{"attacker.example", "attacker.example:" + port, "127.0.0.1.attacker.example", "192.0.2.1:" + port} {
		code, body := rawRequest(t, s.addr, "GET", "/api/v1/status", host, "")
		assert.Equal(t, code, http.StatusMisdirectedRequest, "Host %s: %s", host, body)
		assert.Assert(t, is.Contains(body, fmt.Sprintf(`Host \"%s\" does not name this server; use http://%s`, host, s.addr)))
		assert.Assert(t, is.Contains(body, "DNS rebinding"))
		assert.Assert(t, !strings.Contains(body, "workflow-runner"), "status leaked: %s", body)
	}
}

// A reverse proxy or a scraper that reaches the server by name is served
// once the name is in STIGMER_ALLOWED_HOSTS; other names still get 421.
func TestAllowedHostsAreServed(t *testing.T) {
	s := startServer(t, testEnv(t, "STIGMER_ALLOWED_HOSTS=stigmer.internal, metrics.internal:9090"))
	s.waitReady(t)
	_, port, _ := net.SplitHostPort(s.addr)
	for _, host := range []string{"stigmer.internal", "stigmer.internal:" + port, "Stigmer.Internal.:443", "metrics.internal:9090"} {
		code, body := rawRequest(t, s.addr, "GET", "/metrics", host, "")
		assert.Equal(t, code, 200, "Host %s: %s", host, body)
	}
	for _, host := range []string{"metrics.internal:" + port, "metrics.internal", "other.internal", "x.stigmer.internal"} {
		code, body := rawRequest(t, s.addr, "GET", "/readyz", host, "")
		assert.Equal(t, code, http.StatusMisdirectedRequest, "Host %s: %s", host, body)
		assert.Assert(t, is.Contains(body, "add the name to STIGMER_ALLOWED_HOSTS"))
	}
}

// A STIGMER_* variable the server does not know (a typo) is named at
// start with the closest known name, and the server starts anyway.
func TestUnknownVariableIsNamedAtStart(t *testing.T) {
	s := startServer(t, testEnv(t, "STIGMER_LISTN=127.0.0.1:1", "STIGMER_ALERT_INTERVLA=1m"))
	s.waitReady(t)
	log := s.log()
	assert.Check(t, is.Contains(log, `level=WARN msg="STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?; fix its name in the env file`))
	assert.Check(t, is.Contains(log, `did you mean STIGMER_ALERT_INTERVAL?`))
	assert.Check(t, is.Contains(log, `variable=STIGMER_LISTN closest=STIGMER_LISTEN`))
}

// The runners' calls are not on the public API: every local user (and,
// opted in, the network) reaches it. They go over the control channel.
func TestRunnerCallsAreNotOnThePublicAPI(t *testing.T) {
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	for _, path := range []string{"/api/v1/runners/register", "/api/v1/runners/heartbeat", "/api/v1/runners/deregister"} {
		code, body := rawRequest(t, s.addr, "POST", path, s.addr, `{"name":"workflow-runner","token":"x"}`)
		assert.Equal(t, code, http.StatusNotFound, "%s: %s", path, body)
	}
}

// devServer is a `stigmer server start` under its own STIGMER_HOME.
type devServer struct {
	env  []string
	home string
	pid  int
}

func startDevServer(t *testing.T) *devServer {
	t.Helper()
	env := testEnv(t)
	d := &devServer{env: env, home: strings.TrimPrefix(env[2], "STIGMER_HOME=")}
	d.run(t, "server", "start").Assert(t, icmd.Expected{ExitCode: 0, Out: "stigmer server ready"})
	b, err := os.ReadFile(filepath.Join(d.home, "server.pid"))
	assert.NilError(t, err)
	d.pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	assert.NilError(t, err)
	t.Cleanup(func() {
		st, _ := procState(d.pid)
		if st == "" {
			return
		}
		_ = syscall.Kill(d.pid, syscall.SIGTERM)
		reap(d.pid) // re-parented to this test, a subreaper
	})
	return d
}

func (d *devServer) run(t *testing.T, args ...string) *icmd.Result {
	return icmd.RunCmd(bounded(stigmerBin, args...), icmd.WithEnv(d.env...))
}

// bounded is a command that is killed after 60 s, so that a regression
// (a server that starts instead of refusing to) fails the test instead of
// hanging it. The timeout is set on the Cmd: icmd.RunCmd ignores one set
// by the icmd.WithTimeout option.
func bounded(name string, args ...string) icmd.Cmd {
	cmd := icmd.Command(name, args...)
	cmd.Timeout = 60 * time.Second
	return cmd
}

func TestServerStopRefusesAnotherHomesPID(t *testing.T) {
	a, b := startDevServer(t), startDevServer(t)
	pidFileB := filepath.Join(b.home, "server.pid")
	aPID := strconv.Itoa(a.pid)

	// A's PID written into B's file in place: B's server still holds it.
	assert.NilError(t, os.WriteFile(pidFileB, []byte(aPID+"\n"), 0o644))
	res := b.run(t, "server", "stop")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: fmt.Sprintf("not stopping pid %d: %s names it (`%s internal-server", a.pid, pidFileB, stigmerBin)})
	assert.Assert(t, is.Contains(res.Stderr(), fmt.Sprintf("but the file is held by pid %d", b.pid)))

	// A copy of A's file put in place of B's: nobody holds the new file.
	tmp := pidFileB + ".new"
	assert.NilError(t, os.WriteFile(tmp, []byte(aPID+"\n"), 0o644))
	assert.NilError(t, os.Rename(tmp, pidFileB))
	res = b.run(t, "server", "stop")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: fmt.Sprintf("not stopping pid %d: %s names it", a.pid, pidFileB)})
	assert.Assert(t, is.Contains(res.Stderr(), "no stigmer server holds that file's lock"))

	// A is untouched and still serves.
	a.run(t, "server", "status").Assert(t, icmd.Success)
	st, _ := procState(a.pid)
	assert.Assert(t, st != "" && st != "Z", "server A (pid %d) state %q", a.pid, st)
	res = a.run(t, "server", "stop")
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: fmt.Sprintf("stigmer server stopped (pid %d", a.pid)})
}

// fgServer is `stigmer server start --foreground` with its output in a file.
type fgServer struct {
	*serverProc
	home string
}

func startForeground(t *testing.T, env []string) *fgServer {
	t.Helper()
	home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
	cmd := exec.Command(stigmerBin, "server", "start", "--foreground")
	cmd.Env = env
	logf, err := os.Create(filepath.Join(t.TempDir(), "fg.log"))
	assert.NilError(t, err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	assert.NilError(t, cmd.Start())
	s := &serverProc{cmd: cmd, pid: cmd.Process.Pid, logPath: logf.Name(), exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); s.state = cmd.ProcessState; close(s.exited) }()
	t.Cleanup(func() { s.kill(t) })
	addrFile := filepath.Join(home, "server.addr")
	poll.WaitOn(t, poll.FileExists(addrFile), poll.WithTimeout(20*time.Second))
	b, err := os.ReadFile(addrFile)
	assert.NilError(t, err)
	s.addr = strings.TrimSpace(string(b))
	s.client = api.NewClient("http://" + s.addr)
	return &fgServer{serverProc: s, home: home}
}

func (s *serverProc) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the server still runs 60 s later; log:\n%s", s.log())
	}
}

func TestForegroundStopsInOrderOnSIGHUP(t *testing.T) {
	s := startForeground(t, testEnv(t))
	s.waitReady(t)
	runners := s.status(t).Components[1:]
	assert.NilError(t, s.cmd.Process.Signal(syscall.SIGHUP))
	s.waitExit(t)
	assert.Equal(t, s.state.ExitCode(), 0, "log:\n%s", s.log())
	for _, c := range runners {
		waitGone(t, c.PID, c.Name)
		assert.Assert(t, is.Contains(s.log(), `msg="runner stopped" component=server runner=`+c.Name+` exit="exit status 0"`))
	}
	for _, f := range []string{"server.pid", "server.addr"} {
		_, err := os.Stat(filepath.Join(s.home, f))
		assert.Assert(t, os.IsNotExist(err), "%s left behind", f)
	}
}

func TestSecondSignalMakesTheStopImmediate(t *testing.T) {
	dir := t.TempDir()
	standIn, termLog := standInPath(t, "docker-standin-ignores-term.sh"), filepath.Join(dir, "term.log")
	s := startForeground(t, testEnv(t, "STIGMER_AGENT_RUNNER_IMAGE=example/agent:1.0",
		"STIGMER_CONTAINER_CLI="+standIn, "DOCKER_STANDIN_LOG="+termLog))
	// The stand-in writes RUN once its trap is set: a SIGTERM before that
	// would end it, and the second signal would have nothing to cut short.
	poll.WaitOn(t, logHas(termLog, "RUN"), poll.WithTimeout(20*time.Second))
	agent := component(s.status(t), "agent-runner")
	assert.Assert(t, agent.PID != 0, "the agent runner's stand-in runs, but status shows no PID")

	assert.NilError(t, s.cmd.Process.Signal(syscall.SIGINT))
	poll.WaitOn(t, logHas(termLog, "TERM"), poll.WithTimeout(20*time.Second)) // it got SIGTERM, and stays
	assert.NilError(t, s.cmd.Process.Signal(syscall.SIGINT))
	s.waitExit(t)
	log := s.log()
	assert.Assert(t, is.Contains(log, `level=WARN msg="second signal: stopping now, the runners get SIGKILL"`))
	assert.Assert(t, is.Contains(log, `msg="runner stopped" component=server runner=agent-runner exit="signal 9 (killed)"`))
	assert.Assert(t, !strings.Contains(log, "did not stop in time"), "waited for the stop timeout:\n%s", log)
	waitGone(t, agent.PID, "agent-runner stand-in")
}

// keepAlive opens a connection to addr, makes one request on it and leaves
// it open and idle; it returns nil when the server refused or dropped it.
func keepAlive(addr string) net.Conn {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil
	}
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr); err != nil {
		c.Close()
		return nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil
	}
	resp.Body.Close()
	return c
}

func TestIdleConnectionsLeaveRoomUnderALowFileLimit(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	assert.NilError(t, err, "the test runs the server under prlimit (util-linux): apt-get install util-linux")
	// 64 descriptors: the server needs about 14 at rest.
	s := startServerUnder(t, testEnv(t), prlimit, "--nofile=64:64")
	s.waitReady(t)
	var open int
	for range 100 {
		if c := keepAlive(s.addr); c != nil {
			defer c.Close()
			open++
		}
	}
	t.Logf("%d of 100 keep-alive connections got an answer", open)
	s.waitReady(t) // /readyz answers with them all open

	before := component(s.status(t), "workflow-runner")
	assert.NilError(t, syscall.Kill(before.PID, syscall.SIGKILL))
	after := s.waitRunner(t, "workflow-runner", before.PID)
	assert.Equal(t, after.Restarts, before.Restarts+1)
	s.waitReady(t)
	assert.Assert(t, !strings.Contains(s.log(), "too many open files"), "log:\n%s", s.log())
}

// logHas waits for a line in a stand-in's log.
func logHas(path, line string) poll.Check {
	return func(poll.LogT) poll.Result {
		b, err := os.ReadFile(path)
		if err != nil {
			return poll.Continue("%s: %v", path, err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == line {
				return poll.Success()
			}
		}
		return poll.Continue("%s has no line %q: %q", path, line, b)
	}
}
