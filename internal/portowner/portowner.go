// Package portowner tells who owns a TCP socket: who listens on a port, as
// `ss -ltnp` does, and which user opened the other end of a local
// connection, as identd does. The sockets come from /proc/net/tcp and
// /proc/net/tcp6 (with the uid that opened each, which any user may read),
// the processes that hold them from the socket links in /proc/PID/fd
// (proc(5)), which only root may read for other users' processes. It only
// reads /proc.
package portowner

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a listening TCP socket.
type Listener struct {
	Addr  netip.AddrPort
	UID   int    // the user that opened it
	Inode uint64 // links in /proc/PID/fd read "socket:[Inode]"
}

// Process is a process that holds a listening socket.
type Process struct {
	PID     int
	Cmdline string // arguments joined by spaces; empty when unreadable
}

// Proc reads a proc filesystem mounted at Root ("/proc"; tests pass a tree
// of their own).
type Proc struct{ Root string }

// tcpListen and tcpEstablished are st column values (TCP_LISTEN,
// TCP_ESTABLISHED).
const (
	tcpListen      = "0A"
	tcpEstablished = "01"
)

// Conflicting returns the listening sockets that keep a server from
// listening on addr: those on its port whose address is addr's or a
// wildcard, and every one on the port when addr is a wildcard.
func (p Proc) Conflicting(addr netip.AddrPort) ([]Listener, error) {
	var out []Listener
	err := p.eachSocket(func(s socket) {
		if s.state == tcpListen && s.local.Port() == addr.Port() && overlaps(s.local.Addr(), addr.Addr()) {
			out = append(out, Listener{Addr: s.local, UID: s.uid, Inode: s.inode})
		}
	})
	return out, err
}

// ErrNoSuchConnection is PeerUID's error when no socket of this network
// namespace is the other end: the peer is on another machine or in another
// network namespace, or the connection is gone.
var ErrNoSuchConnection = errors.New("no local socket is the other end of this connection")

// PeerUID returns the uid that opened the other end of the established
// connection from peer to local, local being this end's address: a
// loopback client's user. The kernel shows the uid as seen from the user
// namespace of the process that reads /proc (in one made by systemd's
// PrivateUsers=, an unmapped user is the overflow uid 65534).
func (p Proc) PeerUID(peer, local netip.AddrPort) (int, error) {
	uid := -1
	err := p.eachSocket(func(s socket) {
		if s.state == tcpEstablished && sameEnd(s.local, peer) && sameEnd(s.remote, local) {
			uid = s.uid
		}
	})
	if err != nil {
		return 0, err
	}
	if uid < 0 {
		return 0, fmt.Errorf("%w: %s -> %s", ErrNoSuchConnection, peer, local)
	}
	return uid, nil
}

// sameEnd compares addresses as the kernel lists them: an IPv4 peer of an
// IPv6 socket appears as ::ffff:a.b.c.d.
func sameEnd(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

func overlaps(a, b netip.Addr) bool {
	a, b = a.Unmap(), b.Unmap()
	return a == b || a.IsUnspecified() || b.IsUnspecified()
}

// socket is a line of /proc/net/tcp{,6}.
type socket struct {
	local, remote netip.AddrPort
	state         string
	uid           int
	inode         uint64
}

// eachSocket calls f with every TCP socket of this network namespace; a
// missing file (no IPv6) has none.
func (p Proc) eachSocket(f func(socket)) error {
	for _, name := range []string{"tcp", "tcp6"} {
		if err := p.readSockets(filepath.Join(p.Root, "net", name), f); err != nil {
			return err
		}
	}
	return nil
}

func (p Proc) readSockets(path string, f func(socket)) error {
	file, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading TCP sockets: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		local, err1 := parseAddr(fields[1])
		remote, err2 := parseAddr(fields[2])
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		uid, err1 := strconv.Atoi(fields[7])
		inode, err2 := strconv.ParseUint(fields[9], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("reading %s: bad uid or inode in %q", path, sc.Text())
		}
		f(socket{local: local, remote: remote, state: fields[3], uid: uid, inode: inode})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// parseAddr decodes "0100007F:1C42": the address as 32-bit words in host
// order (little-endian on every platform stigmer ships for), the port big-endian.
func parseAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexAddr)
	port, err2 := strconv.ParseUint(hexPort, 16, 16)
	if !ok || err != nil || err2 != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad socket address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Holders returns the processes that hold a socket with inode, and how
// many processes' fds it could not read (other users' processes, for
// anyone but root): when hidden > 0 the list may be incomplete.
func (p Proc) Holders(inode uint64) (procs []Process, hidden int, err error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, 0, fmt.Errorf("listing processes: %w", err)
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(p.Root, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if !os.IsNotExist(err) { // a process that ended meanwhile is no secret
				hidden++
			}
			continue
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && target == want {
				procs = append(procs, Process{PID: pid, Cmdline: p.cmdline(pid)})
				break
			}
		}
	}
	return procs, hidden, nil
}

func (p Proc) cmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
