// Package runner is the lifecycle of a runner process (workflow-runner,
// agent-runner): register with the server that started it, heartbeat,
// ride out a server that is briefly unreachable, and on SIGTERM drain and
// exit 0. What runners execute (workflows, agent steps) is not here yet.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/stigmer/stigmer/internal/control"
)

// Options are a runner's settings; the server passes them in the
// environment (see FromEnv).
type Options struct {
	Name              string
	Client            *control.Client
	Token             string
	HeartbeatInterval time.Duration
	// ReconnectTimeout is how long the server may stay unreachable before
	// the runner gives up and exits non-zero (its server is gone).
	ReconnectTimeout time.Duration
	Log              *slog.Logger
}

// ErrNotStartedByServer is returned by FromEnv when the variables the
// server sets are missing: someone ran the runner by hand.
var ErrNotStartedByServer = errors.New("runners are started by the stigmer server, not by hand; run `stigmer server start` (or `systemctl start stigmer`) instead")

// FromEnv reads the settings the server passes: the control channel
// (STIGMER_CONTROL_FD, the socket pair of a native runner, or
// STIGMER_CONTROL_SOCKET, the socket a container mounts),
// STIGMER_RUNNER_TOKEN and STIGMER_HEARTBEAT_INTERVAL.
func FromEnv(name string, getenv func(string) string, log *slog.Logger) (Options, error) {
	fd, sock, token := getenv("STIGMER_CONTROL_FD"), getenv("STIGMER_CONTROL_SOCKET"), getenv("STIGMER_RUNNER_TOKEN")
	if (fd == "" && sock == "") || token == "" {
		return Options{}, ErrNotStartedByServer
	}
	var client *control.Client
	if fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil || n < 3 {
			return Options{}, fmt.Errorf("STIGMER_CONTROL_FD=%q is not a file descriptor number; it is set by the server, so report this as a bug", fd)
		}
		if client, err = control.FromFD(n); err != nil {
			return Options{}, fmt.Errorf("%w; it is passed by the server, so report this as a bug", err)
		}
	} else {
		client = control.Dial(sock)
	}
	interval := time.Second
	if s := getenv("STIGMER_HEARTBEAT_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Options{}, fmt.Errorf("STIGMER_HEARTBEAT_INTERVAL=%q is not a positive duration; it is set by the server, so report this as a bug", s)
		}
		interval = d
	}
	return Options{
		Name: name, Client: client, Token: token,
		HeartbeatInterval: interval, ReconnectTimeout: 60 * time.Second, Log: log,
	}, nil
}

// Run registers and heartbeats until ctx is done (SIGTERM), then drains and
// returns nil. It returns an error when the server rejects this instance
// or stays unreachable for longer than ReconnectTimeout.
func Run(ctx context.Context, o Options) error {
	req := control.Request{Name: o.Name, Token: o.Token, PID: os.Getpid()}
	if err := o.register(ctx, req); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it was up: nothing to drain
		}
		return err
	}
	o.Log.Info("runner registered", "pid", req.PID, "heartbeat_interval", o.HeartbeatInterval.String())
	tick := time.NewTicker(o.HeartbeatInterval)
	defer tick.Stop()
	var lostSince time.Time
	for {
		select {
		case <-ctx.Done():
			o.drain(req)
			return nil
		case <-tick.C:
		}
		err := o.call(ctx, o.Client.Heartbeat, req)
		switch {
		case err == nil:
			if !lostSince.IsZero() {
				o.Log.Info("server reachable again", "after", time.Since(lostSince).Round(time.Millisecond).String())
				lostSince = time.Time{}
			}
		case ctx.Err() != nil:
			// Stopping; the next turn drains.
		case errors.Is(err, control.ErrRejected):
			return fmt.Errorf("the server rejected this runner's heartbeat (%w); exiting so that the server starts a fresh one", err)
		default:
			if lostSince.IsZero() {
				lostSince = time.Now()
				o.Log.Warn("server unreachable; retrying", "err", err)
			}
			if time.Since(lostSince) > o.ReconnectTimeout {
				return fmt.Errorf("server unreachable for %s, giving up: %w", o.ReconnectTimeout, err)
			}
		}
	}
}

// register retries while the server is unreachable (it may be starting
// its listener, or restarting) and gives up on a rejection or after
// ReconnectTimeout.
func (o Options) register(ctx context.Context, req control.Request) error {
	deadline := time.Now().Add(o.ReconnectTimeout)
	delay := 50 * time.Millisecond
	for {
		err := o.call(ctx, o.Client.Register, req)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, control.ErrRejected):
			return fmt.Errorf("registering with the server: %w", err)
		case time.Now().After(deadline):
			return fmt.Errorf("registering with the server: unreachable for %s: %w", o.ReconnectTimeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, o.HeartbeatInterval)
	}
}

func (o Options) call(ctx context.Context, f func(context.Context, control.Request) error, req control.Request) error {
	ctx, cancel := context.WithTimeout(ctx, max(o.HeartbeatInterval, time.Second))
	defer cancel()
	return f(ctx, req)
}

// drain stops taking work and tells the server, best effort and bounded:
// the server may already be gone (it sent the SIGTERM, or died).
func (o Options) drain(req control.Request) {
	o.Log.Info("runner draining")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := o.Client.Deregister(ctx, req); err != nil {
		o.Log.Info("could not tell the server about draining", "err", err)
	}
	o.Log.Info("runner stopped")
}
