package notify

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Store hands a duplicate of f to systemd's file-descriptor store for this
// service under name (FDSTORE=1, FDNAME=, see sd_pid_notify_with_fds(3)).
// systemd keeps it while the service restarts after a failure and passes
// it back to the next start; it closes it when the service is stopped. It
// is a no-op returning false without NOTIFY_SOCKET, as outside systemd.
// systemd drops the descriptor (with a warning in its own log) when the
// unit has no FileDescriptorStoreMax=; the send still succeeds then.
func Store(name string, f *os.File) (bool, error) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return false, nil
	}
	if strings.ContainsAny(name, ":\n=") || name == "" {
		return false, fmt.Errorf("fd store name %q: must be non-empty, without ':', '=' or newline", name)
	}
	// A plain datagram socket: the net package will not send to an
	// address from an unbound unixgram socket. A leading '@' is an
	// abstract address, which syscall maps.
	sfd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("opening a socket for NOTIFY_SOCKET %s: %w", sock, err)
	}
	defer syscall.Close(sfd)
	msg := []byte("FDSTORE=1\nFDNAME=" + name)
	// Not f.Fd(): it would put the file description, which the live
	// listener shares, in blocking mode.
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	if cerr := rc.Control(func(fd uintptr) {
		err = syscall.Sendmsg(sfd, msg, syscall.UnixRights(int(fd)), &syscall.SockaddrUnix{Name: sock}, 0)
	}); cerr != nil {
		return false, cerr
	}
	if err != nil {
		return false, fmt.Errorf("sending FDSTORE=1 to NOTIFY_SOCKET %s: %w", sock, err)
	}
	return true, nil
}
