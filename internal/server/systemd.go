package server

import (
	"context"
	"fmt"
	"net/http"
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

// healthLoop pings the watchdog only after the supervisor's loops, the
// public listener's accept path and the API's handler have answered, all
// in process: no client of the API, however many and however slow,
// stands between the health check and its answer, while a server that is
// stuck stops pinging and systemd restarts it.
func (s *server) healthLoop(ctx context.Context, accept *connLimit, h http.Handler) {
	interval, err := notify.WatchdogInterval()
	if err != nil {
		s.o.Log.Error("watchdog disabled", "err", err)
	}
	if interval <= 0 {
		return
	}
	s.o.Log.Info("watchdog enabled", "ping_every", interval.String())
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.healthy(ctx, accept, h, interval); err != nil {
			s.o.Log.Warn("health check failed; not pinging the watchdog", "err", err)
			continue
		}
		s.notify.Watchdog()
	}
}

func (s *server) healthy(ctx context.Context, accept *connLimit, h http.Handler, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	if err := s.sup.Ping(ctx); err != nil {
		return err
	}
	if err := accept.alive(within); err != nil {
		return fmt.Errorf("the API's listener: %w", err)
	}
	if err := answers(ctx, h); err != nil {
		return fmt.Errorf("the API's handler: %w", err)
	}
	return nil
}

// answers asks h for /readyz in process, as a client would over the
// network, and says whether it answered (200 or 503) before ctx ended.
func answers(ctx context.Context, h http.Handler) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.PathReady, nil)
	if err != nil {
		return err
	}
	done := make(chan int, 1)
	go func() {
		w := &probeWriter{header: http.Header{}}
		h.ServeHTTP(w, req)
		done <- w.code
	}()
	select {
	case code := <-done:
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			return fmt.Errorf("%s answered %d", api.PathReady, code)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s does not answer: %w", api.PathReady, ctx.Err())
	}
}

// probeWriter is the response writer of answers: it keeps the status.
type probeWriter struct {
	header http.Header
	code   int
}

func (w *probeWriter) Header() http.Header { return w.header }
func (w *probeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
func (w *probeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
