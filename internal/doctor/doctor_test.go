package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/portowner"
	"github.com/stigmer/stigmer/internal/unitstate"
)

// system is a stigmer installation in a temporary directory, intact until
// a test breaks one thing: the binary, the env file, the data and log
// directories, a unit state as systemd would report it (this test process
// is its main PID), and an API that answers like the server.
type system struct {
	t        *testing.T
	dir      string
	bin      string
	envFile  string
	dataDir  string
	logDir   string
	unit     *unitstate.State
	unitErr  error
	users    map[string]*user.User
	groups   map[string]*user.Group
	groupIDs map[string]string // gid -> name, for owners
	api      *fakeAPI
	srv      *httptest.Server
	env      *Env
	crash    *Crash
}

// fakeAPI answers /readyz and /api/v1/status.
type fakeAPI struct {
	ready   bool
	version string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case api.PathReady:
		if !f.ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(api.Readiness{Reason: "agent-runner is not registered"})
			return
		}
		_ = json.NewEncoder(w).Encode(api.Readiness{Ready: true})
	case api.PathStatus:
		_ = json.NewEncoder(w).Encode(api.Status{Version: f.version, Ready: f.ready})
	default:
		http.NotFound(w, r)
	}
}

type fakeHistory struct{ s *system }

func (h fakeHistory) LastCrash() (*Crash, error) { return h.s.crash, nil }

const testVersion = "1.2.3"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newSystem(t *testing.T) *system {
	t.Helper()
	dir := t.TempDir()
	s := &system{t: t, dir: dir, api: &fakeAPI{ready: true, version: testVersion}}
	s.bin = s.file("usr/bin/stigmer", "#!/bin/sh\n", 0o755)
	s.dataDir = s.mkdir("var/lib/stigmer", 0o750)
	s.logDir = s.mkdir("var/log/stigmer", 0o755)
	s.srv = httptest.NewServer(s.api)
	t.Cleanup(s.srv.Close)
	listen := strings.TrimPrefix(s.srv.URL, "http://")
	s.envFile = s.file("etc/default/stigmer", "# settings\nSTIGMER_LISTEN="+listen+"\n", 0o600)

	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	// This test's user stands in for both root and stigmer, so that the
	// intact files need no chown.
	s.users = map[string]*user.User{
		"root":    {Username: "root", Uid: uid, Gid: gid},
		"stigmer": {Username: "stigmer", Uid: uid, Gid: gid},
	}
	s.groups = map[string]*user.Group{"root": {Name: "root", Gid: gid}, "stigmer": {Name: "stigmer", Gid: gid}}
	s.groupIDs = map[string]string{gid: "stigmer"}
	s.unit = &unitstate.State{
		Name: unitstate.Unit, LoadState: "loaded", FragmentPath: "/lib/systemd/system/stigmer.service",
		UnitFileState: "enabled", ActiveState: "active", SubState: "running",
		// after the env file was written: not "changed since the start"
		ActiveEnter: time.Now().Add(time.Second), MainPID: uint32(os.Getpid()), Result: "success",
		ExecStart: s.bin, User: "stigmer",
		Environment:      []string{"STIGMER_DATA_DIR=" + s.dataDir, "STIGMER_LOG_DIR=" + s.logDir},
		EnvironmentFiles: []unitstate.EnvironmentFile{{Path: s.envFile, Optional: true}, {Path: filepath.Join(dir, "etc/sysconfig/stigmer"), Optional: true}},
		ReadWritePaths:   []string{dir}, // the temporary tree stands in for /var/lib and /var/log
		PrivateUsers:     true, SystemdVersion: "252.22-1~deb12u1",
	}
	s.env = &Env{
		ReadUnit: func(context.Context) (*unitstate.State, error) {
			if s.unitErr != nil {
				return nil, s.unitErr
			}
			return s.unit, nil
		},
		Version:    testVersion,
		Executable: func() (string, error) { return s.bin, nil },
		UID:        os.Getuid(),
		LookupUser: func(name string) (*user.User, error) {
			if u, ok := s.users[name]; ok {
				return u, nil
			}
			return nil, user.UnknownUserError(name)
		},
		LookupGroup: func(name string) (*user.Group, error) {
			if g, ok := s.groups[name]; ok {
				return g, nil
			}
			return nil, user.UnknownGroupError(name)
		},
		LookupUserID: func(uid string) (*user.User, error) {
			if uid == strconv.Itoa(os.Getuid()) {
				return &user.User{Username: "stigmer", Uid: uid}, nil
			}
			return nil, user.UnknownUserIdError(0)
		},
		LookupGroupID: func(gid string) (*user.Group, error) {
			if name, ok := s.groupIDs[gid]; ok {
				return &user.Group{Name: name, Gid: gid}, nil
			}
			return nil, user.UnknownGroupIdError(gid)
		},
		ReadFile:    os.ReadFile,
		Proc:        portowner.Proc{Root: "/proc"},
		DiskSpace:   func(string) (uint64, uint64, error) { return 40 << 30, 100 << 30, nil },
		OpenHistory: func(string) (CrashHistory, error) { return fakeHistory{s}, nil },
		HTTP:        &http.Client{Timeout: 5 * time.Second},
		Now:         func() time.Time { return now },
	}
	return s
}

