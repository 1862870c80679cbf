package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/stigmer/stigmer/internal/unitstate"
)

// unitBinary is the unit's ExecStart= binary, or the packaged path.
func (e *Env) unitBinary(ctx context.Context) string {
	if st, err := e.unitState(ctx); err == nil && st.ExecStart != "" {
		return st.ExecStart
	}
	return packagedBin
}

// checkBinary: the binary the unit runs is there and others may run it
// (the service runs as stigmer); names this command's own path when it is
// another file.
func checkBinary(ctx context.Context, e *Env) Result {
	bin := e.unitBinary(ctx)
	fi, err := os.Stat(bin)
	switch {
	case errors.Is(err, os.ErrNotExist):
		whose := "the unit's"
		if st, err := e.unitState(ctx); err != nil || st.ExecStart == "" {
			whose = "the packaged unit's"
		}
		return fail(reinstallFix, "%s (%s ExecStart=) is missing", bin, whose)
	case err != nil:
		return e.cannotRead(bin, err)
	case !fi.Mode().IsRegular():
		return fail(reinstallFix, "%s is not a regular file (%s)", bin, fi.Mode().Type())
	case fi.Mode().Perm()&0o005 != 0o005:
		return fail("sudo chmod 0755 "+bin, "%s is mode %04o: the stigmer user cannot run it", bin, fi.Mode().Perm())
	}
	self, err := e.Executable()
	if err == nil {
		if sfi, err := os.Stat(self); err == nil && os.SameFile(fi, sfi) {
			return pass("%s, stigmer %s", bin, e.Version)
		}
	}
	return pass("%s; this command is another file: %s (stigmer %s)", bin, self, e.Version)
}

// checkUnit: stigmer.service is installed, not masked, and loaded.
func checkUnit(ctx context.Context, e *Env) Result {
	st, err := e.unitState(ctx)
	if err != nil {
		return skip("%v", err)
	}
	switch st.LoadState {
	case "loaded":
		r := pass("%s from %s", st.Name, st.FragmentPath)
		for _, d := range st.DropInPaths {
			r.Detail = append(r.Detail, "drop-in: "+d)
		}
		return r
	case "not-found":
		return fail("install the package: sudo apt install ./stigmer_<v>_amd64.deb, or sudo dnf install ./stigmer-<v>.x86_64.rpm",
			"%s is not installed: systemd has no unit file for it", st.Name)
	case "masked":
		return fail("sudo systemctl unmask stigmer && sudo systemctl enable --now stigmer",
			"%s is masked (as `apt remove` leaves it): it cannot start", st.Name)
	}
	why := st.LoadError
	if why == "" {
		why = "no reason given"
	}
	return fail("systemd-analyze verify "+st.FragmentPath, "%s did not load (%s): %s", st.Name, st.LoadState, why)
}

// checkEnabled: the unit starts at boot.
func checkEnabled(ctx context.Context, e *Env) Result {
	st, r := e.loadedUnit(ctx)
	if r != nil {
		return *r
	}
	const fix = "sudo systemctl enable stigmer"
	switch st.UnitFileState {
	case "enabled":
		return pass("enabled: starts at boot")
	case "enabled-runtime":
		return warn(fix, "enabled only until the next reboot (enabled-runtime)")
	case "disabled":
		return fail(fix, "disabled: it will not start at boot")
	}
	return warn(fix, "unit file state %q: not enabled the usual way", st.UnitFileState)
}

// checkActive: the service runs; if not, how its last run ended.
func checkActive(ctx context.Context, e *Env) Result {
	st, r := e.loadedUnit(ctx)
	if r != nil {
		return *r
	}
	ended := lastRun(st)
	switch st.ActiveState {
	case "active":
		return pass("active (%s) since %s, main PID %d", st.SubState, e.ago(st.ActiveEnter), st.MainPID)
	case "activating":
		if st.SubState == "auto-restart" {
			return fail(exitFix(st, journalFix), "restarting: %s; systemd starts it again RestartSec after", ended)
		}
		return warn("wait, then run stigmer doctor again; if it stays so: "+journalFix, "starting (%s)", st.SubState)
	case "deactivating":
		return warn("wait, then run stigmer doctor again", "stopping (%s)", st.SubState)
	case "failed":
		return fail(exitFix(st, journalFix+"; then sudo systemctl restart stigmer"), "failed: %s", ended)
	}
	if st.Result != "" && st.Result != "success" {
		return fail(exitFix(st, "sudo systemctl start stigmer"), "%s (%s): %s", st.ActiveState, st.SubState, ended)
	}
	return fail("sudo systemctl start stigmer", "%s (%s): stopped%s", st.ActiveState, st.SubState, sinceWhen(e, st.InactiveEnter))
}

