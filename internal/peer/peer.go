package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"

	"github.com/stigmer/stigmer/internal/portowner"
)

// ServiceUser is the packaged service's user.
const ServiceUser = "stigmer"

// Trust is the set of users a command believes: each uid with its name.
type Trust map[int]string

// Trusted is what a stigmer command trusts: root, the service's user
// (when this machine has it) and the user running the command (its own
// dev server).
func Trusted() Trust {
	t := Trust{0: "root"}
	if u, err := user.Lookup(ServiceUser); err == nil {
		if uid, err := strconv.Atoi(u.Uid); err == nil {
			t[uid] = ServiceUser
		}
	}
	self := os.Getuid()
	if _, ok := t[self]; !ok {
		t[self] = name(self)
	}
	return t
}

// who is "root, stigmer or you (alice)".
func (t Trust) who() string {
	var uids []int
	for uid := range t {
		uids = append(uids, uid)
	}
	sort.Ints(uids)
	var names []string
	for _, uid := range uids {
		switch {
		case uid == os.Getuid() && uid != 0 && t[uid] != ServiceUser:
			names = append(names, "you ("+t[uid]+")")
		default:
			names = append(names, t[uid])
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// name is a uid as people read it: "uid 65534 (nobody)".
func name(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}

// Owner names a uid: "uid 65534 (nobody)".
func Owner(uid int) string {
	if n := name(uid); !strings.HasPrefix(n, "uid ") {
		return fmt.Sprintf("uid %d (%s)", uid, n)
	}
	return "uid " + strconv.Itoa(uid)
}

// ErrUntrusted is a server run by a user the command does not trust.
var ErrUntrusted = errors.New("not served by stigmer")

// check says whether uid serves what; the error names the owner.
func (t Trust) check(uid int, what string) error {
	if _, ok := t[uid]; ok {
		return nil
	}
	return fmt.Errorf("%w: %s belongs to %s, not to %s, so it is not the stigmer server; refusing to talk to it (something else may have taken it while the service was stopped)",
		ErrUntrusted, what, Owner(uid), t.who())
}

// DialUnix returns a dialer of the Unix socket at path (whatever address
// it is asked for) that refuses a socket served by a user t does not
// trust.
func (t Trust) DialUnix(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, err
		}
		uid, err := UnixUID(c.(*net.UnixConn))
		if err == nil {
			err = t.check(uid, "the socket "+path)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

// DialTCP returns a TCP dialer that refuses a server on this machine whose
// listening socket belongs to a user t does not trust. A server it cannot
// find in this machine's socket table is on another host, and is taken
// on trust.
func (t Trust) DialTCP(proc portowner.Proc) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		uid, err := TCPOwner(c, proc)
		switch {
		case errors.Is(err, portowner.ErrNoSuchConnection):
			return c, nil
		case err == nil:
			err = t.check(uid, "the listening socket at "+addr)
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

// TCPOwner is the uid that owns the server end of c, a TCP connection
// this process made: the listener's owner. portowner.ErrNoSuchConnection
// means the server is not on this machine (or not in its network
// namespace).
func TCPOwner(c net.Conn, proc portowner.Proc) (int, error) {
	local, err1 := netip.ParseAddrPort(c.LocalAddr().String())
	remote, err2 := netip.ParseAddrPort(c.RemoteAddr().String())
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return proc.PeerUID(remote, local)
}
