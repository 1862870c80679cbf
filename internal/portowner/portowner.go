// Package portowner tells who listens on a TCP port, as `ss -ltnp` does:
// the listening sockets come from /proc/net/tcp and /proc/net/tcp6 (with
// the uid that opened each, which any user may read), the processes that
// hold them from the socket links in /proc/PID/fd (proc(5)), which only
// root may read for other users' processes. It only reads /proc.
package portowner

import (
	"bufio"
	"encoding/hex"
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

// tcpListen is the st column of a listening socket (TCP_LISTEN).
const tcpListen = "0A"

// Conflicting returns the listening sockets that keep a server from
// listening on addr: those on its port whose address is addr's or a
// wildcard, and every one on the port when addr is a wildcard.
func (p Proc) Conflicting(addr netip.AddrPort) ([]Listener, error) {
	var out []Listener
	for _, name := range []string{"tcp", "tcp6"} {
		ls, err := p.listeners(filepath.Join(p.Root, "net", name))
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if l.Addr.Port() == addr.Port() && overlaps(l.Addr.Addr(), addr.Addr()) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func overlaps(a, b netip.Addr) bool {
	a, b = a.Unmap(), b.Unmap()
	return a == b || a.IsUnspecified() || b.IsUnspecified()
}

// listeners parses one of /proc/net/tcp{,6}; a missing file (no IPv6) is
// no listener.
func (p Proc) listeners(path string) ([]Listener, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading listening sockets: %w", err)
	}
	defer f.Close()
	var out []Listener
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		addr, err := parseAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		uid, err1 := strconv.Atoi(fields[7])
		inode, err2 := strconv.ParseUint(fields[9], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("reading %s: bad uid or inode in %q", path, sc.Text())
		}
		out = append(out, Listener{Addr: addr, UID: uid, Inode: inode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
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
