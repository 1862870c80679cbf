package server

import (
	"context"
	"fmt"
	"time"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/notify"
)

// stateChanged keeps STATUS= current and sends READY=1 the first time
// both runners are registered. It is called from the supervisor.
func (s *server) stateChanged() {
	ready, _ := s.sup.Ready()
	s.mu.Lock()
	defer s.mu.Unlock()
	line := s.statusLine(ready)
	switch {
	case ready && !s.readySent:
		s.readySent = true
		s.notify.Ready(line)
		s.o.Log.Info("server ready", "addr", s.addr, "startup", time.Since(s.started).Round(time.Millisecond).String())
	case line != s.lastStat:
		s.notify.Status(line)
	}
	s.lastStat = line
}

// statusLine is STATUS=: "ready on 127.0.0.1:7234; workflow-runner up,
// agent-runner up; restarts 0/0".
func (s *server) statusLine(ready bool) string {
	word := "ready"
	switch {
	case !ready && !s.readySent:
		word = "starting"
	case !ready:
		word = "degraded"
	}
	return fmt.Sprintf("%s on %s; %s", word, s.addr, s.sup.Summary())
}

// healthLoop pings the watchdog only after the supervisor's loops and the
// API have answered: a stuck server stops pinging and systemd restarts it.
func (s *server) healthLoop(ctx context.Context) {
	interval, err := notify.WatchdogInterval()
	if err != nil {
		s.o.Log.Error("watchdog disabled", "err", err)
	}
	if interval <= 0 {
		return
	}
	s.o.Log.Info("watchdog enabled", "ping_every", interval.String())
	client := api.NewClient("http://" + s.addr)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.healthy(ctx, client, interval); err != nil {
			s.o.Log.Warn("health check failed; not pinging the watchdog", "err", err)
			continue
		}
		s.notify.Watchdog()
	}
}

func (s *server) healthy(ctx context.Context, client *api.Client, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := s.sup.Ping(ctx); err != nil {
		return err
	}
	if _, err := client.Ready(ctx); err != nil {
		return fmt.Errorf("API does not answer: %w", err)
	}
	return nil
}
