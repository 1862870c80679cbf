package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/envfile"
	"github.com/stigmer/stigmer/internal/history"
)

// owner is a file's owner as user:group names (numbers when unnamed).
func (e *Env) owner(fi os.FileInfo) (uid, gid uint32, names string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, "?"
	}
	u, g := strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid))
	if usr, err := e.LookupUserID(u); err == nil {
		u = usr.Username
	}
	if grp, err := e.LookupGroupID(g); err == nil {
		g = grp.Name
	}
	return st.Uid, st.Gid, u + ":" + g
}

// checkEnvFile: each env file that exists is mode 0600 (or stricter) and
// root's, as the packages install it (it may hold API keys, and systemd
// reads it as root); an upgrade's new default waiting beside it is a
// warning.
func checkEnvFile(ctx context.Context, e *Env) Result {
	s := e.service(ctx)
	present := s.present()
	if len(present) == 0 {
		if len(e.EnvFiles) > 0 {
			return fail("pass an existing file to --env-file", "%s does not exist", e.EnvFiles[0])
		}
		fix := "optional; to configure the service: sudo install -m 0600 -o root -g root /dev/null " + s.mainEnvFile() + ", then add VARIABLE=value lines"
		if len(s.files) == 0 {
			return warn(fix+", and name it in EnvironmentFile= (sudo systemctl edit stigmer)", "the unit names no EnvironmentFile=: the service runs with the defaults")
		}
		return warn(fix, "no env file (%s): the service runs with the defaults", joinPaths(s.files))
	}
	var results []Result
	for _, f := range present {
		results = append(results, e.envFileMode(f))
	}
	for _, r := range results {
		if r.Status != Pass {
			return r
		}
	}
	for _, f := range present {
		for _, suffix := range []string{".dpkg-dist", ".rpmnew"} {
			if _, err := os.Stat(f.path + suffix); err == nil {
				return warn(fmt.Sprintf("diff -u %s %s%s, take the new lines you want (sudoedit %s), then sudo rm %s%s", f.path, f.path, suffix, f.path, f.path, suffix),
					"%s%s exists: an upgrade's new default waits to be merged", f.path, suffix)
			}
		}
	}
	return results[0]
}

func (e *Env) envFileMode(f *envFile) Result {
	if f.statErr != nil {
		return e.cannotRead(f.path, f.statErr)
	}
	if !f.info.Mode().IsRegular() {
		return fail("sudo rm "+f.path+" and reinstall the package", "%s is not a regular file (%s)", f.path, f.info.Mode().Type())
	}
	mode := f.info.Mode().Perm()
	if mode&0o077 != 0 {
		return fail("sudo chmod 0600 "+f.path, "%s is mode %04o, want 0600: others can read it, and it may hold API keys", f.path, mode)
	}
	uid, gid, names := e.owner(f.info)
	if !e.isRoot(uid, gid) {
		return fail("sudo chown root:root "+f.path, "%s is owned by %s, want root:root", f.path, names)
	}
	return pass("%s: mode %04o, root:root", f.path, mode)
}

// isRoot reports whether uid and gid are root's (0, unless the lookups
// say otherwise, as tests' do).
func (e *Env) isRoot(uid, gid uint32) bool {
	wantUID, wantGID := "0", "0"
	if u, err := e.LookupUser("root"); err == nil {
		wantUID = u.Uid
	}
	if g, err := e.LookupGroup("root"); err == nil {
		wantGID = g.Gid
	}
	return strconv.Itoa(int(uid)) == wantUID && strconv.Itoa(int(gid)) == wantGID
}

func joinPaths(files []*envFile) string {
	var p []string
	for _, f := range files {
		p = append(p, f.path)
	}
	return strings.Join(p, ", ")
}

