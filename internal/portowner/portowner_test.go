package portowner

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// A real listener of this test process is found, with its uid and holder.
func TestRealListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())
	p := Proc{Root: "/proc"}
	ls, err := p.Conflicting(addr)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(ls, 1))
	assert.Equal(t, ls[0].Addr, addr)
	assert.Equal(t, ls[0].UID, os.Getuid())
	procs, _, err := p.Holders(ls[0].Inode)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(procs, 1))
	assert.Equal(t, procs[0].PID, os.Getpid())

	// The wildcard address conflicts with it; another loopback address does not.
	ls, err = p.Conflicting(netip.AddrPortFrom(netip.IPv4Unspecified(), addr.Port()))
	assert.NilError(t, err)
	assert.Assert(t, is.Len(ls, 1))
	ls, err = p.Conflicting(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), addr.Port()))
	assert.NilError(t, err)
	assert.Assert(t, is.Len(ls, 0))
}

// A /proc tree of our own: IPv4 and IPv6 rows, a socket that is not
// listening, and a process whose fds cannot be read.
func TestFakeProc(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	write("net/tcp", header+
		"   0: 0100007F:1C42 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 4242 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 0100007F:1C42 0100007F:D431 01 00000000:00000000 00:00000000 00000000   998        0 4343 1 0000000000000000 100 0 0 10 0\n")
	// [::]:7234, listening, uid 0
	write("net/tcp6", header+
		"   0: 00000000000000000000000000000000:1C42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0\n")
	write("4711/cmdline", "/usr/bin/stigmer\x00internal-server\x00")
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "4711", "fd"), 0o755))
	assert.NilError(t, os.Symlink("socket:[4242]", filepath.Join(root, "4711", "fd", "3")))
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "4712"), 0o755)) // no fd dir: gone meanwhile

	p := Proc{Root: root}
	ls, err := p.Conflicting(netip.MustParseAddrPort("127.0.0.1:7234"))
	assert.NilError(t, err)
	var got []string
	for _, l := range ls {
		got = append(got, fmt.Sprintf("%s uid %d inode %d", l.Addr, l.UID, l.Inode))
	}
	assert.DeepEqual(t, got, []string{"127.0.0.1:7234 uid 998 inode 4242", "[::]:7234 uid 0 inode 5151"})
	procs, hidden, err := p.Holders(4242)
	assert.NilError(t, err)
	assert.Equal(t, hidden, 0)
	assert.DeepEqual(t, procs, []Process{{PID: 4711, Cmdline: "/usr/bin/stigmer internal-server"}})
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1C42":                         "127.0.0.1:7234",
		"00000000:0050":                         "0.0.0.0:80",
		"00000000000000000000000001000000:1C42": "[::1]:7234",
		"0000000000000000FFFF00000100007F:1C42": "[::ffff:127.0.0.1]:7234",
	} {
		got, err := parseAddr(in)
		assert.NilError(t, err, in)
		assert.Equal(t, got.String(), want, in)
	}
	_, err := parseAddr("zz:1")
	assert.ErrorContains(t, err, "bad socket address")
}
