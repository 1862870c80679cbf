package server

import (
	"fmt"
	"net/netip"
	"os"
	"os/user"
	"strconv"

	"github.com/stigmer/stigmer/internal/portowner"
)

// historyAccess decides who may read the history through the API: root
// and the server's own user, on this machine, as the file's mode 0600
// lets them; the history quotes the server's log lines. Who asks is read
// from the kernel's socket table, as identd does: the API has no login.
type historyAccess struct {
	// peerUID is portowner.Proc.PeerUID on /proc; tests stand in for it.
	peerUID func(peer, local netip.AddrPort) (int, error)
	uid     int // the server's effective uid
}

func newHistoryAccess() historyAccess {
	return historyAccess{peerUID: portowner.Proc{Root: "/proc"}.PeerUID, uid: os.Geteuid()}
}

// check returns nil when the client at peer (connected to local) may read
// the history, else the refusal the client is told.
func (a historyAccess) check(peer, local netip.AddrPort) error {
	uid, err := a.peerUID(peer, local)
	switch {
	case err != nil:
		return fmt.Errorf("the history is only for %s on this machine; the user of %s cannot be told (%v): run `sudo stigmer events` on the server's machine", a.readers(), peer, err)
	case uid == 0 || uid == a.uid:
		return nil
	}
	return fmt.Errorf("uid %d may not read the history: like its file, it is only for %s; run `sudo stigmer events`", uid, a.readers())
}

// readers names who may read: "root and uid 998 (stigmer), the server's user".
func (a historyAccess) readers() string {
	if a.uid == 0 {
		return "root, the server's user"
	}
	s := "uid " + strconv.Itoa(a.uid)
	if u, err := user.LookupId(strconv.Itoa(a.uid)); err == nil {
		s += " (" + u.Username + ")"
	}
	return "root and " + s + ", the server's user"
}

// MayReadHistory implements api.Backend.
func (s *server) MayReadHistory(peer, local netip.AddrPort) error {
	return s.access.check(peer, local)
}