func (s *system) path(rel string) string { return filepath.Join(s.dir, rel) }

func (s *system) file(rel, content string, mode os.FileMode) string {
	p := s.path(rel)
	assert.NilError(s.t, os.MkdirAll(filepath.Dir(p), 0o755))
	assert.NilError(s.t, os.WriteFile(p, []byte(content), mode))
	assert.NilError(s.t, os.Chmod(p, mode))
	return p
}

func (s *system) mkdir(rel string, mode os.FileMode) string {
	p := s.path(rel)
	assert.NilError(s.t, os.MkdirAll(p, 0o755))
	assert.NilError(s.t, os.Chmod(p, mode))
	return p
}

// appendEnv adds lines to the env file, keeping its mode.
func (s *system) appendEnv(lines string) {
	f, err := os.OpenFile(s.envFile, os.O_APPEND|os.O_WRONLY, 0)
	assert.NilError(s.t, err)
	_, err = f.WriteString(lines)
	assert.NilError(s.t, err)
	assert.NilError(s.t, f.Close())
}

// result runs every check and returns the named one.
func (s *system) result(name string) Result {
	for _, r := range Run(context.Background(), s.env) {
		if r.Name == name {
			return r
		}
	}
	s.t.Fatalf("no check named %q", name)
	return Result{}
}

func TestIntactSystemPasses(t *testing.T) {
	s := newSystem(t)
	results := Run(context.Background(), s.env)
	assert.Equal(t, len(results), len(Checks()))
	for _, r := range results {
		assert.Check(t, is.Equal(r.Status, Pass), "%s: %s (fix: %s)", r.Name, r.Verdict, r.Fix)
		assert.Check(t, is.Equal(r.Fix, ""), r.Name)
		assert.Check(t, !strings.Contains(r.Verdict, "\n"), "%s: one line", r.Name)
	}
	assert.Assert(t, !Failed(results))
	assert.Assert(t, is.Contains(s.result("port").Verdict, "stigmer.service (main PID"))
	assert.Assert(t, is.Contains(s.result("api").Verdict, "stigmer "+testVersion+" like this command"))
}

