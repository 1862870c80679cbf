package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/control"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// standInRegistry stands in for the server's registry. The real server
// cannot lose its control socket while keeping its runners (they die with
// it), so the reconnect path can only be driven from a stand-in that is
// served, stopped and served again on the same socket. It accepts one
// token and counts.
type standInRegistry struct {
	mu                    sync.Mutex
	token                 string
	registers, heartbeats int
	deregisters           int
	rejectFromNowOn       bool
}

func (b *standInRegistry) check(token string, count *int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if token != b.token || b.rejectFromNowOn {
		// As the server refuses a stale token (server/backend.go).
		return fmt.Errorf("%w: %w", control.ErrRejected, supervisor.ErrUnknownInstance)
	}
	*count++
	return nil
}
func (b *standInRegistry) Register(_, token string) error   { return b.check(token, &b.registers) }
func (b *standInRegistry) Heartbeat(_, token string) error  { return b.check(token, &b.heartbeats) }
func (b *standInRegistry) Deregister(_, token string) error { return b.check(token, &b.deregisters) }
func (b *standInRegistry) counts() (int, int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.registers, b.heartbeats, b.deregisters
}

// serveAt serves the control socket for b at path until the returned
// func is called (which closes the connections made, as a dying server's).
func serveAt(t *testing.T, path string, b *standInRegistry) func() {
	t.Helper()
	ln, err := control.Listen(path)
	assert.NilError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go control.Serve(c, b)
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}

// socketPath is a control socket's path in a short temporary directory.
func socketPath(t *testing.T) string {
	dir, err := os.MkdirTemp("", "runner-test-")
	assert.NilError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "runners", "control.sock")
}

func startRunner(t *testing.T, path, token string) (context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := Options{
		Name: "workflow-runner", Client: control.Dial(path), Token: token,
		HeartbeatInterval: 20 * time.Millisecond, ReconnectTimeout: 30 * time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go func() { done <- Run(ctx, o) }()
	return cancel, done
}

func waitCounts(t *testing.T, b *standInRegistry, cond func(r, h, d int) bool, what string) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		r, h, d := b.counts()
		if cond(r, h, d) {
			return poll.Success()
		}
		return poll.Continue("%s: registers %d, heartbeats %d, deregisters %d", what, r, h, d)
	}, poll.WithTimeout(10*time.Second), poll.WithDelay(5*time.Millisecond))
}

func TestRunnerReconnectsAndDrains(t *testing.T) {
	b := &standInRegistry{token: "t1"}
	path := socketPath(t)
	stop := serveAt(t, path, b)
	cancel, done := startRunner(t, path, "t1")

	waitCounts(t, b, func(r, h, _ int) bool { return r == 1 && h >= 3 }, "registered and heartbeating")

	// The socket goes away and comes back at the same path.
	stop()
	_, h0, _ := b.counts()
	stop = serveAt(t, path, b)
	defer stop()
	waitCounts(t, b, func(_, h, _ int) bool { return h >= h0+3 }, "heartbeating again")
	select {
	case err := <-done:
		t.Fatalf("runner exited while the server came back: %v", err)
	default:
	}

	// SIGTERM (ctx cancelled): drain, deregister, nil.
	cancel()
	assert.NilError(t, <-done)
	_, _, d := b.counts()
	assert.Equal(t, d, 1)
}

func TestRunnerExitsWhenRejected(t *testing.T) {
	b := &standInRegistry{token: "t1"}
	path := socketPath(t)
	defer serveAt(t, path, b)()
	cancel, done := startRunner(t, path, "t1")
	defer cancel()
	waitCounts(t, b, func(r, _, _ int) bool { return r == 1 }, "registered")

	b.mu.Lock()
	b.rejectFromNowOn = true // as a new server that never started this runner
	b.mu.Unlock()
	err := <-done
	assert.Assert(t, errors.Is(err, control.ErrRejected), "got %v", err)
	assert.ErrorContains(t, err, "exiting so that the server starts a fresh one")
}

func TestRunnerRefusesAWrongToken(t *testing.T) {
	b := &standInRegistry{token: "t1"}
	path := socketPath(t)
	defer serveAt(t, path, b)()
	cancel, done := startRunner(t, path, "stale")
	defer cancel()
	assert.ErrorContains(t, <-done, "registering with the server")
}

func TestFromEnv(t *testing.T) {
	_, err := FromEnv("agent-runner", func(string) string { return "" }, nil)
	assert.Assert(t, errors.Is(err, ErrNotStartedByServer))
	env := map[string]string{"STIGMER_CONTROL_SOCKET": "/nonexistent/control.sock", "STIGMER_RUNNER_TOKEN": "t", "STIGMER_HEARTBEAT_INTERVAL": "fast"}
	_, err = FromEnv("agent-runner", func(k string) string { return env[k] }, nil)
	assert.ErrorContains(t, err, `STIGMER_HEARTBEAT_INTERVAL="fast"`)
	env["STIGMER_HEARTBEAT_INTERVAL"] = "250ms"
	o, err := FromEnv("agent-runner", func(k string) string { return env[k] }, nil)
	assert.NilError(t, err)
	assert.Equal(t, o.HeartbeatInterval, 250*time.Millisecond)
	env["STIGMER_CONTROL_FD"], env["STIGMER_CONTROL_SOCKET"] = "stdin", ""
	_, err = FromEnv("agent-runner", func(k string) string { return env[k] }, nil)
	assert.ErrorContains(t, err, `STIGMER_CONTROL_FD="stdin" is not a file descriptor number`)
}
