package control

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// calls answers as the server's registry would: token "t" is known, the
// runner "gone" is not; a heartbeat waits for release when it is set.
type calls struct {
	mu      sync.Mutex
	seen    []string
	release chan struct{}
}

func (c *calls) note(op, name, token string) error {
	c.mu.Lock()
	c.seen = append(c.seen, op+" "+name)
	release := c.release
	c.mu.Unlock()
	if op == OpHeartbeat && release != nil {
		<-release
	}
	switch {
	case name == "gone":
		return fmt.Errorf("%w: no such runner %q", ErrRejected, name)
	case token != "t":
		return errors.New("the registry is on fire")
	}
	return nil
}

func (c *calls) Register(name, token string) error   { return c.note(OpRegister, name, token) }
func (c *calls) Heartbeat(name, token string) error  { return c.note(OpHeartbeat, name, token) }
func (c *calls) Deregister(name, token string) error { return c.note(OpDeregister, name, token) }

// pair serves c on one end of a socket pair and returns a client of the
// other, made as a runner makes it from its inherited descriptor.
func pair(t *testing.T, c Calls) *Client {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	assert.NilError(t, err)
	f := os.NewFile(uintptr(fds[1]), "server end")
	conn, err := net.FileConn(f)
	assert.NilError(t, err)
	f.Close()
	go Serve(conn, c)
	client, err := FromFD(fds[0])
	assert.NilError(t, err)
	t.Cleanup(func() { client.Close() })
	return client
}

func TestCallsAndTheirAnswers(t *testing.T) {
	c := &calls{}
	client := pair(t, c)
	ctx := t.Context()
	assert.NilError(t, client.Register(ctx, Request{Name: "workflow-runner", Token: "t"}))
	assert.NilError(t, client.Heartbeat(ctx, Request{Name: "workflow-runner", Token: "t"}))
	err := client.Heartbeat(ctx, Request{Name: "gone", Token: "t"})
	assert.Assert(t, errors.Is(err, ErrRejected), "%v", err)
	assert.Equal(t, err.Error(), `heartbeat: rejected by the server: no such runner "gone"`)
	err = client.Deregister(ctx, Request{Name: "workflow-runner", Token: "x"})
	assert.Assert(t, !errors.Is(err, ErrRejected), "a failure is not a refusal: %v", err)
	assert.ErrorContains(t, err, "the registry is on fire")
	assert.DeepEqual(t, c.seen, []string{"register workflow-runner", "heartbeat workflow-runner", "heartbeat gone", "deregister workflow-runner"})
}

// A call that times out (a slow server) leaves the channel usable: its
// late answer is dropped, and the next call gets its own. A socket pair
// cannot be dialled again, so this is what keeps a runner talking.
func TestATimedOutCallLeavesTheChannelUsable(t *testing.T) {
	c := &calls{release: make(chan struct{})}
	client := pair(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := client.Heartbeat(ctx, Request{Name: "workflow-runner", Token: "t"})
	assert.Assert(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	c.mu.Lock()
	close(c.release)
	c.release = nil
	c.mu.Unlock()
	assert.NilError(t, client.Register(t.Context(), Request{Name: "workflow-runner", Token: "t"}))
	assert.NilError(t, client.Heartbeat(t.Context(), Request{Name: "workflow-runner", Token: "t"}))
}

// Once the server's end closes, a runner's calls fail, and saying why.
func TestAClosedSocketPairIsSaid(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	assert.NilError(t, err)
	client, err := FromFD(fds[0])
	assert.NilError(t, err)
	defer client.Close()
	assert.NilError(t, syscall.Close(fds[1]))
	err = client.Register(t.Context(), Request{Name: "workflow-runner", Token: "t"})
	assert.Assert(t, err != nil && !errors.Is(err, ErrRejected), "%v", err)
	err = client.Register(t.Context(), Request{Name: "workflow-runner", Token: "t"})
	assert.ErrorContains(t, err, "socket pair) is closed: the server is gone")
}

// Garbage on the channel ends it; the server does not guess.
func TestGarbageEndsTheConnection(t *testing.T) {
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() { Serve(a, &calls{}); close(done) }()
	go func() { _, _ = b.Write([]byte("{\"op\": \"heartbeat\", oops\n")) }()
	buf := make([]byte, 256)
	n, _ := b.Read(buf)
	assert.Check(t, is.Contains(string(buf[:n]), "not a control request"))
	<-done
}

// The runners' socket: its directory is the service user's alone, the
// socket open to whoever reaches it (a container's user), and a socket
// left by an earlier run is replaced.
func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runners", "control.sock")
	assert.NilError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	stale, err := net.Listen("unix", path)
	assert.NilError(t, err)
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Listen(path)
	assert.NilError(t, err)
	defer ln.Close()
	fi, err := os.Stat(filepath.Dir(path))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o700))
	fi, err = os.Stat(path)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o666))
	go ServeListener(ln, &calls{}, nil)
	assert.NilError(t, Dial(path).Register(t.Context(), Request{Name: "agent-runner", Token: "t"}))
}