// Each case breaks one thing; the check that looks at it reports it with
// the fix, the way an operator would repair it.
func TestEachBreakageIsNamed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brk     func(s *system)
		check   string
		status  Status
		verdict string
		fix     string
	}{
		// binary
		{"binary missing", func(s *system) { assert.NilError(t, os.Remove(s.bin)) },
			"binary", Fail, "(the unit's ExecStart=) is missing", "reinstall"},
		{"binary not runnable by others", func(s *system) { assert.NilError(t, os.Chmod(s.bin, 0o700)) },
			"binary", Fail, "is mode 0700: the stigmer user cannot run it", "sudo chmod 0755 "},

		// unit
		{"unit not installed", func(s *system) { s.unit = &unitstate.State{Name: unitstate.Unit, LoadState: "not-found"} },
			"unit", Fail, "stigmer.service is not installed", "apt install ./stigmer_<v>_amd64.deb"},
		{"unit masked", func(s *system) { s.unit.LoadState, s.unit.FragmentPath = "masked", "/dev/null" },
			"unit", Fail, "is masked", "sudo systemctl unmask stigmer"},
		{"unit with a bad setting", func(s *system) { s.unit.LoadState, s.unit.LoadError = "bad-setting", "Unit has a bad setting" },
			"unit", Fail, "did not load (bad-setting): Unit has a bad setting", "systemd-analyze verify"},
		{"no systemd", func(s *system) { s.unitErr = unitstate.ErrNoSystemd },
			"unit", Skip, "systemd is not running on this machine", ""},
		{"no systemd: the other unit checks point at it", func(s *system) { s.unitErr = unitstate.ErrNoSystemd },
			"active", Skip, "no systemd on this machine (see the unit check)", ""},

		// enabled, active, restarts
		{"disabled", func(s *system) { s.unit.UnitFileState = "disabled" },
			"enabled", Fail, "disabled: it will not start at boot", "sudo systemctl enable stigmer"},
		{"stopped", func(s *system) {
			s.unit.ActiveState, s.unit.SubState, s.unit.MainPID = "inactive", "dead", 0
			s.unit.InactiveEnter = now.Add(-time.Minute)
		}, "active", Fail, "inactive (dead): stopped 1m0s ago", "sudo systemctl start stigmer"},
		{"failed on a bad configuration", func(s *system) {
			s.unit.ActiveState, s.unit.SubState, s.unit.Result = "failed", "failed", "exit-code"
			s.unit.ExecMainCode, s.unit.ExecMainStatus = unitstate.CodeExited, 78
		}, "active", Fail, "failed: the last run exited 78 (a configuration error (EX_CONFIG), not restarted), Result=exit-code", "see the config check"},
		{"failed on user namespaces", func(s *system) {
			s.unit.ActiveState, s.unit.SubState, s.unit.Result = "activating", "auto-restart", "exit-code"
			s.unit.ExecMainCode, s.unit.ExecMainStatus = unitstate.CodeExited, 226
		}, "active", Fail, "restarting: the last run exited 226 (NAMESPACE", "see the userns check"},
		{"killed and waiting to restart", func(s *system) {
			s.unit.ActiveState, s.unit.SubState, s.unit.Result = "activating", "auto-restart", "signal"
			s.unit.ExecMainCode, s.unit.ExecMainStatus = unitstate.CodeKilled, 9
		}, "active", Fail, "restarting: the last run killed by SIGKILL, Result=signal", "journalctl -u stigmer"},
		{"restarted", func(s *system) { s.unit.NRestarts = 3 },
			"restarts", Warn, "systemd restarted the server 3 time(s)", "journalctl -u stigmer"},

		// last crash
		{"a crash an hour ago", func(s *system) {
			s.crash = &Crash{At: now.Add(-time.Hour), Reason: "killed by SIGSEGV", Logs: []string{"panic: boom"}}
		}, "last-crash", Warn, "crashed 1h0m0s ago (2026-03-01T11:00:00Z): killed by SIGSEGV", "journalctl -u stigmer --since"},
		{"no crash history in this build", func(s *system) { s.env.OpenHistory = nil },
			"last-crash", Skip, "no crash history", ""},
		{"crash history unreadable", func(s *system) {
			s.env.OpenHistory = func(dir string) (CrashHistory, error) {
				return nil, &fs.PathError{Op: "open", Path: dir, Err: fs.ErrPermission}
			}
		}, "last-crash", Skip, "permission denied; run as root", ""},

		// history
		{"history damaged", func(s *system) { s.file("var/lib/stigmer/history.db", strings.Repeat("junk", 4096), 0o600) },
			"history", Fail, "history.db is damaged: damaged: neither meta page", "sudo systemctl restart stigmer: the server moves it aside"},
		{"history moved aside", func(s *system) {
			s.file("var/lib/stigmer/history.db.broken-20260301T100000Z", "junk", 0o600)
			s.file("var/lib/stigmer/history.db.broken-20260301T110000Z", "junk", 0o600)
		}, "history", Fail, "was damaged and moved aside as " /* the newest: */, "history.db.broken-20260301T100000Z " /* both */},

		// systemd
		{"systemd below the floor", func(s *system) { s.unit.SystemdVersion = "237" },
			"systemd", Fail, "systemd 237 is older than 239", "Ubuntu 20.04+, Debian 11+ or RHEL 8+"},

		// env file
		{"env file readable by others", func(s *system) { assert.NilError(t, os.Chmod(s.envFile, 0o644)) },
			"env-file", Fail, "is mode 0644, want 0600", "sudo chmod 0600 "},
		{"env file not root's", func(s *system) { s.users["root"] = &user.User{Username: "root", Uid: "4242", Gid: "4242"} },
			"env-file", Fail, "is owned by stigmer:stigmer, want root:root", "sudo chown root:root "},
		{"a new default waiting after an upgrade", func(s *system) { s.file("etc/default/stigmer.dpkg-dist", "", 0o600) },
			"env-file", Warn, "stigmer.dpkg-dist exists", "diff -u "},
		{"no env file", func(s *system) { assert.NilError(t, os.Remove(s.envFile)) },
			"env-file", Warn, "no env file", "sudo install -m 0600"},

		// config
		{"a line without =", func(s *system) { s.appendEnv("STIGMER_LLM_PROVIDER ollama\n") },
			"config", Fail, `stigmer:3: "STIGMER_LLM_PROVIDER ollama" has no '='`, "fix or delete line 3"},
		{"a secret on a bad line is masked", func(s *system) { s.appendEnv("OPENAI_API_KEY sk-0123456789abcdef\n") },
			"config", Fail, `"OPENAI_API_KEY sk-…" has no '='`, "line 3"},
		{"a password on a bad line is masked", func(s *system) { s.appendEnv("export STIGMER_ALERT_SMTP_PASSWORD=hunter2-long-password\n") },
			"config", Fail, `"export STIGMER_ALERT_SMTP_PASSWORD hun…" does not start with a variable name`, "line 3"},
		{"a value the server refuses", func(s *system) { s.appendEnv("STIGMER_LLM_PROVIDER=gemini\n") },
			"config", Fail, `STIGMER_LLM_PROVIDER="gemini" is not a known provider`, "sudoedit "},
		{"edited after the start", func(s *system) { s.unit.ActiveEnter = time.Now().Add(-time.Hour) },
			"config", Warn, "changed after the service started", "sudo systemctl restart stigmer"},
		{"env file unreadable to this user", func(s *system) {
			s.env.ReadFile = func(p string) ([]byte, error) { return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission} }
		}, "config", Skip, "cannot read " /* path */, ""},

		// user and directories
		{"no user", func(s *system) { delete(s.users, "stigmer") },
			"user", Fail, "no user stigmer", "systemd-sysusers"},
		{"no group", func(s *system) { delete(s.groups, "stigmer") },
			"user", Fail, "no group stigmer", "systemd-sysusers"},
		{"data dir missing", func(s *system) { assert.NilError(t, os.Remove(s.dataDir)) },
			"data-dir", Fail, "(STIGMER_DATA_DIR) is missing", "sudo install -d -m 0750 -o stigmer -g stigmer"},
		{"data dir not stigmer's", func(s *system) {
			s.users["stigmer"] = &user.User{Username: "stigmer", Uid: "4242", Gid: s.users["stigmer"].Gid}
		},
			"data-dir", Fail, "want stigmer:stigmer: the service cannot write there", "sudo chown -R stigmer:stigmer "},
		{"data dir open to others", func(s *system) { assert.NilError(t, os.Chmod(s.dataDir, 0o755)) },
			"data-dir", Warn, "is mode 0755, want 0750", "sudo chmod 0750 "},
		{"data dir outside the sandbox's writable paths", func(s *system) { s.unit.ReadWritePaths = nil },
			"data-dir", Fail, "not in the unit's ReadWritePaths=", "ReadWritePaths="},
		{"log dir closed to its owner", func(s *system) { assert.NilError(t, os.Chmod(s.logDir, 0o055)) },
			"log-dir", Fail, "is mode 0055: its owner stigmer cannot use it", "sudo chmod 0755 "},

		// disk
		{"disk nearly full", func(s *system) {
			s.env.DiskSpace = func(string) (uint64, uint64, error) { return 50 << 20, 100 << 30, nil }
		}, "disk", Fail, "50 MiB free of 100.0 GiB (0%)", "journalctl --vacuum-size"},
		{"disk low", func(s *system) {
			s.env.DiskSpace = func(string) (uint64, uint64, error) { return 3 << 30, 100 << 30, nil }
		}, "disk", Warn, "3.0 GiB free of 100.0 GiB (3%)", "du -xsh"},

		// user namespaces
		{"user namespaces off", func(s *system) { s.env.Proc = fakeProc(t, "0") },
			"userns", Fail, "user namespaces are off (user.max_user_namespaces=0) and the unit has PrivateUsers=yes", "PrivateUsers=no"},

		// docker
		{"image without a container CLI", func(s *system) {
			s.appendEnv("STIGMER_AGENT_RUNNER_IMAGE=example/agent:1\nSTIGMER_CONTAINER_CLI=" + s.path("no/docker") + "\n")
		}, "docker", Fail, "needs " /* the CLI */, "install docker"},
		{"image without a docker socket", func(s *system) {
			s.dockerSetup(false)
		}, "docker", Fail, "no docker socket at ", "sudo systemctl enable --now docker"},
		{"docker socket without the group", func(s *system) {
			s.dockerSetup(true)
		}, "docker", Fail, "SupplementaryGroups= () lacks docker", "SupplementaryGroups=docker"},

		// port and API
		{"port taken by another process", func(s *system) { s.unit.MainPID = 4194304 },
			"port", Fail, "is taken by pid " + strconv.Itoa(os.Getpid()), "set STIGMER_LISTEN to a free address"},
		{"server down", func(s *system) { s.srv.Close() },
			"api", Fail, "no answer from http://127.0.0.1:", "journalctl -u stigmer"},
		{"server down: the port is free", func(s *system) { s.srv.Close() },
			"port", Pass, "is free", ""},
		{"server not ready", func(s *system) { s.api.ready = false },
			"api", Fail, "answers but is not ready: agent-runner is not registered", "stigmer server status"},
		{"server of another version", func(s *system) { s.api.version = "1.2.2" },
			"api", Fail, "runs stigmer 1.2.2, this command is 1.2.3", "sudo systemctl restart stigmer"},
		// variables
		{"a misspelt variable in the env file", func(s *system) { s.appendEnv("STIGMER_LISTN=127.0.0.1:1\n") },
			"variables", Fail, "etc/default/stigmer:3: STIGMER_LISTN is not a stigmer variable and is ignored; did you mean STIGMER_LISTEN?",
			"etc/default/stigmer: rename STIGMER_LISTN to STIGMER_LISTEN on line 3, then sudo systemctl restart stigmer"},
		{"a variable of the runners in the env file", func(s *system) { s.appendEnv("\nSTIGMER_RUNNER_TOKEN=x\n") },
			"variables", Fail, "etc/default/stigmer:4: STIGMER_RUNNER_TOKEN is set by the server for its runners", "delete line 4"},
		{"a misspelt variable in the unit", func(s *system) { s.unit.Environment = append(s.unit.Environment, "STIGMER_DATADIR=/srv") },
			"variables", Fail, "the unit's Environment=: STIGMER_DATADIR is not a stigmer variable and is ignored; did you mean STIGMER_DATA_DIR?",
			"sudo systemctl edit stigmer: fix Environment=STIGMER_DATADIR"},
		{"the misspelt variable's setting is not applied", func(s *system) { s.appendEnv("STIGMER_LISTN=127.0.0.1:1\n") },
			"config", Pass, "listen 127.0.0.1:", ""},

		{"API beyond loopback", func(s *system) {
			s.appendEnv("STIGMER_LISTEN=0.0.0.0:7299\nSTIGMER_ALLOW_NON_LOOPBACK=1\n")
		}, "firewall", Warn, "listens on 0.0.0.0:7299 beyond this machine", "sudo ufw status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSystem(t)
			tc.brk(s)
			r := s.result(tc.check)
			assert.Equal(t, r.Status, tc.status, "%s", r.Verdict)
			assert.Assert(t, is.Contains(r.Verdict, tc.verdict))
			assert.Assert(t, is.Contains(r.Fix, tc.fix))
			if tc.status == Pass {
				assert.Equal(t, r.Fix, "")
			} else if tc.status != Skip {
				assert.Assert(t, r.Fix != "", "a %s needs a fix", tc.status)
			}
			assert.Assert(t, !strings.Contains(r.Verdict, "\n") && !strings.Contains(r.Fix, "\n"), "one line each")
			assert.Equal(t, Failed([]Result{r}), tc.status == Fail)
		})
	}
}