func sinceWhen(e *Env, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " " + e.ago(t)
}

// lastRun says how the last run ended: "the last run exited 78 (a
// configuration error), Result=exit-code".
func lastRun(st *unitstate.State) string {
	s := "the last run ended with Result=" + st.Result
	if exit := st.LastExit(); exit != "" {
		s = "the last run " + exit
		if m := exitMeaning(st); m != "" {
			s += " (" + m + ")"
		}
		s += ", Result=" + st.Result
	}
	return s
}

// exitCodes are the exit statuses that say where a start failed: the
// server's own EX_CONFIG and systemd's codes for steps before the binary
// runs (systemd.exec(5), "Process Exit Codes"), with the check that looks
// at the cause.
var exitCodes = map[int32]struct{ meaning, check string }{
	78:  {"a configuration error (EX_CONFIG), not restarted", "config"},
	200: {"CHDIR: the working directory is missing", "data-dir"},
	203: {"EXEC: the binary is missing or not executable", "binary"},
	209: {"STDOUT: no journal stream", ""},
	216: {"GROUP: the group is missing", "user"},
	217: {"USER: the user is missing", "user"},
	226: {"NAMESPACE: the sandbox could not be set up (user namespaces off?)", "userns"},
	228: {"SECCOMP", ""},
	233: {"RUNTIME_DIRECTORY", ""},
	238: {"STATE_DIRECTORY: /var/lib/stigmer could not be made or owned", "data-dir"},
	240: {"LOGS_DIRECTORY: /var/log/stigmer could not be made or owned", "log-dir"},
}

func exitMeaning(st *unitstate.State) string {
	if st.ExecMainCode != unitstate.CodeExited {
		return ""
	}
	return exitCodes[st.ExecMainStatus].meaning
}

// exitFix points at the check that covers the exit status, else def.
func exitFix(st *unitstate.State, def string) string {
	if st.ExecMainCode == unitstate.CodeExited {
		if c := exitCodes[st.ExecMainStatus].check; c != "" {
			return "see the " + c + " check below; then sudo systemctl restart stigmer"
		}
	}
	return def
}

// checkRestarts: systemd's automatic restarts since the last start by
// hand (NRestarts; `systemctl restart` and `start` reset it).
func checkRestarts(ctx context.Context, e *Env) Result {
	st, r := e.loadedUnit(ctx)
	if r != nil {
		return *r
	}
	if st.NRestarts == 0 {
		return pass("no automatic restart since the last start by hand")
	}
	res := warn(journalFix+" (why it ended; the last-crash check shows the last one)",
		"systemd restarted the server %d time(s) since the last start by hand", st.NRestarts)
	if st.ActiveState != "active" {
		res.Verdict += "; " + lastRun(st)
	}
	return res
}

// checkLastCrash: the last crash the server recorded, with its log lines;
// one in the last day is a warning.
func checkLastCrash(ctx context.Context, e *Env) Result {
	if e.OpenHistory == nil {
		return skip("no crash history in this build; see " + journalFix)
	}
	dir := e.service(ctx).get("STIGMER_DATA_DIR", "/var/lib/stigmer")
	h, err := e.OpenHistory(dir)
	if err != nil {
		return e.cannotRead(dir, err)
	}
	c, err := h.LastCrash()
	if err != nil {
		return e.cannotRead(dir, err)
	}
	if c == nil {
		return pass("no crash recorded in %s", dir)
	}
	r := pass("last crash %s (%s): %s", e.ago(c.At), c.At.Format(time.RFC3339), c.Reason)
	if e.Now().Sub(c.At) < 24*time.Hour {
		r = warn(fmt.Sprintf("journalctl -u stigmer --since '%s' -n 100 --no-pager", c.At.Local().Add(-time.Minute).Format(time.DateTime)),
			"crashed %s (%s): %s", e.ago(c.At), c.At.Format(time.RFC3339), c.Reason)
	}
	r.Detail = c.Logs
	return r
}

// checkSystemd: systemd is at least the unit's floor, 239.
func checkSystemd(ctx context.Context, e *Env) Result {
	st, err := e.unitState(ctx)
	if err != nil {
		return e.noUnit(err)
	}
	n, ok := unitstate.VersionNumber(st.SystemdVersion)
	switch {
	case !ok:
		return warn("systemctl --version", "cannot tell systemd's version from %q", st.SystemdVersion)
	case n < systemdFloor:
		return fail("run stigmer on Ubuntu 20.04+, Debian 11+ or RHEL 8+",
			"systemd %d is older than %d, the oldest the unit is written for: some of its protections are missing", n, systemdFloor)
	}
	return pass("systemd %s (%d or newer)", st.SystemdVersion, systemdFloor)
}
