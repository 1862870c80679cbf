package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/internal/doctor"
)

// doctorReport is the part of `stigmer doctor --json` the tests read.
type doctorReport struct {
	Version string `json:"version"`
	UID     int    `json:"uid"`
	Checks  []struct {
		Name, Status, Verdict, Fix string
	} `json:"checks"`
	Summary map[string]int `json:"summary"`
}

func (r doctorReport) check(t *testing.T, name string) (status, verdict, fix string) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Status, c.Verdict, c.Fix
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return "", "", ""
}

// freeAddr is a loopback address nothing listens on (the port was just
// free).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	addr := ln.Addr().String()
	assert.NilError(t, ln.Close())
	return addr
}

// openDir is a temporary directory any user may enter (t.TempDir's are
// 0700), for files another user must reach.
func openDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "stigmer-doctor-")
	assert.NilError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	assert.NilError(t, os.Chmod(dir, 0o755))
	return dir
}

// In a development setting (no systemd, no package, no server) doctor
// runs every check, says what it could not check and why, fails on what
// is missing (the API first of all) and exits 1.
func TestDoctorWithoutTheService(t *testing.T) {
	addr := freeAddr(t)
	envFile := filepath.Join(t.TempDir(), "stigmer.env")
	assert.NilError(t, os.WriteFile(envFile, []byte("# test\nSTIGMER_LISTEN="+addr+"\n"), 0o600))

	res := icmd.RunCmd(icmd.Command(stigmerBin, "doctor", "--json", "--env-file", envFile), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 1})
	var rep doctorReport
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &rep), res.Combined())
	assert.Equal(t, rep.Version, testVersion)
	assert.Equal(t, rep.UID, os.Getuid())
	assert.Equal(t, len(rep.Checks), len(doctor.Checks()))

	status, verdict, fix := rep.check(t, "api")
	assert.Equal(t, status, "fail")
	assert.Assert(t, is.Contains(verdict, "no answer from http://"+addr+"/readyz"))
	assert.Assert(t, fix != "")
	status, verdict, _ = rep.check(t, "config")
	assert.Equal(t, status, "pass", verdict)
	assert.Assert(t, is.Contains(verdict, "listen "+addr))

	status, verdict, _ = rep.check(t, "unit")
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		// no systemd here: said, not guessed
		assert.Equal(t, status, "skip")
		assert.Assert(t, is.Contains(verdict, "systemd is not running on this machine"))
		status, verdict, _ = rep.check(t, "active")
		assert.Equal(t, status, "skip")
		assert.Assert(t, is.Contains(verdict, "no systemd"))
	} else {
		// a development machine with systemd and without the package
		assert.Assert(t, status == "fail" || status == "pass", verdict)
	}

	// The same as text: a line per check, the fix below a failure.
	res = icmd.RunCmd(icmd.Command(stigmerBin, "doctor", "--env-file", envFile), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Out: "FAIL  api         no answer from http://" + addr})
	assert.Assert(t, is.Regexp(`(?m)^      fix: `, res.Stdout()))
	assert.Assert(t, is.Regexp(fmt.Sprintf(`\n%d checks: \d+ pass`, len(doctor.Checks()))+`, \d+ warn, \d+ fail, \d+ skip`, res.Stdout()))
}

// A malformed env line is a failure that names the file and the line.
func TestDoctorNamesABadEnvLine(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "stigmer.env")
	assert.NilError(t, os.WriteFile(envFile, []byte("# test\nSTIGMER_LISTEN "+freeAddr(t)+"\n"), 0o600))
	res := icmd.RunCmd(icmd.Command(stigmerBin, "doctor", "--json", "--env-file", envFile), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 1})
	var rep doctorReport
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &rep), res.Combined())
	status, verdict, fix := rep.check(t, "config")
	assert.Equal(t, status, "fail")
	assert.Assert(t, is.Contains(verdict, envFile+`:2: "STIGMER_LISTEN 127.0.0.1:`))
	assert.Assert(t, is.Contains(verdict, "has no '=': systemd ignores the line"))
	assert.Assert(t, is.Contains(fix, "fix or delete line 2"))
}

// A misspelt variable passes the server's checks (it is not read at all)
// but is named, with the name it likely meant, and fails.
func TestDoctorNamesAMisspeltVariable(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "stigmer.env")
	assert.NilError(t, os.WriteFile(envFile, []byte("STIGMER_LISTEN="+freeAddr(t)+"\nSTIGMER_LISTN=127.0.0.1:1\n"), 0o600))
	res := icmd.RunCmd(icmd.Command(stigmerBin, "doctor", "--env-file", envFile), icmd.WithEnv(testEnv(t)...))
	res.Assert(t, icmd.Expected{ExitCode: 1,
		Out: "FAIL  variables   " + envFile + ":2: STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?\n" +
			"      fix: sudoedit " + envFile + ": rename STIGMER_LISTN to STIGMER_LISTEN on line 2, then sudo systemctl restart stigmer\n"})
}

// As a user who may not read the env file (root's, 0600, as packaged),
// doctor says what it could not read, as whom, and how to check it.
func TestDoctorAsAnotherUser(t *testing.T) {
	dir := openDir(t)
	envFile := filepath.Join(dir, "stigmer.env")
	assert.NilError(t, os.WriteFile(envFile, []byte("STIGMER_LISTEN="+freeAddr(t)+"\n"), 0o600))
	cmd := exec.Command(stigmerBin, "doctor", "--json", "--env-file", envFile)
	cmd.Env = testEnv(t)
	uid := os.Getuid()
	if uid == 0 {
		// root reads anything: run as nobody, who must reach the binary.
		uid = 65534
		assert.NilError(t, os.Chmod(filepath.Dir(stigmerBin), 0o755))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = "/"
	} else {
		assert.NilError(t, os.Chmod(envFile, 0o000))
	}
	out, err := cmd.Output()
	var ee *exec.ExitError
	assert.Assert(t, errors.As(err, &ee) && ee.ExitCode() == 1, "exit: %v; %s", err, out)
	var rep doctorReport
	assert.NilError(t, json.Unmarshal(out, &rep), string(out))
	assert.Equal(t, rep.UID, uid)
	status, verdict, _ := rep.check(t, "config")
	assert.Equal(t, status, "skip")
	assert.Equal(t, verdict, "cannot read "+envFile+" as uid "+strconv.Itoa(uid)+": permission denied; run as root (sudo stigmer doctor) to check it")
	// What needs the file's settings says it assumed them.
	_, verdict, _ = rep.check(t, "port")
	assert.Assert(t, is.Contains(verdict, "(assumed: "+envFile+" may change it"))
}