// The env file is read as the systemd on the host reads it: RHEL 8's 239
// unescapes inside single quotes where 252 does not, and a line swallowed
// by a comment ending in a backslash is never applied to the checks.
func TestEnvFileIsReadAsTheRunningSystemdReadsIt(t *testing.T) {
	for _, tc := range []struct {
		systemd string
		data    string
	}{
		{"239", "/srv/stigmerdata"},
		{"245", `/srv/stigmer\data`},
		{"252.22-1~deb12u1", `/srv/stigmer\data`},
	} {
		t.Run(tc.systemd, func(t *testing.T) {
			s := newSystem(t)
			s.unit.SystemdVersion = tc.systemd
			s.appendEnv(`STIGMER_DATA_DIR='/srv/stigmer\data'` + "\n")
			r := s.result("config")
			assert.Equal(t, r.Status, Pass, r.Verdict)
			assert.Check(t, is.Contains(r.Verdict, "data "+tc.data+","))
		})
	}
	t.Run("a swallowed line", func(t *testing.T) {
		s := newSystem(t)
		s.appendEnv("# the port below \\\nSTIGMER_LISTEN=127.0.0.1:1\n")
		r := s.result("config")
		assert.Equal(t, r.Status, Fail)
		assert.Check(t, is.Contains(r.Verdict, "line 4 is not applied"))
		api := s.result("api")
		assert.Equal(t, api.Status, Pass, "the API is checked where the service listens: %s", api.Verdict)
		assert.Check(t, !strings.Contains(api.Verdict, "127.0.0.1:1 "), api.Verdict)
	})
}

