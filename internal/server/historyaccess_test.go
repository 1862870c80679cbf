package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/portowner"
)

// Root and the server's user read the history; another local user and a
// client the socket table does not show (another machine) are refused,
// told why and what to run.
func TestHistoryAccess(t *testing.T) {
	root := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "net"), 0o755))
	// Clients of 127.0.0.1:7234 (0x1C42) from ports 0x9C40.. with uids 0, 998, 1000.
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for i, uid := range []string{"0", "998", "1000"} {
		table += "   0: 0100007F:9C4" + string(rune('0'+i)) + " 0100007F:1C42 01 00000000:00000000 00:00000000 00000000 " + uid + " 0 1 1 0 100 0 0 10 0\n"
	}
	assert.NilError(t, os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(table), 0o644))
	a := historyAccess{proc: portowner.Proc{Root: root}, uid: 998}
	server := netip.MustParseAddrPort("127.0.0.1:7234")
	client := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }

	assert.NilError(t, a.check(client(40000), server)) // root
	assert.NilError(t, a.check(client(40001), server)) // the server's user
	assert.ErrorContains(t, a.check(client(40002), server),
		"uid 1000 may not read the history: like its file, it is only for root and uid 998")
	assert.ErrorContains(t, a.check(client(40002), server), "run `sudo stigmer events`")
	err := a.check(netip.MustParseAddrPort("192.0.2.7:40000"), server)
	assert.ErrorContains(t, err, "the user of 192.0.2.7:40000 cannot be told")
	assert.ErrorContains(t, err, "on the server's machine")
}
