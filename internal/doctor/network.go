package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/portowner"
)

// listen is the service's STIGMER_LISTEN, split; port 0 means the server
// picks one at each start.
type listen struct {
	raw  string
	host string
	port uint16
}

func (e *Env) listen(ctx context.Context) (listen, error) {
	raw := e.service(ctx).get("STIGMER_LISTEN", config.DefaultListen)
	host, p, err := net.SplitHostPort(raw)
	if err != nil {
		return listen{}, fmt.Errorf("STIGMER_LISTEN=%q is not host:port (see the config check)", raw)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return listen{}, fmt.Errorf("STIGMER_LISTEN=%q has no port number (see the config check)", raw)
	}
	return listen{raw: raw, host: host, port: uint16(port)}, nil
}

// addrs are the addresses a server on l binds: localhost is both
// loopbacks, an empty host every address.
func (l listen) addrs() []netip.AddrPort {
	switch {
	case strings.EqualFold(l.host, "localhost"):
		return []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), l.port), netip.AddrPortFrom(netip.IPv6Loopback(), l.port)}
	case l.host == "":
		return []netip.AddrPort{netip.AddrPortFrom(netip.IPv6Unspecified(), l.port)}
	}
	a, err := netip.ParseAddr(l.host)
	if err != nil {
		return nil
	}
	return []netip.AddrPort{netip.AddrPortFrom(a, l.port)}
}

// dialHost is where a client on this machine reaches l: a wildcard is
// reached on loopback.
func (l listen) dialAddr() string {
	host := l.host
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, strconv.Itoa(int(l.port)))
}

// checkPort: the listen address is free, or held by stigmer (the service,
// systemd's fd store keeping its socket, or a dev server when there is no
// unit); another owner is named when this user may see it.
func checkPort(ctx context.Context, e *Env) Result {
	l, err := e.listen(ctx)
	if err != nil {
		return skip("%v", err)
	}
	if l.port == 0 {
		return skip("STIGMER_LISTEN=%s: the server picks a free port at each start", l.raw)
	}
	var held []portowner.Listener
	for _, a := range l.addrs() {
		ls, err := e.Proc.Conflicting(a)
		if err != nil {
			return e.cannotRead(filepath.Join(e.Proc.Root, "net", "tcp"), err)
		}
		held = append(held, ls...)
	}
	if len(held) == 0 {
		return pass("%s is free: nothing listens there%s", l.raw, e.assumption(ctx))
	}
	stigmerUID := -1
	if u, err := e.LookupUser(serviceUser); err == nil {
		stigmerUID, _ = strconv.Atoi(u.Uid)
	}
	var mine, foreign []string
	hiddenAny := false
	for _, h := range held {
		ok, who, hidden := e.holder(ctx, h, stigmerUID)
		hiddenAny = hiddenAny || hidden
		if ok {
			mine = append(mine, who)
		} else {
			foreign = append(foreign, who)
		}
	}
	if len(foreign) == 0 {
		return pass("%s is held by %s", l.raw, strings.Join(slices.Compact(mine), "; "))
	}
	r := fail(fmt.Sprintf("stop that process, or set STIGMER_LISTEN to a free address in %s and sudo systemctl restart stigmer", e.service(ctx).mainEnvFile()),
		"%s is taken by %s: the service cannot listen there%s", l.raw, strings.Join(foreign, "; "), e.assumption(ctx))
	if hiddenAny && e.UID != 0 {
		r.Verdict += fmt.Sprintf(" (uid %d cannot see other users' processes; sudo stigmer doctor names them)", e.UID)
	}
	return r
}

// holder tells whether a listener is stigmer's, and describes its owner.
func (e *Env) holder(ctx context.Context, l portowner.Listener, stigmerUID int) (ok bool, who string, hidden bool) {
	procs, n, err := e.Proc.Holders(l.Inode)
	hidden = err != nil || n > 0
	st, _ := e.unitState(ctx)
	unitLoaded := st != nil && st.LoadState == "loaded"
	for _, p := range procs {
		if unitLoaded && st.MainPID != 0 && uint32(p.PID) == st.MainPID {
			return true, fmt.Sprintf("stigmer.service (main PID %d)", p.PID), hidden
		}
	}
	var names []string
	for _, p := range procs {
		switch {
		case p.PID == 1 && l.UID == stigmerUID:
			return true, "systemd, which keeps the service's socket across restarts (fd store)", hidden
		case isStigmerServer(p.Cmdline) && !unitLoaded:
			return true, fmt.Sprintf("a stigmer dev server (pid %d, uid %d)", p.PID, l.UID), hidden
		}
		cmd := p.Cmdline
		if len(cmd) > 100 {
			cmd = cmd[:100] + "…"
		}
		names = append(names, fmt.Sprintf("pid %d `%s`", p.PID, cmd))
	}
	if len(procs) == 0 && l.UID == stigmerUID {
		return true, "a process of the stigmer user", hidden
	}
	owner := strconv.Itoa(l.UID)
	if u, err := e.LookupUserID(owner); err == nil {
		owner = u.Username
	}
	if len(names) == 0 {
		return false, fmt.Sprintf("a socket of user %s (%s)", owner, l.Addr), hidden
	}
	return false, fmt.Sprintf("%s of user %s (%s)", strings.Join(names, ", "), owner, l.Addr), hidden
}

func isStigmerServer(cmdline string) bool {
	f := strings.Fields(cmdline)
	return len(f) >= 2 && filepath.Base(f[0]) == "stigmer" &&
		(f[1] == "internal-server" || slices.Equal(f[1:min(len(f), 4)], []string{"server", "start", "--foreground"}))
}