// checkConfig: the env files parse as systemd reads them, and the
// service's environment passes the server's own checks (config.Check).
func checkConfig(ctx context.Context, e *Env) Result {
	s := e.service(ctx)
	if f := s.unreadable(); f != nil {
		err := f.readErr
		if err == nil {
			err = f.statErr
		}
		return e.cannotRead(f.path, err)
	}
	if r, bad := badLines(s); bad {
		return r
	}
	c, err := config.Check(s.getenv)
	if err != nil {
		return fail(s.editFix("fix that variable"), "%v", err)
	}
	image := "native agent runner"
	if c.AgentImage != "" {
		image = "agent runner image " + c.AgentImage
	}
	llm := c.LLM.Provider
	if llm == "" {
		llm = "none"
	}
	where := "the unit's defaults"
	if p := s.present(); len(p) > 0 {
		where = joinPaths(p)
	}
	if st, err := e.unitState(ctx); err == nil && st.ActiveState == "active" {
		for _, f := range s.present() {
			if f.info.ModTime().After(st.ActiveEnter) {
				return warn("sudo systemctl restart stigmer", "%s changed after the service started (%s): the running server does not use it yet", f.path, e.ago(st.ActiveEnter))
			}
		}
	}
	return pass("valid (%s): listen %s, data %s, LLM %s, %s", where, c.Listen, c.DataDir, llm, image)
}

// badLines fails on the first line systemd would ignore, misread or
// refuse, listing the others as detail.
func badLines(s *service) (Result, bool) {
	var all []string
	var first *envfile.Problem
	var firstFile string
	for _, f := range s.files {
		for i := range f.problems {
			p := f.problems[i]
			all = append(all, f.path+": "+describe(p))
			if first == nil {
				first, firstFile = &p, f.path
			}
		}
	}
	if first == nil {
		return Result{}, false
	}
	r := fail(fmt.Sprintf("sudoedit %s: fix or delete line %d, then sudo systemctl restart stigmer", firstFile, first.Line),
		"%s:%d: %s", firstFile, first.Line, describe(*first))
	if len(all) > 1 {
		r.Detail = all[1:]
	}
	return r, true
}

// describe is a problem with the value of any secret on its line masked
// (config.IsSecret names them): the verdict may end up in a ticket.
func describe(p envfile.Problem) string {
	text := p.Text
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		if config.IsSecret(w) {
			i := strings.Index(text, w) + len(w)
			text = text[:i] + " " + config.Mask(strings.TrimLeft(text[i:], " \t="))
			break
		}
	}
	return fmt.Sprintf("%q %s", text, p.Why)
}

// checkUser: the service's user and group exist.
func checkUser(ctx context.Context, e *Env) Result {
	const fix = "sudo systemd-sysusers /usr/lib/sysusers.d/stigmer.conf (or reinstall the package)"
	u, err := e.LookupUser(serviceUser)
	if err != nil {
		return fail(fix, "no user %s: %v", serviceUser, err)
	}
	g, err := e.LookupGroup(serviceGroup)
	if err != nil {
		return fail(fix, "no group %s: %v", serviceGroup, err)
	}
	if u.Gid != g.Gid {
		return warn("sudo usermod -g "+serviceGroup+" "+serviceUser, "user %s's primary group is gid %s, not %s (gid %s)", serviceUser, u.Gid, serviceGroup, g.Gid)
	}
	if st, err := e.unitState(ctx); err == nil && st.User != "" && st.User != serviceUser {
		return warn("remove User= from your drop-in (systemctl cat stigmer shows it)", "the unit runs as %s, not %s: the directories' owner is %s", st.User, serviceUser, serviceUser)
	}
	return pass("user %s (uid %s), group %s (gid %s)", u.Username, u.Uid, g.Name, g.Gid)
}

// checkDataDir and checkLogDir: the directories as the unit's
// StateDirectory=/LogsDirectory= and tmpfiles.d make them.
func checkDataDir(ctx context.Context, e *Env) Result {
	return e.checkDir(ctx, "STIGMER_DATA_DIR", config.DefaultSystemDataDir, 0o750)
}

