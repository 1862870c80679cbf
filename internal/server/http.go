package server

import (
	"context"
	"log/slog"
	"net/http"
	"syscall"
	"time"

	"github.com/stigmer/stigmer/internal/operator"
)

// httpLimits bound what one client can hold of the server: a slow or idle
// connection is closed after these times, and at most MaxConns are open,
// shared between peers (connLimit).
type httpLimits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxConns                      int
}

// defaultHTTPLimits suit the API's callers: `stigmer server status`,
// doctor, a Prometheus scrape, a load balancer's probe, one small request
// each. Nothing legitimate takes seconds to send: a request whose headers
// trickle is cut after 3 s, one whose body does after 5 s.
func defaultHTTPLimits() httpLimits {
	return httpLimits{
		ReadHeader: 3 * time.Second, Read: 5 * time.Second, Write: 10 * time.Second, Idle: 30 * time.Second,
		MaxConns: maxConns(),
	}
}

// Connection cap: at most maxConnsCap, and never so many that the
// connections could take the descriptors the server needs for itself and
// its runners' restarts (pipes, /dev/null, journal streams, pidfds):
// fdReserve of the soft RLIMIT_NOFILE stay free. Go (1.19+) has already
// raised the soft limit to the hard one at start.
const (
	maxConnsCap = 256
	fdReserve   = 32
	minConns    = 4
)

func maxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return minConns
	}
	return connsFor(rl.Cur)
}

func connsFor(nofile uint64) int {
	switch {
	case nofile < fdReserve+minConns:
		return minConns
	case nofile-fdReserve > maxConnsCap:
		return maxConnsCap
	default:
		return int(nofile - fdReserve)
	}
}

// newHTTPServer is the API's http.Server: limits set, and its own error
// log (accept errors, panics, TLS noise) written through log as warnings
// instead of bare lines on stderr.
func newHTTPServer(h http.Handler, log *slog.Logger, l httpLimits, cl *connLimit) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		ErrorLog:          slog.NewLogLogger(log.With("source", "net/http").Handler(), slog.LevelWarn),
		ConnState:         cl.track,
	}
}

// closeOperator closes the operator socket within a second, answering
// what it was asked.
func closeOperator(s *operator.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		log.Warn("closing the operator socket", "err", err)
	}
}

// stopAPI closes the API within 2 s: it stops accepting and answers the
// connections already accepted (drain, at most 1 s), then Shutdown closes
// the idle ones and waits for the busy ones.
func stopAPI(srv *http.Server, cl *connLimit, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	drainCtx, cancelDrain := context.WithTimeout(ctx, time.Second)
	cl.drain(drainCtx)
	cancelDrain()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("closing the API", "err", err)
	}
}
