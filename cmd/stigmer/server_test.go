package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"
)

func TestRunnerKill9IsRestartedAndReaped(t *testing.T) {
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	for _, name := range []string{"workflow-runner", "agent-runner"} {
		t.Run(name, func(t *testing.T) {
			before := component(s.status(t), name)
			assert.Assert(t, before.PID != 0)
			assert.NilError(t, syscall.Kill(before.PID, syscall.SIGKILL))

			after := s.waitRunner(t, name, before.PID)
			assert.Equal(t, after.Restarts, before.Restarts+1)
			assert.Equal(t, after.LastExit, "signal 9 (killed)")
			waitGone(t, before.PID, "killed "+name) // reaped, never a zombie
			s.waitReady(t)

			res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "status", "--address", s.addr))
			res.Assert(t, icmd.Success)
			assert.Assert(t, is.Regexp(name+` +\d+ +up +\S+ +1 +signal 9 \(killed\)`, res.Stdout()))
		})
	}
}

func TestTwentyKillsInARowBackOffWithoutZombies(t *testing.T) {
	const kills = 20
	s := startServer(t, testEnv(t, "STIGMER_RUNNER_RESTART_MAX_DELAY=2s"))
	s.waitReady(t)
	var delays []int64
	pid := component(s.status(t), "workflow-runner").PID
	for i := range kills {
		assert.NilError(t, syscall.Kill(pid, syscall.SIGKILL))
		c := s.waitRunner(t, "workflow-runner", pid)
		assert.Equal(t, c.Restarts, i+1)
		assert.Assert(t, is.Len(zombieChildren(s.pid), 0), "after kill %d", i+1)
		// the restart waited out its backoff: started no earlier than
		// the exit plus the delay the server reports
		gap := c.StartedAt.Sub(*c.LastExitAt)
		assert.Assert(t, gap >= time.Duration(c.RestartDelayMS)*time.Millisecond,
			"kill %d: restarted %s after the exit, backoff %dms", i+1, gap, c.RestartDelayMS)
		t.Logf("kill %2d: backoff %5dms, restarted %s after the exit", i+1, c.RestartDelayMS, gap.Round(time.Millisecond))
		delays = append(delays, c.RestartDelayMS)
		waitGone(t, pid, "killed runner")
		pid = c.PID
	}
	want := []int64{200, 400, 800, 1600}
	for len(want) < kills {
		want = append(want, 2000)
	}
	assert.DeepEqual(t, delays, want)
	s.waitReady(t)
}

func TestServerKill9TakesItsRunnersAlong(t *testing.T) {
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	st := s.status(t)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGKILL))
	<-s.exited
	for _, c := range st.Components[1:] {
		// The parent-death signal is SIGTERM: the orphan drains and exits
		// 0. It is re-parented to this test (a subreaper), which reaps it.
		done := make(chan unix.WaitStatus, 1)
		go func() {
			var ws unix.WaitStatus
			_, err := unix.Wait4(c.PID, &ws, 0, nil)
			assert.Check(t, err)
			done <- ws
		}()
		select {
		case ws := <-done:
			assert.Check(t, ws.Exited() && ws.ExitStatus() == 0, "%s: %v", c.Name, ws)
		case <-time.After(20 * time.Second):
			t.Fatalf("%s (pid %d) still runs 20 s after its server was killed", c.Name, c.PID)
		}
	}
}