func checkLogDir(ctx context.Context, e *Env) Result {
	return e.checkDir(ctx, "STIGMER_LOG_DIR", config.DefaultSystemLogDir, 0o755)
}

func (e *Env) checkDir(ctx context.Context, variable, packaged string, want os.FileMode) Result {
	dir := e.service(ctx).get(variable, packaged)
	custom := filepath.Clean(dir) != packaged
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fix := "sudo systemd-tmpfiles --create /usr/lib/tmpfiles.d/stigmer.conf (a start of the unit makes it too)"
		if custom {
			fix = fmt.Sprintf("sudo install -d -m %04o -o %s -g %s %s", want, serviceUser, serviceGroup, dir)
		}
		return fail(fix, "%s (%s) is missing%s", dir, variable, e.assumption(ctx))
	case err != nil:
		return e.cannotRead(dir, err)
	case !fi.IsDir():
		return fail("point "+variable+" at a directory", "%s (%s) is not a directory", dir, variable)
	}
	if r, bad := e.writableBySandbox(ctx, dir, variable, custom); bad {
		return r
	}
	u, uerr := e.LookupUser(serviceUser)
	g, gerr := e.LookupGroup(serviceGroup)
	if uerr != nil || gerr != nil {
		return skip("%s is mode %04o, but its owner cannot be judged: no user or group %s (see the user check)", dir, fi.Mode().Perm(), serviceUser)
	}
	uid, gid, names := e.owner(fi)
	if strconv.Itoa(int(uid)) != u.Uid || strconv.Itoa(int(gid)) != g.Gid {
		return fail(fmt.Sprintf("sudo chown -R %s:%s %s", serviceUser, serviceGroup, dir),
			"%s is owned by %s, want %s:%s: the service cannot write there", dir, names, serviceUser, serviceGroup)
	}
	mode := fi.Mode().Perm()
	switch {
	case mode&0o700 != 0o700:
		return fail(fmt.Sprintf("sudo chmod %04o %s", want, dir), "%s is mode %04o: its owner %s cannot use it", dir, mode, serviceUser)
	case mode != want:
		return warn(fmt.Sprintf("sudo chmod %04o %s", want, dir), "%s is mode %04o, want %04o", dir, mode, want)
	}
	return pass("%s: mode %04o, %s%s", dir, mode, names, e.assumption(ctx))
}

// writableBySandbox: a directory other than the unit's own is read-only
// for the service (ProtectSystem=strict) unless ReadWritePaths= lists it.
func (e *Env) writableBySandbox(ctx context.Context, dir, variable string, custom bool) (Result, bool) {
	st, err := e.unitState(ctx)
	if !custom || err != nil || st.LoadState != "loaded" {
		return Result{}, false
	}
	for _, p := range st.ReadWritePaths {
		p = strings.TrimPrefix(p, "-")
		if rel, err := filepath.Rel(p, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return Result{}, false
		}
	}
	return fail(fmt.Sprintf("sudo systemctl edit stigmer: add [Service] ReadWritePaths=%s, then sudo systemctl restart stigmer", dir),
		"%s (%s) is not in the unit's ReadWritePaths=: ProtectSystem=strict makes it read-only for the service", dir, variable), true
}

