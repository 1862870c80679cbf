package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/peer"
	"github.com/stigmer/stigmer/internal/portowner"
	"github.com/stigmer/stigmer/internal/unitstate"
)

// Status is a check's outcome.
type Status string

// The outcomes. Only Fail makes doctor exit 1: Warn is something to look
// at, Skip is a check that could not be made (its verdict says why).
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's outcome: a one-line Verdict, and a one-line Fix
// (empty on pass). Detail holds further lines worth showing (drop-ins, the
// last crash's log lines, more bad lines of the env file).
type Result struct {
	Name    string   `json:"name"`
	Status  Status   `json:"status"`
	Verdict string   `json:"verdict"`
	Fix     string   `json:"fix,omitempty"`
	Detail  []string `json:"detail,omitempty"`
}

// Check is one named check.
type Check struct {
	Name string
	Run  func(context.Context, *Env) Result
}

// Checks lists every check in the order they are printed: from what must
// be there (binary, unit) to what it gives (port, API).
func Checks() []Check {
	return []Check{
		{"binary", checkBinary},
		{"unit", checkUnit},
		{"enabled", checkEnabled},
		{"active", checkActive},
		{"restarts", checkRestarts},
		{"last-crash", checkLastCrash},
		{"history", checkHistory},
		{"systemd", checkSystemd},
		{"env-file", checkEnvFile},
		{"config", checkConfig},
		{"variables", checkVariables},
		{"user", checkUser},
		{"data-dir", checkDataDir},
		{"log-dir", checkLogDir},
		{"disk", checkDisk},
		{"userns", checkUserNS},
		{"docker", checkDocker},
		{"port", checkPort},
		{"api", checkAPI},
		{"firewall", checkFirewall},
	}
}

// Run runs every check against env, in order.
func Run(ctx context.Context, env *Env) []Result {
	checks := Checks()
	results := make([]Result, 0, len(checks))
	for _, c := range checks {
		r := c.Run(ctx, env)
		r.Name = c.Name
		results = append(results, r)
	}
	return results
}

// Failed reports whether any result is a failure: doctor's exit status.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// CrashHistory is the server's record of its own crashes, kept in its data
// directory.
type CrashHistory interface {
	// LastCrash returns the most recent crash, or nil when none is recorded.
	LastCrash() (*Crash, error)
}

// Crash is one recorded crash of the server.
type Crash struct {
	At     time.Time
	Reason string   // how it ended, e.g. "killed by SIGKILL", "exited 2"
	Logs   []string // its last log lines
}

// Env is what the checks read, injectable so that tests can break each
// thing in a temporary directory. System returns the real one.
type Env struct {
	// ReadUnit reads stigmer.service's state; an error (no systemd, no
	// D-Bus) makes the unit checks skip with it as the reason.
	ReadUnit func(context.Context) (*unitstate.State, error)
	// EnvFiles, when set, are the env files to check instead of the
	// unit's EnvironmentFile= ones (and they must exist).
	EnvFiles []string
	// Version is this command's version, which the server must run too.
	Version    string
	Executable func() (string, error)
	UID        int
	// LookupUser and LookupGroup find the service's user and group by
	// name; LookupUserID and LookupGroupID name an owner.
	LookupUser    func(name string) (*user.User, error)
	LookupGroup   func(name string) (*user.Group, error)
	LookupUserID  func(uid string) (*user.User, error)
	LookupGroupID func(gid string) (*user.Group, error)
	// ReadFile reads an env file (os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// Proc is /proc: sockets, processes and sysctls.
	Proc portowner.Proc
	// DiskSpace returns the bytes available to unprivileged users and
	// the size of the filesystem holding path.
	DiskSpace func(path string) (avail, total uint64, err error)
	// OpenHistory opens the crash history in the data directory; nil
	// when this build keeps none.
	OpenHistory func(dataDir string) (CrashHistory, error)
	HTTP        *http.Client
	Now         func() time.Time

	// memo: each fact is read once per run
	unitRead bool
	unit     *unitstate.State
	unitErr  error
	svc      *service
}