// dockerSetup configures an agent runner image with a CLI stand-in and,
// when socket, a unix socket 0660 whose group (this test's gid, named
// docker here) the unit does not list in SupplementaryGroups=.
func (s *system) dockerSetup(socket bool) {
	cli := s.file("usr/bin/docker", "#!/bin/sh\n", 0o755)
	sock := s.path("run/docker.sock")
	s.appendEnv("STIGMER_AGENT_RUNNER_IMAGE=example/agent:1\nSTIGMER_CONTAINER_CLI=" + cli + "\nDOCKER_HOST=unix://" + sock + "\n")
	if !socket {
		return
	}
	assert.NilError(s.t, os.MkdirAll(filepath.Dir(sock), 0o755))
	ln, err := net.Listen("unix", sock)
	assert.NilError(s.t, err)
	s.t.Cleanup(func() { ln.Close() })
	assert.NilError(s.t, os.Chmod(sock, 0o660))
	s.groupIDs[strconv.Itoa(os.Getgid())] = "docker"
}

func TestDockerGroupGranted(t *testing.T) {
	s := newSystem(t)
	s.dockerSetup(true)
	s.unit.SupplementaryGroups = []string{"docker"}
	r := s.result("docker")
	assert.Equal(t, r.Status, Pass, r.Verdict)
	assert.Assert(t, is.Contains(r.Verdict, "open to the service's group docker"))
}

