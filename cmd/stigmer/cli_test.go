package main

import (
	"encoding/json"
	"net"
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
	"github.com/stigmer/stigmer/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	res := icmd.RunCmd(icmd.Command(stigmerBin, "version"))
	res.Assert(t, icmd.Success)
	assert.Assert(t, is.Equal(strings.Split(res.Stdout(), "\n")[0], "stigmer "+testVersion))
	assert.Assert(t, is.Contains(res.Stdout(), "commit:     "+testCommit))
	assert.Assert(t, is.Contains(res.Stdout(), "built:      "+testDate))

	res = icmd.RunCmd(icmd.Command(stigmerBin, "version", "--json"))
	res.Assert(t, icmd.Success)
	var info buildinfo.Info
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &info))
	assert.Equal(t, info.Version, testVersion)
	assert.Equal(t, info.Commit, testCommit)
	assert.Equal(t, info.Date, testDate)
	assert.Assert(t, strings.HasPrefix(info.GoVersion, "go1."))
	assert.Equal(t, info.OS, "linux")
}

func TestInternalCommandsAreHidden(t *testing.T) {
	res := icmd.RunCmd(icmd.Command(stigmerBin, "--help"))
	res.Assert(t, icmd.Success)
	assert.Assert(t, is.Contains(res.Stdout(), "server"))
	assert.Assert(t, !strings.Contains(res.Stdout(), "internal-"), res.Stdout())
}

func TestBadFlag(t *testing.T) {
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "status", "--jsn"))
	res.Assert(t, icmd.Expected{ExitCode: 2, Err: "unknown flag: --jsn"})
}

func TestDevServerRoundTrip(t *testing.T) {
	env := testEnv(t)
	run := func(args ...string) *icmd.Result {
		return icmd.RunCmd(icmd.Command(stigmerBin, args...), icmd.WithEnv(env...), icmd.WithTimeout(60*time.Second))
	}
	res := run("server", "start")
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "stigmer server ready on http://127.0.0.1:"})

	res = run("server", "status")
	res.Assert(t, icmd.Success)
	out := res.Stdout()
	assert.Assert(t, is.Contains(out, "stigmer "+testVersion+" on 127.0.0.1:"))
	assert.Assert(t, is.Contains(out, ": ready (up "))
	assert.Assert(t, is.Regexp(`COMPONENT +PID +STATE +UPTIME +RESTARTS +LAST EXIT\n`, out))
	for _, row := range []string{`server +\d+ +running `, `workflow-runner +\d+ +up `, `agent-runner +\d+ +up `} {
		assert.Assert(t, is.Regexp(row, out))
	}

	res = run("server", "status", "--json")
	res.Assert(t, icmd.Success)
	var st api.Status
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &st))
	assert.Assert(t, st.Ready)
	assert.Equal(t, len(st.Components), 3)
	serverPID := st.Components[0].PID

	res = run("server", "start")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "a stigmer dev server already runs"})

	res = run("server", "stop")
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "stigmer server stopped"})
	reap(serverPID) // re-parented to this test, a subreaper
	for _, c := range st.Components {
		waitGone(t, c.PID, c.Name) // the server and both runners
	}

	res = run("server", "stop")
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "no stigmer dev server is running"})
	res = run("server", "status")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "cannot reach the stigmer server at 127.0.0.1:0"})
}

func TestDevServerRefusesATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "start"), icmd.WithEnv(testEnv(t, "STIGMER_LISTEN="+ln.Addr().String())...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "cannot listen on " + ln.Addr().String() + ": address already in use"})
}

func TestDevServerRefusesWhenTheServiceIsActive(t *testing.T) {
	// testdata/systemctl-standin.sh answers is-active like systemctl does
	// for an active unit: no systemd runs here to ask.
	dir := filepath.Join(t.TempDir(), "systemctl-standin")
	assert.NilError(t, os.Mkdir(dir, 0o755))
	assert.NilError(t, os.Symlink(standInPath(t, "systemctl-standin.sh"), filepath.Join(dir, "systemctl")))
	env := testEnv(t)
	env[0] = "PATH=" + dir + ":" + os.Getenv("PATH")
	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "start"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "stigmer.service is active on this machine"})
	_, err := os.Stat(filepath.Join(strings.TrimPrefix(env[2], "STIGMER_HOME="), "server.pid"))
	assert.Assert(t, os.IsNotExist(err), "started something anyway")
}

func TestDevServerForeground(t *testing.T) {
	env := testEnv(t)
	home := strings.TrimPrefix(env[2], "STIGMER_HOME=")
	cmd := exec.Command(stigmerBin, "server", "start", "--foreground")
	cmd.Env = env
	logf, err := os.Create(filepath.Join(t.TempDir(), "fg.log"))
	assert.NilError(t, err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	assert.NilError(t, cmd.Start())
	defer cmd.Process.Kill() //nolint:errcheck // cleanup after a failure
	addrFile := filepath.Join(home, "server.addr")
	poll.WaitOn(t, poll.FileExists(addrFile), poll.WithTimeout(20*time.Second))
	b, err := os.ReadFile(addrFile)
	assert.NilError(t, err)
	srv := &serverProc{client: api.NewClient("http://" + strings.TrimSpace(string(b))), logPath: logf.Name()}
	srv.waitReady(t)

	res := icmd.RunCmd(icmd.Command(stigmerBin, "server", "status"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Success) // found through the address file, not STIGMER_LISTEN
	assert.NilError(t, cmd.Process.Signal(syscall.SIGINT))
	assert.NilError(t, cmd.Wait(), "log:\n%s", srv.log())
	_, err = os.Stat(addrFile)
	assert.Assert(t, os.IsNotExist(err), "address file left behind")
}
