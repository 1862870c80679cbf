package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// listenPIDWrapper runs the server with LISTEN_PID set to its own PID, as
// systemd does: the test cannot know the PID before the exec.
var listenPIDWrapper = []string{"sh", "-c", `LISTEN_PID=$$ exec "$@"`, "sh"}

// recvFDStore waits for the FDSTORE=1 message on the stand-in notify
// socket and returns it with the descriptor it carries.
func recvFDStore(t *testing.T, conn *net.UnixConn, s *serverProc) (string, *os.File) {
	t.Helper()
	buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(4*4))
	deadline := time.Now().Add(20 * time.Second)
	for {
		assert.NilError(t, conn.SetReadDeadline(deadline))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		assert.NilError(t, err, "no FDSTORE=1 message; server log:\n%s", s.log())
		msg := string(buf[:n])
		if !strings.Contains(msg, "FDSTORE=1") {
			assert.Equal(t, oobn, 0, "a descriptor came with %q", msg)
			continue
		}
		scms, err := syscall.ParseSocketControlMessage(oob[:oobn])
		assert.NilError(t, err)
		assert.Assert(t, is.Len(scms, 1))
		fds, err := syscall.ParseUnixRights(&scms[0])
		assert.NilError(t, err)
		assert.Assert(t, is.Len(fds, 1), "FDSTORE=1 must carry one descriptor")
		return msg, os.NewFile(uintptr(fds[0]), "stored")
	}
}

func notifySocket(t *testing.T) (string, *net.UnixConn) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	t.Cleanup(func() { conn.Close() })
	return sock, conn
}

func TestServerHandsItsListenerToTheFDStore(t *testing.T) {
	sock, conn := notifySocket(t)
	s := startServer(t, testEnv(t, "NOTIFY_SOCKET="+sock))
	msg, f := recvFDStore(t, conn, s)
	defer f.Close()
	assert.Equal(t, msg, "FDSTORE=1\nFDNAME=api")

	listening, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	assert.NilError(t, err)
	assert.Equal(t, listening, 1, "the stored socket is not listening")
	ln, err := net.FileListener(f)
	assert.NilError(t, err)
	defer ln.Close()
	assert.Equal(t, ln.Addr().String(), s.addr)

	// What systemd gets it for: after a kill -9 the address still takes
	// connections, which wait for the next server instead of being refused.
	s.waitReady(t)
	s.kill(t)
	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	assert.NilError(t, err, "connection refused after the kill, though the stored socket is open")
	c.Close()
}

// storedListener makes a listening socket as systemd's fd store would
// pass it back, and the server's environment for it.
func storedListener(t *testing.T, listen string) (*os.File, string, []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	f, err := ln.(*net.TCPListener).File()
	assert.NilError(t, err)
	ln.Close() // f keeps the socket open and listening
	t.Cleanup(func() { f.Close() })
	addr := ln.Addr().String()
	if listen == "" {
		listen = addr
	}
	env := testEnv(t, "LISTEN_FDS=1", "LISTEN_FDNAMES=api")
	env = append(env, "STIGMER_LISTEN="+listen) // the later one wins
	return f, addr, env
}

func TestServerServesOnTheStoredListener(t *testing.T) {
	f, addr, env := storedListener(t, "")
	sock, conn := notifySocket(t)
	env = append(env, "NOTIFY_SOCKET="+sock)

	// A connection made while no server runs waits in the backlog.
	early, err := net.DialTimeout("tcp", addr, 5*time.Second)
	assert.NilError(t, err)
	defer early.Close()
	_, err = fmt.Fprintf(early, "GET /healthz HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	assert.NilError(t, err)

	s := startServerWithFiles(t, env, []*os.File{f}, listenPIDWrapper...)
	assert.Equal(t, s.addr, addr)
	assert.NilError(t, early.SetReadDeadline(time.Now().Add(30*time.Second)))
	line, err := bufio.NewReader(early).ReadString('\n')
	assert.NilError(t, err, "the connection made before the start got no answer; log:\n%s", s.log())
	assert.Assert(t, is.Contains(line, "200"), "before the start: %q", line)
	s.waitReady(t)
	assert.Assert(t, is.Contains(s.log(), "listening socket systemd kept"))

	// The server does not store the socket it was given a second time.
	assert.NilError(t, conn.SetReadDeadline(time.Now().Add(time.Second)))
	buf, oob := make([]byte, 4096), make([]byte, 64)
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			break
		}
		assert.Assert(t, oobn == 0 && !strings.Contains(string(buf[:n]), "FDSTORE"), "stored again: %q", buf[:n])
	}

	// The runners inherit neither the socket nor LISTEN_*.
	var st syscall.Stat_t
	assert.NilError(t, syscall.Fstat(int(f.Fd()), &st))
	sockLink := fmt.Sprintf("socket:[%d]", st.Ino)
	s.waitRunner(t, "workflow-runner", 0)
	s.waitRunner(t, "agent-runner", 0)
	for _, c := range s.status(t).Components[1:] {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", c.PID))
		assert.NilError(t, err)
		for _, kv := range strings.Split(string(environ), "\x00") {
			assert.Assert(t, !strings.HasPrefix(kv, "LISTEN_"), "%s has %s", c.Name, kv)
		}
		dir := fmt.Sprintf("/proc/%d/fd", c.PID)
		ents, err := os.ReadDir(dir)
		assert.NilError(t, err)
		for _, e := range ents {
			link, _ := os.Readlink(filepath.Join(dir, e.Name()))
			assert.Assert(t, link != sockLink, "%s holds the API's listening socket as fd %s", c.Name, e.Name())
		}
	}
}

func TestStoredListenerAtAnotherAddressIsAConfigError(t *testing.T) {
	f, addr, env := storedListener(t, "127.0.0.1:1")
	cmd := exec.Command("sh", append(listenPIDWrapper[1:], stigmerBin, "internal-server")...)
	cmd.Env, cmd.ExtraFiles = env, []*os.File{f}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	assert.Assert(t, errors.As(err, &ee), "output:\n%s", out)
	assert.Equal(t, ee.ExitCode(), 78, "output:\n%s", out)
	assert.Assert(t, is.Contains(string(out), `STIGMER_LISTEN="127.0.0.1:1" differs from `+addr))
	assert.Assert(t, is.Contains(string(out), "run `systemctl start stigmer` to listen on the new address"))
}