func TestSdNotifyReadyStatusWatchdogStopping(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	defer conn.Close()
	// WATCHDOG_USEC of 400 ms: a ping every 200 ms.
	s := startServer(t, testEnv(t, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000"))

	buf := make([]byte, 4096)
	// read returns the next datagram, or "" when none came within wait.
	read := func(wait time.Duration) string {
		assert.NilError(t, conn.SetReadDeadline(time.Now().Add(wait)))
		n, _, err := conn.ReadFromUnix(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ""
		}
		assert.NilError(t, err)
		return string(buf[:n])
	}
	next := func(what string) string {
		m := read(20 * time.Second)
		assert.Assert(t, m != "", "no %s message; server log:\n%s", what, s.log())
		return m
	}

	// READY=1 comes with its STATUS=, after STATUS= updates of the start
	// (and watchdog pings, which systemd counts from the start on).
	var m string
	for m = next("READY=1"); !strings.Contains(m, "READY=1"); m = next("READY=1") {
		// FDSTORE=1: TestServerHandsItsListenerToTheFDStore checks it.
		if m != "WATCHDOG=1" && m != "FDSTORE=1\nFDNAME=api" {
			assert.Assert(t, is.Contains(m, "STATUS=starting on "+s.addr), "before READY=1: %q", m)
		}
	}
	assert.Equal(t, m, "READY=1\nSTATUS=ready on "+s.addr+"; workflow-runner up, agent-runner up; restarts 0/0")
	rd, err := s.client.Ready(context.Background())
	assert.NilError(t, err)
	assert.Assert(t, rd.Ready, "READY=1 sent while /readyz says %q", rd.Reason)

	for pings := 0; pings < 3; {
		if next("WATCHDOG=1") == "WATCHDOG=1" {
			pings++
		}
	}

	// A stopped server sends nothing; once continued it pings again. Once
	// every thread is stopped nothing more can be sent, so what is queued
	// then was sent before the stop and is drained first.
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGSTOP))
	waitAllThreadsStopped(t, s.pid)
	for read(50*time.Millisecond) != "" {
	}
	m = read(1500 * time.Millisecond) // over 7 ping intervals
	assert.Equal(t, m, "", "a stopped server sent %q", m)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGCONT))
	for m = next("WATCHDOG=1 after SIGCONT"); m != "WATCHDOG=1"; m = next("WATCHDOG=1 after SIGCONT") {
	}

	runners := s.status(t).Components[1:]
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	for m = next("STOPPING=1"); !strings.Contains(m, "STOPPING=1"); m = next("STOPPING=1") {
		assert.Assert(t, m == "WATCHDOG=1" || strings.HasPrefix(m, "STATUS="), "unexpected %q", m)
	}
	<-s.exited
	assert.Equal(t, s.state.ExitCode(), 0, "server log:\n%s", s.log())
	for _, c := range runners {
		st, _ := procState(c.PID)
		assert.Equal(t, st, "", "%s (pid %d) left behind", c.Name, c.PID)
	}
	assert.Assert(t, is.Contains(s.log(), `msg="runner stopped" component=server runner=workflow-runner exit="exit status 0"`))
}

// waitAllThreadsStopped waits until every thread of pid is in state T.
func waitAllThreadsStopped(t *testing.T, pid int) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return poll.Error(err)
		}
		for _, task := range tasks {
			f := statFields(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if f == nil {
				continue // the thread just exited
			}
			if f[0] != "T" {
				return poll.Continue("thread %s is in state %s", task.Name(), f[0])
			}
		}
		return poll.Success()
	}, poll.WithTimeout(10*time.Second), poll.WithDelay(5*time.Millisecond))
}