func TestUserNamespacesOffWithoutPrivateUsers(t *testing.T) {
	s := newSystem(t)
	s.env.Proc = fakeProc(t, "0")
	s.unit.PrivateUsers = false
	r := s.result("userns")
	assert.Equal(t, r.Status, Pass, r.Verdict)
}

// fakeProc is a /proc with the given user.max_user_namespaces and no sockets.
func fakeProc(t *testing.T, maxUserNS string) portowner.Proc {
	root := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "sys", "user"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(root, "sys", "user", "max_user_namespaces"), []byte(maxUserNS+"\n"), 0o644))
	return portowner.Proc{Root: root}
}

// Without systemd (a container, CI, a dev machine) the unit checks skip
// with the reason, and the rest still run on the packaged defaults.
func TestWithoutSystemd(t *testing.T) {
	s := newSystem(t)
	s.unitErr = unitstate.ErrNoSystemd
	s.env.EnvFiles = []string{s.envFile}
	results := Run(context.Background(), s.env)
	byName := map[string]Result{}
	for _, r := range results {
		byName[r.Name] = r
	}
	for _, name := range []string{"unit", "enabled", "active", "restarts", "systemd"} {
		assert.Check(t, is.Equal(byName[name].Status, Skip), name)
	}
	assert.Check(t, is.Contains(byName["binary"].Verdict, "/usr/bin/stigmer (the packaged unit's ExecStart=)"))
	assert.Check(t, is.Equal(byName["config"].Status, Pass), byName["config"].Verdict)
	assert.Check(t, is.Equal(byName["api"].Status, Pass), byName["api"].Verdict)
}

func TestEnvFileFlagMustExist(t *testing.T) {
	s := newSystem(t)
	s.env.EnvFiles = []string{s.path("etc/nothing")}
	r := s.result("env-file")
	assert.Equal(t, r.Status, Fail)
	assert.Assert(t, is.Contains(r.Verdict, "does not exist"))
}

func TestCannotReadSaysWhoAndWhat(t *testing.T) {
	e := &Env{UID: 1000}
	r := e.cannotRead("/etc/default/stigmer", &fs.PathError{Op: "open", Path: "/etc/default/stigmer", Err: fs.ErrPermission})
	assert.Equal(t, r.Status, Skip)
	assert.Equal(t, r.Verdict, "cannot read /etc/default/stigmer as uid 1000: permission denied; run as root (sudo stigmer doctor) to check it")
	r = e.cannotRead("/x", errors.New("boom"))
	assert.Equal(t, r.Verdict, "cannot read /x as uid 1000: boom")
}
