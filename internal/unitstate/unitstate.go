// Package unitstate reads a systemd unit's state (load, enablement,
// activity, restarts, last exit, environment, sandbox settings) and the
// manager's version over the system D-Bus, as systemctl show does
// (org.freedesktop.systemd1(5)). It only reads: it never starts, stops or
// changes a unit. Any user may read these properties; no polkit rule or
// root is needed, except where the host has no D-Bus daemon, where only
// root reaches systemd (through its private socket).
package unitstate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"golang.org/x/sys/unix"
)

// Unit is the unit that stigmer's packages install.
const Unit = "stigmer.service"

// ErrNoSystemd is returned by Read on a machine that was not booted with
// systemd (a container, a chroot, a CI runner): there is no unit to read.
var ErrNoSystemd = errors.New("systemd is not running on this machine (no /run/systemd/system): there is no stigmer.service to inspect")

// ExecMainCode values: how the unit's main process last ended (the si_code
// of its SIGCHLD, as systemctl show prints ExecMainCode=).
const (
	CodeExited = 1 // CLD_EXITED: ExecMainStatus is the exit status
	CodeKilled = 2 // CLD_KILLED: ExecMainStatus is the signal
	CodeDumped = 3 // CLD_DUMPED: killed by ExecMainStatus, and dumped core
)

// EnvironmentFile is one EnvironmentFile= of the unit; Optional is the
// leading "-" (a missing file is no error).
type EnvironmentFile struct {
	Path     string
	Optional bool
}

// State is what systemd says about one unit and about itself. Fields the
// unit's type does not have (a unit that is not loaded has no service
// properties) are zero.
type State struct {
	Name           string
	LoadState      string // loaded, not-found, masked, bad-setting, error
	LoadError      string // why a unit is not loaded, when systemd says
	FragmentPath   string // the unit file; /dev/null when masked
	DropInPaths    []string
	UnitFileState  string // enabled, disabled, masked, static, ...
	ActiveState    string // active, activating, deactivating, inactive, failed
	SubState       string // running, auto-restart, dead, failed, start, ...
	ActiveEnter    time.Time
	InactiveEnter  time.Time
	NRestarts      uint32
	MainPID        uint32
	Result         string // success, exit-code, signal, core-dump, watchdog, timeout, ...
	ExecMainCode   int32
	ExecMainStatus int32
	// ExecStart is the path of the unit's main binary (the first ExecStart=).
	ExecStart           string
	User                string
	SupplementaryGroups []string
	Environment         []string // Environment= lines, NAME=value
	EnvironmentFiles    []EnvironmentFile
	ReadWritePaths      []string
	PrivateUsers        bool
	// SystemdVersion is the manager's Version property ("252.22-1~deb12u1").
	SystemdVersion string
}

// Read asks systemd about unit over the system bus (as root without a
// D-Bus daemon, over systemd's private socket). It returns ErrNoSystemd
// when systemd does not run here, and an error saying which bus it could
// not reach otherwise. A unit that is not installed is no error: its
// LoadState is "not-found".
func Read(ctx context.Context, unit string) (*State, error) {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		return nil, ErrNoSystemd
	}
	conn, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd over the system D-Bus as uid %d: %w (is dbus running? as root, systemd's private socket is tried too)", os.Getuid(), err)
	}
	defer conn.Close()
	unitProps, err := conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return nil, fmt.Errorf("reading the properties of %s: %w", unit, err)
	}
	var serviceProps map[string]any
	if str(unitProps["LoadState"]) == "loaded" && strings.HasSuffix(unit, ".service") {
		serviceProps, err = conn.GetUnitTypePropertiesContext(ctx, unit, "Service")
		if err != nil {
			return nil, fmt.Errorf("reading the service properties of %s: %w", unit, err)
		}
	}
	version, err := conn.GetManagerProperty("Version")
	if err != nil {
		return nil, fmt.Errorf("reading systemd's version: %w", err)
	}
	st := FromProperties(unit, unitProps, serviceProps)
	st.SystemdVersion = unquote(version)
	return st, nil
}