// System is the Env of this machine, for the command of that version.
func System(version string) *Env {
	return &Env{
		ReadUnit: func(ctx context.Context) (*unitstate.State, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return unitstate.Read(ctx, unitstate.Unit)
		},
		Version:       version,
		Executable:    os.Executable,
		UID:           os.Getuid(),
		LookupUser:    user.Lookup,
		LookupGroup:   user.LookupGroup,
		LookupUserID:  user.LookupId,
		LookupGroupID: user.LookupGroupId,
		ReadFile:      os.ReadFile,
		Proc:          portowner.Proc{Root: "/proc"},
		DiskSpace:     diskSpace,
		HTTP:          checkedClient(),
		Now:           time.Now,
	}
}

// checkedClient is the API check's HTTP client: no proxy, and no server
// that neither root, the service's user nor this user runs (see package
// peer): what an impostor on the port would answer is not quoted.
func checkedClient() *http.Client {
	t := api.LocalTransport()
	t.DialContext = peer.Trusted().DialTCP(portowner.Proc{Root: "/proc"})
	return &http.Client{Timeout: 3 * time.Second, Transport: t}
}

// unitState reads the unit once.
func (e *Env) unitState(ctx context.Context) (*unitstate.State, error) {
	if !e.unitRead {
		e.unit, e.unitErr = e.ReadUnit(ctx)
		e.unitRead = true
	}
	return e.unit, e.unitErr
}

// loadedUnit is the unit's state when it is loaded; otherwise the skip
// result to return.
func (e *Env) loadedUnit(ctx context.Context) (*unitstate.State, *Result) {
	st, err := e.unitState(ctx)
	if err != nil {
		r := e.noUnit(err)
		return nil, &r
	}
	if st.LoadState != "loaded" {
		r := skip("%s is not loaded (%s): see the unit check", st.Name, st.LoadState)
		return nil, &r
	}
	return st, nil
}

// noUnit is the skip of a check that needs the unit's state, which the
// unit check explains in full.
func (e *Env) noUnit(err error) Result {
	if errors.Is(err, unitstate.ErrNoSystemd) {
		return skip("no systemd on this machine (see the unit check)")
	}
	return skip("cannot read the unit's state (see the unit check)")
}

// Packaged facts: what the unit and the packages set when systemd cannot
// be asked.
const (
	serviceUser  = "stigmer"
	serviceGroup = "stigmer"
	packagedBin  = "/usr/bin/stigmer"
	// systemdFloor is the oldest systemd the unit is written for (RHEL 8).
	systemdFloor = 239
	reinstallFix = "reinstall the package: sudo apt install --reinstall stigmer, or sudo dnf reinstall stigmer"
	journalFix   = "journalctl -u stigmer -n 50 --no-pager"
)

var packagedEnvFiles = []unitstate.EnvironmentFile{{Path: "/etc/default/stigmer", Optional: true}, {Path: "/etc/sysconfig/stigmer", Optional: true}}

func pass(format string, a ...any) Result {
	return Result{Status: Pass, Verdict: fmt.Sprintf(format, a...)}
}

func warn(fix, format string, a ...any) Result {
	return Result{Status: Warn, Verdict: fmt.Sprintf(format, a...), Fix: fix}
}

func fail(fix, format string, a ...any) Result {
	return Result{Status: Fail, Verdict: fmt.Sprintf(format, a...), Fix: fix}
}

func skip(format string, a ...any) Result {
	return Result{Status: Skip, Verdict: fmt.Sprintf(format, a...)}
}

// cannotRead is the skip for a path this user may not read.
func (e *Env) cannotRead(path string, err error) Result {
	why := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		why = pe.Err
	}
	r := skip("cannot read %s as uid %d: %v", path, e.UID, why)
	if errors.Is(err, fs.ErrPermission) {
		r.Verdict += "; run as root (sudo stigmer doctor) to check it"
	}
	return r
}

// ago renders how long ago t was, for verdicts: "3m12s ago".
func (e *Env) ago(t time.Time) string {
	d := e.Now().Sub(t)
	if d < time.Hour {
		return d.Round(time.Second).String() + " ago"
	}
	return d.Round(time.Minute).String() + " ago"
}
