package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// httpLimits bound what one client can hold of the server: a slow or idle
// connection is closed after these times, and at most MaxConns are open.
type httpLimits struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxConns                      int
}

// defaultHTTPLimits suit the API's callers: runners send a small request
// every second on a kept-alive connection, and `stigmer server status` one
// request. Nothing legitimate takes seconds to send or answer.
func defaultHTTPLimits() httpLimits {
	return httpLimits{
		ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 10 * time.Second, Idle: 30 * time.Second,
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

// connLimit is a listener that keeps at most max connections open. When a
// new client arrives at the cap, the connection idle the longest (between
// requests, or connected without sending one) is closed to make room, so
// that idle clients cannot lock out /readyz; only when all are busy does
// the new one wait for a busy one to end.
type connLimit struct {
	net.Listener
	max      int
	released chan struct{} // a connection closed

	mu     sync.Mutex
	conns  map[*limitedConn]time.Time // idle since; zero while busy
	unread map[*limitedConn]bool      // accepted, first request not read yet

	closeOnce sync.Once
	closeErr  error
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, released: make(chan struct{}, 1),
		conns: map[*limitedConn]time.Time{}, unread: map[*limitedConn]bool{}}
}

// Close stops accepting; it may be called again (drain, then the
// http.Server's Shutdown) and then returns the first result.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

// drain stops accepting, then waits until every connection accepted so far
// has had its first request read and answered, or ctx ends. The stop calls
// it before http.Server.Shutdown, because net/http drops, without an
// answer, a request it reads after Shutdown began: a client that connected
// just before the stop would get nothing. Under systemd the clients that
// connect meanwhile wait in the socket's backlog for the next server
// (listener.go); idle kept-alive connections are left to Shutdown.
func (l *connLimit) drain(ctx context.Context) {
	l.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !l.answered() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// answered says whether no connection is unread or busy.
func (l *connLimit) answered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.unread) > 0 {
		return false
	}
	for _, idle := range l.conns {
		if idle.IsZero() {
			return false
		}
	}
	return true
}

// Accept returns the next connection once there is room for it.
func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	for {
		l.mu.Lock()
		if len(l.conns) < l.max {
			l.conns[lc] = time.Now()
			l.unread[lc] = true
			l.mu.Unlock()
			return lc, nil
		}
		victim := l.longestIdle()
		l.mu.Unlock()
		if victim != nil {
			victim.Close()
			continue
		}
		<-l.released
	}
}

// longestIdle is the open connection idle the longest, or nil when all are
// busy. l.mu is held.
func (l *connLimit) longestIdle() *limitedConn {
	var victim *limitedConn
	var since time.Time
	for c, t := range l.conns {
		if !t.IsZero() && (victim == nil || t.Before(since)) {
			victim, since = c, t
		}
	}
	return victim
}

// track is the http.Server's ConnState hook: it marks connections busy
// while they read or serve a request, idle otherwise.
func (l *connLimit) track(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, open := l.conns[lc]; !open {
		return
	}
	switch st {
	case http.StateNew, http.StateIdle:
		l.conns[lc] = time.Now()
	case http.StateActive:
		l.conns[lc] = time.Time{}
		delete(l.unread, lc)
	}
}

// open is how many connections are open, for tests.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
}

// Close closes the connection and frees its place; safe to call twice.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		delete(c.l.unread, c)
		c.l.mu.Unlock()
		select {
		case c.l.released <- struct{}{}:
		default:
		}
	})
	return err
}
