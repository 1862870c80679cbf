package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connLimit is the public listener: it keeps at most max connections open
// and shares them between peers. When a client arrives at the cap, one
// connection gives way: of the peer holding the most (a peer is an IPv4
// address or an IPv6 /64), the one idle the longest between requests,
// else the one connected the longest without sending anything, else the
// one busy the longest with a request, which at the cap means one that
// trickles. A connection is safe for a grace period after it opened or
// its request began, so a client that sends its request at once is always
// answered. When every connection is within its grace, the newcomer waits
// for the first to leave it (at most the grace period), and the clients
// behind it wait in the kernel's backlog: under a flood a client is
// answered after the connections queued before it (max of them, at the
// least, are let in each grace period), never refused. The wait is
// bounded, so no client holds up the accept path, which the health check
// looks at (alive).
//
// Local users all share 127.0.0.1: among them the oldest gives way, which
// under a flood is one of the flood's.
type connLimit struct {
	net.Listener
	max   int
	grace time.Duration
	log   *slog.Logger

	mu    sync.Mutex
	conns map[*limitedConn]bool // open ones
	peers map[string]int        // open connections by peer
	// Connections that gave way and newcomers that waited since the last
	// warning, and when it was (one a minute).
	gaveWay, waited int
	warned          time.Time

	released chan struct{} // a connection closed
	closed   chan struct{} // the listener closed
	// Accepts taken from the kernel but not yet on the books: drain waits
	// for them, or a connection accepted as the listener closed would be
	// read after Shutdown began, and dropped. Guarded by mu.
	accepting int

	// The accept path, for alive: where it is, since when (nanoseconds
	// from base, the monotonic clock).
	where atomic.Int32
	since atomic.Int64
	base  time.Time

	closeOnce sync.Once
	closeErr  error
}

// Where the accept path is.
const (
	inServe       = iota // in the HTTP server, between two Accepts
	admitting            // in Accept, making room for a new connection
	waitingForGap        // in Accept, for a connection to leave its grace
	inKernel             // waiting in the kernel's accept
)

// acceptGrace is how long a connection is safe from giving way after it
// opened or its request began: enough for a client across a slow network
// to send its request.
const acceptGrace = 500 * time.Millisecond

func newConnLimit(ln net.Listener, max int, log *slog.Logger) *connLimit {
	l := &connLimit{Listener: ln, max: max, grace: acceptGrace, log: log,
		conns: map[*limitedConn]bool{}, peers: map[string]int{}, base: time.Now(),
		released: make(chan struct{}, 1), closed: make(chan struct{})}
	l.at(inServe)
	return l
}

func (l *connLimit) now() time.Duration { return time.Since(l.base) }

func (l *connLimit) at(where int32) {
	l.since.Store(int64(l.now()))
	l.where.Store(where)
}

// alive says whether the accept path works: it waits in the kernel, or
// left it less than within ago; a wait for a connection to leave its
// grace may take the grace period on top.
func (l *connLimit) alive(within time.Duration) error {
	where := l.where.Load()
	if where == inKernel {
		return nil
	}
	limit := within
	if where == waitingForGap {
		limit += l.grace
	}
	if d := l.now() - time.Duration(l.since.Load()); d > limit {
		what := map[int32]string{inServe: "has not come back to Accept", admitting: "has been admitting one connection",
			waitingForGap: "has been waiting for room"}[where]
		return fmt.Errorf("the accept loop %s for %s", what, d.Round(time.Millisecond))
	}
	return nil
}

// Close stops accepting; it may be called again (drain, then the
// http.Server's Shutdown) and then returns the first result.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

// Accept returns the next connection, making room for it when the
// listener is at its cap.
func (l *connLimit) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.accepting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.accepting--
		l.mu.Unlock()
	}()
	l.at(inKernel)
	c, err := l.Listener.Accept()
	l.at(admitting)
	defer l.at(inServe)
	if err != nil {
		return nil, err
	}
	return l.admit(c)
}

// admit registers c; at the cap a connection gives way, or, when every
// one is within its grace, c waits for the first to leave it.
func (l *connLimit) admit(c net.Conn) (net.Conn, error) {
	lc := &limitedConn{Conn: c, l: l, peer: peerOf(c.RemoteAddr()), unread: true}
	for waited := false; ; waited = true {
		l.mu.Lock()
		now := l.now()
		var victim *limitedConn
		if len(l.conns) >= l.max {
			if victim = l.victim(now); victim == nil {
				wait := l.untilGap(now)
				if !waited {
					l.waited++
					l.warn(now)
				}
				l.mu.Unlock()
				if err := l.waitForGap(wait); err != nil {
					c.Close()
					return nil, err
				}
				continue
			}
			l.gaveWay++
			l.warn(now)
			l.forget(victim)
		}
		lc.opened = now
		l.conns[lc] = true
		l.peers[lc.peer]++
		l.mu.Unlock()
		if victim != nil {
			victim.Conn.Close()
		}
		return lc, nil
	}
}