// checkHistory: the history in the data directory is sound, and no
// damaged one was moved aside (history.db.broken-TIME) that nobody has
// looked at yet: the server started a new history then, and the old
// events are only in that file. It reads the file's pages without
// mapping or locking it, so it works while the server runs.
func checkHistory(ctx context.Context, e *Env) Result {
	dir := e.service(ctx).get("STIGMER_DATA_DIR", config.DefaultSystemDataDir)
	broken, err := history.BrokenFiles(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return skip("%s does not exist (see the data-dir check)", dir)
	case err != nil:
		return e.cannotRead(dir, err)
	}
	path := filepath.Join(dir, history.FileName)
	if err := history.Check(path); errors.Is(err, history.ErrDamaged) {
		return fail("sudo systemctl restart stigmer: the server moves it aside as "+history.BrokenPrefix+"TIME and starts a new history",
			"%s is damaged: %v", path, err)
	} else if err != nil {
		return e.cannotRead(path, err)
	}
	if len(broken) > 0 {
		r := fail("keep it while you need its events (stigmer events reads only the new history), then: sudo rm "+strings.Join(broken, " "),
			"%s was damaged and moved aside as %s; the server started a new history", path, broken[len(broken)-1])
		if len(broken) > 1 {
			r.Detail = append([]string{"earlier ones:"}, broken[:len(broken)-1]...)
		}
		return r
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return pass("no history yet in %s (the server starts one)", dir)
	} else if err != nil {
		return e.cannotRead(path, err)
	}
	return pass("%s: sound, %s", path, bytes(uint64(fi.Size())))
}

// Disk space thresholds for the data directory.
const (
	diskFail    = 100 << 20 // below: the server may fail to write at all
	diskWarn    = 1 << 30
	diskWarnPct = 5
)

// checkDisk: free space on the data directory's filesystem.
func checkDisk(ctx context.Context, e *Env) Result {
	dir := e.service(ctx).get("STIGMER_DATA_DIR", config.DefaultSystemDataDir)
	at := existingAncestor(dir)
	avail, total, err := e.DiskSpace(at)
	if err != nil {
		return e.cannotRead(at, err)
	}
	pct := 0
	if total > 0 {
		pct = int(avail * 100 / total)
	}
	figures := fmt.Sprintf("%s free of %s (%d%%) on the filesystem of %s", bytes(avail), bytes(total), pct, at)
	const fix = "free space there: sudo du -xsh /var/lib/stigmer /var/log/stigmer /var/log/journal; sudo journalctl --vacuum-size=200M"
	switch {
	case avail < diskFail:
		return fail(fix, "%s: below %s, the server may fail to write", figures, bytes(diskFail))
	case avail < diskWarn || pct < diskWarnPct:
		return warn(fix, "%s: below %s or %d%%", figures, bytes(diskWarn), diskWarnPct)
	}
	return pass("%s", figures)
}

func existingAncestor(p string) string {
	for {
		if _, err := os.Stat(p); err == nil || p == "/" || p == "." {
			return p
		}
		p = filepath.Dir(p)
	}
}

func bytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func diskSpace(path string) (avail, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// checkUserNS: PrivateUsers=yes needs user namespaces; a host that turned
// them off (user.max_user_namespaces=0, as some CIS profiles do) fails
// every start at step NAMESPACE, exit 226.
func checkUserNS(ctx context.Context, e *Env) Result {
	path := filepath.Join(e.Proc.Root, "sys", "user", "max_user_namespaces")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return skip("%s does not exist: this kernel does not say whether user namespaces are on", path)
	}
	if err != nil {
		return e.cannotRead(path, err)
	}
	max := strings.TrimSpace(string(b))
	privateUsers := true // the packaged unit's
	if st, err := e.unitState(ctx); err == nil && st.LoadState == "loaded" {
		privateUsers = st.PrivateUsers
	}
	switch {
	case max != "0":
		return pass("user namespaces are on (user.max_user_namespaces=%s), as PrivateUsers=yes needs", max)
	case !privateUsers:
		return pass("user namespaces are off, and the unit has PrivateUsers=no, which does without")
	}
	return fail("sudo systemctl edit stigmer: add [Service] PrivateUsers=no, then sudo systemctl restart stigmer (or sudo sysctl user.max_user_namespaces=1024)",
		"user namespaces are off (user.max_user_namespaces=0) and the unit has PrivateUsers=yes: every start fails at step NAMESPACE (exit 226)")
}
