package server

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

// The connection that gives way at the cap: of the peer holding the most,
// idle between requests before never sent before busy, the oldest first;
// none within its grace.
func TestWhichConnectionGivesWay(t *testing.T) {
	const s = time.Second
	type conn struct {
		name  string
		peer  string
		class int
		since time.Duration
	}
	for _, tc := range []struct {
		name  string
		conns []conn
		want  string // "" when none may give way
	}{
		{"the biggest peer gives way, whatever its class", []conn{
			{"a1", "a", busyWith, 1 * s}, {"a2", "a", busyWith, 2 * s}, {"b1", "b", idleBetween, 1 * s},
		}, "a1"},
		{"within a peer: idle before never sent before busy", []conn{
			{"busy", "a", busyWith, 1 * s}, {"new", "a", neverSent, 2 * s}, {"idle", "a", idleBetween, 3 * s},
		}, "idle"},
		{"never sent before busy", []conn{{"busy", "a", busyWith, 1 * s}, {"new", "a", neverSent, 2 * s}}, "new"},
		{"the oldest of a class", []conn{{"late", "a", busyWith, 5 * s}, {"early", "a", busyWith, 2 * s}}, "early"},
		{"within the grace: safe", []conn{
			{"a1", "a", busyWith, 9900 * time.Millisecond}, {"a2", "a", neverSent, 9950 * time.Millisecond}, {"b1", "b", busyWith, 1 * s},
		}, "b1"},
		{"all within the grace: none", []conn{{"a1", "a", busyWith, 9900 * time.Millisecond}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newConnLimit(nil, len(tc.conns), discardLog())
			names := map[*limitedConn]string{}
			for _, c := range tc.conns {
				lc := &limitedConn{l: l, peer: c.peer}
				switch c.class {
				case busyWith:
					lc.busy, lc.changed = true, c.since
				case neverSent:
					lc.unread, lc.opened = true, c.since
				default:
					lc.changed = c.since
				}
				l.conns[lc] = true
				l.peers[c.peer]++
				names[lc] = c.name
			}
			assert.Equal(t, names[l.victim(10*s)], tc.want)
		})
	}
}

// trickler opens a connection from the loopback address local (all of
// 127/8 is this machine's) and sends the headers of a request whose body
// never comes: a busy connection that holds its slot.
func trickler(t *testing.T, addr, local string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	assert.NilError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n")
	assert.NilError(t, err)
	return c
}

// One peer holding every slot with requests that trickle cannot lock out
// another: the newcomer's request is answered, and one of the hog's
// connections gives way.
func TestOnePeerCannotHoldEverySlot(t *testing.T) {
	l := testLimits
	l.ReadHeader, l.Read = time.Hour, time.Hour // only the sharing may close them
	addr, cl := serveTest(t, http.HandlerFunc(echoBody), discardLog(), l)
	var hog []net.Conn
	for range l.MaxConns {
		hog = append(hog, trickler(t, addr, "127.0.0.1"))
	}
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		busy := 0
		for c := range cl.conns {
			if c.busy {
				busy++
			}
		}
		if busy < l.MaxConns {
			return poll.Continue("%d of %d busy", busy, l.MaxConns)
		}
		return poll.Success()
	})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	poll.WaitOn(t, func(poll.LogT) poll.Result { // past the hog's grace
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			return poll.Continue("the other peer: %v", err)
		}
		resp.Body.Close()
		return poll.Success()
	}, poll.WithTimeout(10*time.Second))
	closed := 0
	for _, c := range hog {
		if _, err := readUntilClosed(c, 100*time.Millisecond); err == nil {
			closed++
		}
	}
	assert.Assert(t, closed >= 1, "none of the hog's connections gave way")
	assert.Assert(t, cl.open() <= l.MaxConns)
}

// Headers that trickle are cut within the header limit, as a body that
// trickles is within the read limit (TestTricklingBodyIsCutOff).
func TestTricklingHeadersAreCutOff(t *testing.T) {
	addr, _ := serveTest(t, http.HandlerFunc(echoBody), discardLog(), testLimits)
	c, err := net.Dial("tcp", addr)
	assert.NilError(t, err)
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("y", 200)) {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	_, err = readUntilClosed(c, 30*time.Second)
	assert.NilError(t, err, "headers that trickle kept their connection")
}

// acceptOnce calls cl.Accept in the background; the connection it returns
// comes on the channel (nothing comes when it fails).
func acceptOnce(cl *connLimit) <-chan net.Conn {
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := cl.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	return accepted
}

// The health check's view of the accept path: waiting in the kernel is
// alive, however long; stuck outside it longer than the interval is not.
func TestAcceptPathAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	cl := newConnLimit(ln, 4, discardLog())
	assert.ErrorContains(t, cl.alive(-1), "the accept loop has not come back to Accept for")
	accepted := acceptOnce(cl)
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if err := cl.alive(-1); err != nil {
			return poll.Continue("%v", err)
		}
		return poll.Success()
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	assert.NilError(t, err)
	defer c.Close()
	(<-accepted).Close()
	// Back in the server, not accepting: fine for a while, then stuck.
	assert.NilError(t, cl.alive(time.Hour))
	assert.Check(t, is.ErrorContains(cl.alive(-1), "has not come back to Accept"))
	ln.Close()
}

// handoffListener is a listener whose Accept returns what the test hands
// it, and whose Close does not interrupt an Accept: as when the kernel had
// already handed over a connection at the moment the listener closed.
type handoffListener struct {
	net.Listener
	conns chan net.Conn
}

func (h handoffListener) Accept() (net.Conn, error) { return <-h.conns, nil }
func (h handoffListener) Close() error              { return nil }

// A connection taken from the kernel as the stop closes the listener is
// answered before the stop goes on: the drain waits for the Accept under
// way, then for the connection it brings.
func TestDrainWaitsForTheAcceptUnderWay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	h := handoffListener{Listener: ln, conns: make(chan net.Conn)}
	cl := newConnLimit(h, 4, discardLog())
	accepted := acceptOnce(cl)
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if cl.where.Load() != inKernel {
			return poll.Continue("Accept not yet waiting")
		}
		return poll.Success()
	})
	cl.Close()
	assert.Check(t, !cl.answered(), "an Accept under way counts as unanswered")

	client, server := net.Pipe()
	defer client.Close()
	h.conns <- server
	c := <-accepted
	assert.Check(t, !cl.answered(), "the connection it brought, not yet read, counts as unanswered")
	cl.track(c, http.StateActive)
	assert.Check(t, !cl.answered(), "a connection being served counts as unanswered")
	cl.track(c, http.StateIdle)
	assert.Check(t, cl.answered())
	c.Close()
}