// FromProperties builds a State from the org.freedesktop.systemd1.Unit and
// .Service properties as godbus decodes them; a property that is missing or
// of another type is left zero (older systemd lacks some).
func FromProperties(unit string, unitProps, serviceProps map[string]any) *State {
	u, s := unitProps, serviceProps
	st := &State{
		Name:                unit,
		LoadState:           str(u["LoadState"]),
		LoadError:           loadError(u["LoadError"]),
		FragmentPath:        str(u["FragmentPath"]),
		DropInPaths:         strs(u["DropInPaths"]),
		UnitFileState:       str(u["UnitFileState"]),
		ActiveState:         str(u["ActiveState"]),
		SubState:            str(u["SubState"]),
		ActiveEnter:         usec(u["ActiveEnterTimestamp"]),
		InactiveEnter:       usec(u["InactiveEnterTimestamp"]),
		NRestarts:           u32(s["NRestarts"]),
		MainPID:             u32(s["MainPID"]),
		Result:              str(s["Result"]),
		ExecMainCode:        i32(s["ExecMainCode"]),
		ExecMainStatus:      i32(s["ExecMainStatus"]),
		ExecStart:           execPath(s["ExecStart"]),
		User:                str(s["User"]),
		SupplementaryGroups: strs(s["SupplementaryGroups"]),
		Environment:         strs(s["Environment"]),
		EnvironmentFiles:    envFiles(s["EnvironmentFiles"]),
		ReadWritePaths:      strs(s["ReadWritePaths"]),
	}
	st.PrivateUsers, _ = s["PrivateUsers"].(bool)
	return st
}

// VersionNumber is the leading number of a systemd version string: 252 of
// "252.22-1~deb12u1", 239 of "239 (239-78.el8)". ok is false when there is
// none.
func VersionNumber(v string) (n int, ok bool) {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(v[:end])
	return n, err == nil
}

// LastExit describes how the main process last ended, as a person reads it:
// "exited 78", "killed by SIGKILL", "dumped core (SIGSEGV)"; empty when it
// has not ended yet.
func (s *State) LastExit() string {
	switch s.ExecMainCode {
	case CodeExited:
		return fmt.Sprintf("exited %d", s.ExecMainStatus)
	case CodeKilled:
		return "killed by " + signalName(s.ExecMainStatus)
	case CodeDumped:
		return "dumped core (" + signalName(s.ExecMainStatus) + ")"
	}
	return ""
}

func unquote(gvariant string) string {
	if s, err := strconv.Unquote(gvariant); err == nil {
		return s
	}
	return strings.Trim(gvariant, `"'`)
}

func str(v any) string { s, _ := v.(string); return s }
func u32(v any) uint32 { n, _ := v.(uint32); return n }
func i32(v any) int32  { n, _ := v.(int32); return n }
func strs(v any) []string {
	s, _ := v.([]string)
	return s
}

func usec(v any) time.Time {
	n, ok := v.(uint64)
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(n))
}

// loadError is the message of LoadError (ss: name, message).
func loadError(v any) string {
	t, ok := v.([]any)
	if !ok || len(t) != 2 {
		return ""
	}
	return str(t[1])
}

// execPath is the path of the first command of ExecStart
// (a(sasbttttuii): path, argv, ignore-failure, timestamps, pid, code, status).
func execPath(v any) string {
	cmds, ok := v.([][]any)
	if !ok || len(cmds) == 0 || len(cmds[0]) == 0 {
		return ""
	}
	return str(cmds[0][0])
}

// envFiles decodes EnvironmentFiles (a(sb): path, optional).
func envFiles(v any) []EnvironmentFile {
	rows, _ := v.([][]any)
	var files []EnvironmentFile
	for _, r := range rows {
		if len(r) != 2 {
			continue
		}
		opt, _ := r[1].(bool)
		files = append(files, EnvironmentFile{Path: str(r[0]), Optional: opt})
	}
	return files
}

// signalName is "SIGKILL" for 9, "signal 77" for a number with no name.
func signalName(n int32) string {
	if name := unix.SignalName(syscall.Signal(n)); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", n)
}