// checkAPI: /readyz answers 200 and /api/v1/status reports this
// command's version.
func checkAPI(ctx context.Context, e *Env) Result {
	l, err := e.listen(ctx)
	if err != nil {
		return skip("%v", err)
	}
	if l.port == 0 {
		return skip("STIGMER_LISTEN=%s: the port changes at each start; try stigmer server status", l.raw)
	}
	base := "http://" + l.dialAddr()
	client := &api.Client{BaseURL: base, HTTP: e.HTTP}
	rd, err := client.Ready(ctx)
	if err != nil {
		fix := "sudo systemctl start stigmer"
		if st, uerr := e.unitState(ctx); uerr == nil && st.ActiveState == "active" {
			fix = journalFix
		} else if uerr != nil {
			fix = "start the server (stigmer server start, without systemd)"
		}
		return fail(fix, "no answer from %s%s: %v%s", base, api.PathReady, shortErr(err), e.assumption(ctx))
	}
	if !rd.Ready {
		return fail("stigmer server status (which runner is down); "+journalFix, "%s answers but is not ready: %s", base, rd.Reason)
	}
	st, err := client.Status(ctx)
	if err != nil {
		return fail(journalFix, "%s is ready but %s fails: %v", base, api.PathStatus, shortErr(err))
	}
	if st.Version != e.Version {
		fix := "sudo systemctl restart stigmer (to run the installed binary)"
		if self, err := e.Executable(); err == nil && self != e.unitBinary(ctx) {
			fix = "run " + e.unitBinary(ctx) + " doctor, the installed version"
		}
		return fail(fix, "the server at %s runs stigmer %s, this command is %s", base, st.Version, e.Version)
	}
	return pass("ready at %s, stigmer %s like this command", base, st.Version)
}

// shortErr drops the "Get \"http://...\": " prefix net/http puts before
// the cause.
func shortErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.HasPrefix(err.Error(), "Get ") {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// checkFirewall: the guide says to check the firewall; the API listens on
// loopback by default, where no firewall is involved. Beyond loopback
// (STIGMER_ALLOW_NON_LOOPBACK=1) doctor cannot read the rules, and the API
// has no authentication: a warning.
func checkFirewall(ctx context.Context, e *Env) Result {
	l, err := e.listen(ctx)
	if err != nil {
		return skip("%v", err)
	}
	if config.IsLoopback(l.host) {
		return pass("the API listens on loopback only (%s): no firewall rule is involved%s", l.raw, e.assumption(ctx))
	}
	return warn(fmt.Sprintf("let only your clients reach port %d: sudo ufw status, or sudo firewall-cmd --list-all", l.port),
		"the API listens on %s beyond this machine and has no authentication; doctor cannot read firewall rules", l.raw)
}

// checkDocker: with STIGMER_AGENT_RUNNER_IMAGE set, the container CLI is
// on the service's PATH, the docker socket exists, and the service may
// open it (its mode, or a group in the unit's SupplementaryGroups=).
func checkDocker(ctx context.Context, e *Env) Result {
	s := e.service(ctx)
	image := strings.TrimSpace(s.get("STIGMER_AGENT_RUNNER_IMAGE", ""))
	if image == "" {
		if f := s.unreadable(); f != nil {
			return e.cannotRead(f.path, errors.Join(f.readErr, f.statErr))
		}
		return pass("not used: STIGMER_AGENT_RUNNER_IMAGE is empty, the agent runner runs natively")
	}
	cli := s.get("STIGMER_CONTAINER_CLI", config.DefaultContainerCLI)
	path, err := lookPathIn(cli, s.get("PATH", ""))
	if err != nil {
		return fail("install docker (sudo apt install docker.io, or docker-ce), or set STIGMER_CONTAINER_CLI in "+s.mainEnvFile(),
			"STIGMER_AGENT_RUNNER_IMAGE=%s needs %s, which is not on the service's PATH: %v", image, cli, err)
	}
	sock := "/var/run/docker.sock"
	if h := s.get("DOCKER_HOST", ""); strings.HasPrefix(h, "unix://") {
		sock = strings.TrimPrefix(h, "unix://")
	}
	fi, err := os.Stat(sock)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("sudo systemctl enable --now docker", "no docker socket at %s: the docker daemon is not running", sock)
	case err != nil:
		return e.cannotRead(sock, err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fail("sudo systemctl restart docker", "%s is not a socket", sock)
	}
	_, gid, names := e.owner(fi)
	mode := fi.Mode().Perm()
	if mode&0o006 == 0o006 {
		return pass("%s (%s), socket %s open to all (%s %04o)", cli, path, sock, names, mode)
	}
	group := strconv.Itoa(int(gid))
	if g, err := e.LookupGroupID(group); err == nil {
		group = g.Name
	}
	st, err := e.unitState(ctx)
	if err != nil || st.LoadState != "loaded" {
		return skip("%s is %s %04o, but the unit's SupplementaryGroups= cannot be read (%v); it must include %s", sock, names, mode, err, group)
	}
	if mode&0o060 == 0o060 && (group == serviceGroup || slices.Contains(st.SupplementaryGroups, group)) {
		return pass("%s (%s), socket %s (%s %04o) open to the service's group %s", cli, path, sock, names, mode, group)
	}
	return fail(fmt.Sprintf("sudo systemctl edit stigmer: add [Service] SupplementaryGroups=%s, then sudo systemctl restart stigmer", group),
		"the service cannot open %s (%s %04o): the unit's SupplementaryGroups= (%s) lacks %s", sock, names, mode, strings.Join(st.SupplementaryGroups, " "), group)
}

// lookPathIn is exec.LookPath with the service's PATH instead of ours.
func lookPathIn(file, path string) (string, error) {
	if strings.Contains(file, "/") {
		if isExecutable(file) {
			return file, nil
		}
		return "", fmt.Errorf("%s is not an executable file", file)
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", path)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