// untilGap is how long until the first connection leaves its grace.
// l.mu is held.
func (l *connLimit) untilGap(now time.Duration) time.Duration {
	wait := l.grace
	for c := range l.conns {
		_, since := c.standing()
		wait = min(wait, since+l.grace-now)
	}
	return max(wait, time.Millisecond)
}

// waitForGap waits d, or until a connection closes; net.ErrClosed when
// the listener closed meanwhile.
func (l *connLimit) waitForGap(d time.Duration) error {
	l.at(waitingForGap)
	defer l.at(admitting)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.released:
	case <-l.closed:
		return net.ErrClosed
	}
	return nil
}

// victim is the connection to close for a newcomer (see connLimit), or
// nil when every one is within its grace. l.mu is held.
func (l *connLimit) victim(now time.Duration) *limitedConn {
	var best *limitedConn
	var bestRank [3]int64
	for c := range l.conns {
		class, since := c.standing()
		if now-since < l.grace {
			continue
		}
		// Higher ranks first: the biggest peer, then the class (idle
		// between requests, never sent, busy), then the oldest.
		rank := [3]int64{int64(l.peers[c.peer]), int64(-class), int64(-since)}
		if best == nil || rank[0] > bestRank[0] || (rank[0] == bestRank[0] && (rank[1] > bestRank[1] || (rank[1] == bestRank[1] && rank[2] > bestRank[2]))) {
			best, bestRank = c, rank
		}
	}
	return best
}

// warn logs, at most once a minute, that connections gave way or were
// refused at the cap. l.mu is held.
func (l *connLimit) warn(now time.Duration) {
	t := l.base.Add(now)
	if !l.warned.IsZero() && t.Sub(l.warned) < time.Minute {
		return
	}
	l.log.Warn("the API is at its connection cap: the oldest connections of the peer holding the most give way to new ones",
		"max_connections", l.max, "gave_way", l.gaveWay, "newcomers_waited", l.waited, "peers", len(l.peers))
	l.warned, l.gaveWay, l.waited = t, 0, 0
}

// forget drops c from the books, and wakes a newcomer waiting for room.
// l.mu is held.
func (l *connLimit) forget(c *limitedConn) {
	if !l.conns[c] {
		return
	}
	delete(l.conns, c)
	if l.peers[c.peer]--; l.peers[c.peer] <= 0 {
		delete(l.peers, c.peer)
	}
	select {
	case l.released <- struct{}{}:
	default:
	}
}

// peerOf is the peer a connection counts against: its IPv4 address, or
// its IPv6 /64 (one host may hold a whole /64).
func peerOf(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
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

// answered says whether no connection is unread or busy, and no Accept
// is still under way (after Close, the one in progress either fails or
// brings a connection that must be answered too).
func (l *connLimit) answered() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accepting > 0 {
		return false
	}
	for c := range l.conns {
		if c.unread || c.busy {
			return false
		}
	}
	return true
}

// track is the http.Server's ConnState hook: it marks connections busy
// while they read or serve a request, idle otherwise.
func (l *connLimit) track(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateActive:
		lc.busy, lc.unread, lc.changed = true, false, now
	case http.StateIdle:
		lc.busy, lc.changed = false, now
	}
}

// open is how many connections are open, for tests.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// limitedConn is a connection of connLimit. Its fields are guarded by
// the listener's mu.
type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once

	peer    string
	opened  time.Duration // since l.base
	changed time.Duration // when it last went busy or idle
	unread  bool          // no request read yet
	busy    bool          // reading or serving a request
}

// Classes of a connection, in the order they give way.
const (
	idleBetween = iota // kept alive between requests
	neverSent          // connected, nothing sent yet
	busyWith           // reading or serving a request
)

// standing is c's class and since when it is in it. l.mu is held.
func (c *limitedConn) standing() (class int, since time.Duration) {
	switch {
	case c.busy:
		return busyWith, c.changed
	case c.unread:
		return neverSent, c.opened
	}
	return idleBetween, c.changed
}

// Close closes the connection and frees its place; safe to call twice.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.forget(c)
		c.l.mu.Unlock()
	})
	return err
}
