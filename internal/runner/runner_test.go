package runner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// standInRegistry stands in for the server's registry. The real server
// cannot lose its API while keeping its runners (they die with it), so the
// reconnect path can only be driven from a stand-in that is served, stopped
// and served again on the same address. It accepts one token and counts.
type standInRegistry struct {
	mu                    sync.Mutex
	token                 string
	registers, heartbeats int
	deregisters           int
	rejectFromNowOn       bool
}

func (b *standInRegistry) Status() api.Status    { return api.Status{} }
func (b *standInRegistry) Ready() (bool, string) { return true, "" }
func (b *standInRegistry) Events(time.Time) ([]history.Event, error) {
	return nil, errors.New("no history in this stand-in")
}
func (b *standInRegistry) MayReadHistory(netip.AddrPort, netip.AddrPort) error { return nil }
func (b *standInRegistry) check(token string, count *int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if token != b.token || b.rejectFromNowOn {
		// As the server's backend refuses a stale token (server/backend.go).
		return &api.Refusal{Kind: api.ErrConflict, Err: supervisor.ErrUnknownInstance}
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

// serveAt serves the API for b on addr until the returned func is called.
func serveAt(t *testing.T, addr string, b *standInRegistry) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	assert.NilError(t, err)
	srv := &http.Server{Handler: api.Handler(b, nil)}
	go srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on close
	return ln.Addr().String(), func() { srv.Close() }
}

func startRunner(t *testing.T, addr, token string) (context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := Options{
		Name: "workflow-runner", Client: api.NewClient("http://" + addr), Token: token,
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
	addr, stop := serveAt(t, "127.0.0.1:0", b)
	cancel, done := startRunner(t, addr, "t1")

	waitCounts(t, b, func(r, h, _ int) bool { return r == 1 && h >= 3 }, "registered and heartbeating")

	// The API goes away and comes back on the same address.
	stop()
	_, h0, _ := b.counts()
	_, stop = serveAt(t, addr, b)
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
	addr, stop := serveAt(t, "127.0.0.1:0", b)
	defer stop()
	cancel, done := startRunner(t, addr, "t1")
	defer cancel()
	waitCounts(t, b, func(r, _, _ int) bool { return r == 1 }, "registered")

	b.mu.Lock()
	b.rejectFromNowOn = true // as a new server that never started this runner
	b.mu.Unlock()
	err := <-done
	assert.Assert(t, errors.Is(err, api.ErrRejected), "got %v", err)
	assert.ErrorContains(t, err, "exiting so that the server starts a fresh one")
}

func TestRunnerRefusesAWrongToken(t *testing.T) {
	b := &standInRegistry{token: "t1"}
	addr, stop := serveAt(t, "127.0.0.1:0", b)
	defer stop()
	cancel, done := startRunner(t, addr, "stale")
	defer cancel()
	assert.ErrorContains(t, <-done, "registering with the server")
}

func TestFromEnv(t *testing.T) {
	_, err := FromEnv("agent-runner", func(string) string { return "" }, nil)
	assert.Assert(t, errors.Is(err, ErrNotStartedByServer))
	env := map[string]string{"STIGMER_SERVER_URL": "http://127.0.0.1:1", "STIGMER_RUNNER_TOKEN": "t", "STIGMER_HEARTBEAT_INTERVAL": "fast"}
	_, err = FromEnv("agent-runner", func(k string) string { return env[k] }, nil)
	assert.ErrorContains(t, err, `STIGMER_HEARTBEAT_INTERVAL="fast"`)
	env["STIGMER_HEARTBEAT_INTERVAL"] = "250ms"
	o, err := FromEnv("agent-runner", func(k string) string { return env[k] }, nil)
	assert.NilError(t, err)
	assert.Equal(t, o.HeartbeatInterval, 250*time.Millisecond)
}