func TestReadyzBeforeAndAfterRegistrationWithAContainerStandIn(t *testing.T) {
	dir := t.TempDir()
	standIn := standInPath(t, "docker-standin.sh")
	gate, argsLog := filepath.Join(dir, "gate"), filepath.Join(dir, "args.log")
	s := startServer(t, testEnv(t,
		"STIGMER_AGENT_RUNNER_IMAGE=example/agent:1.0", "STIGMER_CONTAINER_CLI="+standIn,
		"DOCKER_STANDIN_GATE="+gate, "DOCKER_STANDIN_LOG="+argsLog, "DOCKER_STANDIN_STIGMER_BIN="+stigmerBin,
		"STIGMER_LLM_PROVIDER=openai", "OPENAI_API_KEY=sk-test-do-not-leak-0123456789"))

	// The stand-in "pulls the image" until the gate opens: not ready.
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if c := component(s.status(t), "workflow-runner"); c.State != "up" {
			return poll.Continue("workflow-runner %s", c.State)
		}
		return poll.Success()
	}, poll.WithTimeout(20*time.Second))
	rd, err := s.client.Ready(context.Background())
	assert.NilError(t, err)
	assert.Assert(t, !rd.Ready)
	assert.Equal(t, rd.Reason, "agent-runner is starting")
	resp, err := s.client.HTTP.Get("http://" + s.addr + "/readyz")
	assert.NilError(t, err)
	resp.Body.Close()
	assert.Equal(t, resp.StatusCode, 503)

	assert.NilError(t, os.WriteFile(gate, nil, 0o644))
	s.waitReady(t)
	resp, err = s.client.HTTP.Get("http://" + s.addr + "/readyz")
	assert.NilError(t, err)
	resp.Body.Close()
	assert.Equal(t, resp.StatusCode, 200)
	agent := component(s.status(t), "agent-runner")
	assert.Equal(t, agent.Mode, "container")

	// Killed, it is started again, after removing the stale container.
	assert.NilError(t, syscall.Kill(agent.PID, syscall.SIGKILL))
	s.waitRunner(t, "agent-runner", agent.PID)
	b, err := os.ReadFile(argsLog)
	assert.NilError(t, err)
	sock := filepath.Join(envValue(s.cmd.Env, "STIGMER_RUNTIME_DIR"), "runners", "control.sock")
	run := "run --rm --init --name stigmer-agent-runner --network host -v " + sock + ":" + sock +
		" -e STIGMER_CONTROL_SOCKET -e STIGMER_RUNNER_TOKEN -e STIGMER_HEARTBEAT_INTERVAL -e STIGMER_LLM_PROVIDER -e STIGMER_LLM_MODEL -e STIGMER_LLM_BASE_URL -e OPENAI_API_KEY" +
		" -e HTTPS_PROXY -e https_proxy -e HTTP_PROXY -e http_proxy -e NO_PROXY -e no_proxy example/agent:1.0"
	rm := "rm --force stigmer-agent-runner"
	assert.Equal(t, string(b), strings.Join([]string{rm, run, rm, run}, "\n")+"\n")

	// The key reaches the runner's environment but no log or status.
	status, err := json.Marshal(s.status(t))
	assert.NilError(t, err)
	for what, text := range map[string]string{"log": s.log(), "status": string(status), "command line": string(b)} {
		assert.Assert(t, !strings.Contains(text, "do-not-leak"), "the API key is in the %s", what)
	}
}

// envValue is NAME's value in env (NAME=value strings).
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// environOf is the environment of process pid.
func environOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	assert.NilError(t, err)
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimRight(string(b), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// TestEachRunnerGetsOnlyWhatItNeeds: the runners inherited the server's
// whole environment, alert secrets and all; the agent runner is the
// process that talks to LLMs. Each now gets what it needs alone.
func TestEachRunnerGetsOnlyWhatItNeeds(t *testing.T) {
	hook, _ := fakeWebhook(t)
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	defer conn.Close()
	s := startServer(t, testEnv(t,
		"STIGMER_ALERT_WEBHOOK_URL="+hook, "STIGMER_ALERT_SMTP_SERVER=127.0.0.1:2525", "STIGMER_ALERT_SMTP_FROM=s@example.com",
		"STIGMER_ALERT_SMTP_TO=o@example.com", "STIGMER_ALERT_SMTP_USERNAME=stigmer", "STIGMER_ALERT_SMTP_PASSWORD=hunter2-do-not-leak",
		"STIGMER_LLM_PROVIDER=openai", "OPENAI_API_KEY=sk-for-the-agent-only", "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=10000000",
		"LANG=C.UTF-8", "TZ=UTC", "SOME_OTHER_SECRET=not-for-runners"))
	s.waitReady(t)
	st := s.status(t)
	for _, name := range []string{"workflow-runner", "agent-runner"} {
		env := environOf(t, component(st, name).PID)
		for k, v := range env {
			assert.Check(t, !strings.HasPrefix(k, "STIGMER_ALERT_"), "%s has %s", name, k)
			assert.Check(t, !strings.Contains(v, "do-not-leak") && !strings.Contains(v, "s3cr3t"), "%s has %s=%s", name, k, v)
		}
		for _, k := range []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "SOME_OTHER_SECRET", "STIGMER_HOME", "STIGMER_LISTEN"} {
			_, has := env[k]
			assert.Check(t, !has, "%s has %s", name, k)
		}
		for _, k := range []string{"PATH", "HOME", "LANG", "TZ", "STIGMER_RUNNER_TOKEN"} {
			_, has := env[k]
			assert.Check(t, has, "%s lacks %s", name, k)
		}
	}
	assert.Equal(t, environOf(t, component(st, "agent-runner").PID)["OPENAI_API_KEY"], "sk-for-the-agent-only")
	_, has := environOf(t, component(st, "workflow-runner").PID)["OPENAI_API_KEY"]
	assert.Check(t, !has, "the workflow runner has the LLM key")
}

