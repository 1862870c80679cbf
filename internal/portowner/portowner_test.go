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

// tcpHeader is the first line of /proc/net/tcp{,6}.
const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

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
	write("net/tcp", tcpHeader+
		"   0: 0100007F:1C42 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 4242 1 0000000000000000 100 0 0 10 0\n"+
		"   1: 0100007F:1C42 0100007F:D431 01 00000000:00000000 00:00000000 00000000   998        0 4343 1 0000000000000000 100 0 0 10 0\n")
	// [::]:7234, listening, uid 0
	write("net/tcp6", tcpHeader+
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

// A real connection of this test process: its client end is found by the
// server's view of it (peer, local), with this process's uid.
func TestRealPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	assert.NilError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	assert.NilError(t, err)
	defer s.Close()

	p := Proc{Root: "/proc"}
	peer := netip.MustParseAddrPort(s.RemoteAddr().String())
	local := netip.MustParseAddrPort(s.LocalAddr().String())
	uid, err := p.PeerUID(peer, local)
	assert.NilError(t, err)
	assert.Equal(t, uid, os.Getuid())

	c.Close()
	s.Close()
	_, err = p.PeerUID(netip.MustParseAddrPort("127.0.0.1:1"), local)
	assert.ErrorIs(t, err, ErrNoSuchConnection)
}

// The client's end, not the server's accepted one, names the peer; an IPv4
// client of an IPv6 listener is matched through ::ffff:.
func TestFakePeer(t *testing.T) {
	root := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(root, "net"), 0o755))
	row := func(local, remote, st, uid string) string {
		return "   0: " + local + " " + remote + " " + st + " 00000000:00000000 00:00000000 00000000 " + uid + " 0 1 1 0000000000000000 100 0 0 10 0\n"
	}
	assert.NilError(t, os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(tcpHeader+
		row("0100007F:1C42", "0100007F:D431", "01", "998")+ // the server's accepted end
		row("0100007F:D431", "0100007F:1C42", "01", "1000")+ // the client: 127.0.0.1:54321
		row("0100007F:9C40", "0100007F:1C43", "01", "65534")+ // a client of the IPv6 listener
		row("0100007F:9C41", "0100007F:1C42", "06", "0")), 0o644)) // TIME_WAIT: closed, no one's
	assert.NilError(t, os.WriteFile(filepath.Join(root, "net", "tcp6"), []byte(tcpHeader+
		row("0000000000000000FFFF00000100007F:1C43", "0000000000000000FFFF00000100007F:9C40", "01", "998")), 0o644))

	p := Proc{Root: root}
	for _, tc := range []struct {
		peer, local string
		uid         int
	}{
		{"127.0.0.1:54321", "127.0.0.1:7234", 1000},
		{"127.0.0.1:40000", "[::ffff:127.0.0.1]:7235", 65534},
		{"[::ffff:127.0.0.1]:40000", "[::ffff:127.0.0.1]:7235", 65534},
	} {
		uid, err := p.PeerUID(netip.MustParseAddrPort(tc.peer), netip.MustParseAddrPort(tc.local))
		assert.NilError(t, err, tc.peer)
		assert.Equal(t, uid, tc.uid, tc.peer)
	}
	_, err := p.PeerUID(netip.MustParseAddrPort("127.0.0.1:40001"), netip.MustParseAddrPort("127.0.0.1:7234"))
	assert.ErrorIs(t, err, ErrNoSuchConnection)
	assert.ErrorContains(t, err, "127.0.0.1:40001 -> 127.0.0.1:7234")
}
