package server

import (
	"fmt"
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/portowner"
)

// Root and the server's user read the history; another local user and a
// client the socket table does not show (another machine) are refused,
// told why and what to run. (portowner's tests read real and fake socket
// tables; here the table is a map.)
func TestHistoryAccess(t *testing.T) {
	server := netip.MustParseAddrPort("127.0.0.1:7234")
	client := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	uids := map[netip.AddrPort]int{client(40000): 0, client(40001): 998, client(40002): 1000}
	a := historyAccess{uid: 998, peerUID: func(peer, local netip.AddrPort) (int, error) {
		if uid, ok := uids[peer]; ok && local == server {
			return uid, nil
		}
		return 0, fmt.Errorf("%w: %s -> %s", portowner.ErrNoSuchConnection, peer, local)
	}}

	assert.NilError(t, a.check(client(40000), server)) // root
	assert.NilError(t, a.check(client(40001), server)) // the server's user
	assert.ErrorContains(t, a.check(client(40002), server),
		"uid 1000 may not read the history: like its file, it is only for root and uid 998")
	assert.ErrorContains(t, a.check(client(40002), server), "run `sudo stigmer events`")
	err := a.check(netip.MustParseAddrPort("192.0.2.7:40000"), server)
	assert.ErrorContains(t, err, "the user of 192.0.2.7:40000 cannot be told")
	assert.ErrorContains(t, err, "on the server's machine")
}