// TestAContainerIsKilledByNameWhenHungOrNotStopping: in container mode the
// agent runner is a container the engine runs; SIGKILL to the `docker run`
// client, the server's child, never reaches it, and the container kept
// running after the server restarted the runner and after the service
// stopped. On a hang and on a stop timeout the server now runs `docker
// kill NAME` first. The stand-in runs its "container" apart from the
// client, and the test hangs it with SIGSTOP.
func TestAContainerIsKilledByNameWhenHungOrNotStopping(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, testEnv(t, "STIGMER_AGENT_RUNNER_IMAGE=example/agent:1.0",
		"STIGMER_CONTAINER_CLI="+standInPath(t, "docker-standin-detached.sh"),
		"DOCKER_STANDIN_DIR="+dir, "DOCKER_STANDIN_STIGMER_BIN="+stigmerBin))
	container := func() int {
		var pid int
		poll.WaitOn(t, func(poll.LogT) poll.Result {
			b, err := os.ReadFile(filepath.Join(dir, "stigmer-agent-runner.pid"))
			if err != nil {
				return poll.Continue("no container yet")
			}
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return poll.Continue("pid file %q", b)
			}
			return poll.Success()
		}, poll.WithTimeout(20*time.Second))
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL); reap(pid) })
		return pid
	}
	// dead: gone, or a zombie (orphaned to this test, the subreaper, when
	// the killed client had not reaped it yet).
	dead := func(pid int, what string) {
		poll.WaitOn(t, func(poll.LogT) poll.Result {
			if st, ppid := procState(pid); st != "" && st != "Z" {
				return poll.Continue("%s (pid %d) still there, state %s, parent %d", what, pid, st, ppid)
			}
			return poll.Success()
		}, poll.WithTimeout(30*time.Second), poll.WithDelay(50*time.Millisecond))
	}
	s.waitReady(t)
	hung := container()
	client := component(s.status(t), "agent-runner").PID
	assert.Assert(t, hung != client, "the container is not the client")

	// A hang: no heartbeat for 10 s, then the container is killed by name.
	assert.NilError(t, syscall.Kill(hung, syscall.SIGSTOP))
	dead(hung, "the hung container")
	s.waitRunner(t, "agent-runner", client)
	s.waitReady(t)

	// A stop: the container does not stop within 10 s of SIGTERM.
	stuck := container()
	assert.NilError(t, syscall.Kill(stuck, syscall.SIGSTOP))
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited
	assert.Equal(t, s.state.ExitCode(), 0, "server log:\n%s", s.log())
	dead(stuck, "the container that did not stop")
	calls, err := os.ReadFile(filepath.Join(dir, "calls"))
	assert.NilError(t, err)
	assert.Equal(t, strings.Count(string(calls), "kill stigmer-agent-runner\n"), 2, "calls:\n%s", calls)
}

func TestBadConfigurationExits78(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"unknown provider", []string{"STIGMER_LLM_PROVIDER=gemini"}, `STIGMER_LLM_PROVIDER="gemini" is not a known provider; set it to openai or ollama`},
		{"malformed address", []string{"STIGMER_LISTEN=localhost"}, `STIGMER_LISTEN="localhost" is not a host:port address`},
		{"unwritable data dir", []string{"STIGMER_DATA_DIR=/proc/stigmer"}, `STIGMER_DATA_DIR="/proc/stigmer" is not a writable directory`},
		{"openai without a key", []string{"STIGMER_LLM_PROVIDER=openai"}, `OPENAI_API_KEY="" is empty but STIGMER_LLM_PROVIDER=openai needs it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command(stigmerBin, "internal-server"), icmd.WithEnv(testEnv(t, tc.env...)...))
			res.Assert(t, icmd.Expected{ExitCode: 78, Err: tc.want})
			assert.Equal(t, strings.Count(res.Stderr(), "\n"), 1, "one line: %q", res.Stderr())
		})
	}
}

func TestTakenPortExits1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	res := icmd.RunCmd(icmd.Command(stigmerBin, "internal-server"), icmd.WithEnv(testEnv(t, "STIGMER_LISTEN="+addr)...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "cannot listen on " + addr + ": address already in use; find its owner with `ss -ltnp 'sport = :" + port + "'`"})
}

func TestRunnerStartedByHand(t *testing.T) {
	res := icmd.RunCmd(icmd.Command(stigmerBin, "internal-workflow-runner"), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 2, Err: "runners are started by the stigmer server, not by hand"})
}

// startWithHangingRm starts a server whose agent runner is a container
// (the docker stand-in) and waits until the stand-in's `rm` of the stale
// container hangs, as with a slow or stuck container engine.
func startWithHangingRm(t *testing.T, extra ...string) (s *serverProc, block, argsLog string) {
	dir := t.TempDir()
	standIn, gate := standInPath(t, "docker-standin.sh"), filepath.Join(dir, "gate")
	block, argsLog = filepath.Join(dir, "block"), filepath.Join(dir, "args.log")
	assert.NilError(t, os.WriteFile(block, nil, 0o644))
	assert.NilError(t, os.WriteFile(gate, nil, 0o644))
	s = startServer(t, testEnv(t, append(extra,
		"STIGMER_AGENT_RUNNER_IMAGE=example/agent:1.0", "STIGMER_CONTAINER_CLI="+standIn,
		"DOCKER_STANDIN_RM_BLOCK="+block, "DOCKER_STANDIN_GATE="+gate, "DOCKER_STANDIN_LOG="+argsLog, "DOCKER_STANDIN_STIGMER_BIN="+stigmerBin)...))
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		b, _ := os.ReadFile(argsLog)
		if !strings.HasPrefix(string(b), "rm ") {
			return poll.Continue("the stand-in has not been asked to rm yet: %q", b)
		}
		return poll.Success()
	}, poll.WithTimeout(20*time.Second))
	return s, block, argsLog
}

func TestWatchdogPingsWhileDockerRmHangs(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	defer conn.Close()
	// WATCHDOG_USEC of 400 ms: a ping every 200 ms.
	s, block, _ := startWithHangingRm(t, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")

	// A slow `docker rm` is not a stuck server: the pings go on.
	buf := make([]byte, 4096)
	for pings := 0; pings < 5; {
		assert.NilError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, _, err := conn.ReadFromUnix(buf)
		assert.NilError(t, err, "no WATCHDOG=1 while docker rm hangs; server log:\n%s", s.log())
		if string(buf[:n]) == "WATCHDOG=1" {
			pings++
		}
	}
	_, err = os.Stat(block)
	assert.NilError(t, err, "the rm must still hang")
	assert.Equal(t, component(s.status(t), "agent-runner").State, "starting")
	assert.Assert(t, !strings.Contains(s.log(), "health check failed"), "server log:\n%s", s.log())

	// Once the engine answers, the runner starts.
	assert.NilError(t, os.Remove(block))
	s.waitReady(t)
}

func TestNoRunnerStartedWhenStoppedDuringDockerRm(t *testing.T) {
	s, _, argsLog := startWithHangingRm(t)
	s.waitRunner(t, "workflow-runner", 0)
	assert.NilError(t, syscall.Kill(s.pid, syscall.SIGTERM))
	<-s.exited
	assert.Equal(t, s.state.ExitCode(), 0, "server log:\n%s", s.log())

	log := s.log()
	_, after, found := strings.Cut(log, `msg="server stopping"`)
	assert.Assert(t, found, "server log:\n%s", log)
	assert.Assert(t, !strings.Contains(after, `msg="runner started"`), "a runner was started during shutdown; server log:\n%s", log)
	assert.Assert(t, is.Contains(after, `msg="runner not started: the server is stopping" component=server runner=agent-runner`))
	b, err := os.ReadFile(argsLog)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "rm --force stigmer-agent-runner\n", "no docker run may follow")
}
