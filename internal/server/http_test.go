package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

// testLimits are short enough for a test to wait them out.
var testLimits = httpLimits{ReadHeader: 300 * time.Millisecond, Read: 300 * time.Millisecond, Write: time.Second, Idle: 300 * time.Millisecond, MaxConns: 3}

// serveTest serves h with limits on a loopback port and returns its address
// and the connection limiter.
func serveTest(t *testing.T, h http.Handler, log *slog.Logger, l httpLimits) (string, *connLimit) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	cl := newConnLimit(ln, l.MaxConns, log)
	srv := newHTTPServer(h, log, l, cl)
	go func() { _ = srv.Serve(cl) }() // returns ErrServerClosed at cleanup
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), cl
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func echoBody(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readUntilClosed reads c until the server closes it (nil) or wait passes
// (an error saying what was read).
func readUntilClosed(c net.Conn, wait time.Duration) (string, error) {
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return string(b), fmt.Errorf("still open after %s, read %q", wait, b)
	}
	return string(b), nil // EOF or a reset: closed by the server
}

func TestTricklingBodyIsCutOff(t *testing.T) {
	addr, _ := serveTest(t, http.HandlerFunc(echoBody), discardLog(), testLimits)
	c, err := net.Dial("tcp", addr)
	assert.NilError(t, err)
	defer c.Close()
	const size = 200
	_, err = fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	assert.NilError(t, err)
	// One byte every 20 ms: 4 s for the whole body, far over the read
	// limit. The server must hang up before the body is complete.
	sent := make(chan int, 1)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for ; n < size; n++ {
			if _, err := c.Write([]byte("x")); err != nil {
				break
			}
			<-tick.C
		}
		sent <- n
	}()
	got, err := readUntilClosed(c, 30*time.Second)
	assert.NilError(t, err)
	c.Close()
	n := <-sent
	assert.Assert(t, n < size, "the server read the whole trickled body (%d bytes) and answered %q", n, got)
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	// Only the idle timeout may close it: net/http falls back to the read
	// timeouts for idle connections when IdleTimeout is unset.
	l := testLimits
	l.Read, l.ReadHeader = time.Hour, time.Hour
	addr, cl := serveTest(t, http.HandlerFunc(echoBody), discardLog(), l)
	c, err := net.Dial("tcp", addr)
	assert.NilError(t, err)
	defer c.Close()
	_, err = fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert.NilError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	assert.NilError(t, err)
	assert.Equal(t, resp.StatusCode, 200)
	assert.Assert(t, !resp.Close, "the server did not keep the connection alive")
	_, err = readUntilClosed(c, 10*time.Second)
	assert.NilError(t, err, "an idle keep-alive connection stayed open")
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if n := cl.open(); n != 0 {
			return poll.Continue("%d connections counted open", n)
		}
		return poll.Success()
	})
}

func TestIdleConnectionsMakeRoomAtTheCap(t *testing.T) {
	// No idle timeout here: only the cap can close them.
	l := testLimits
	l.Idle, l.ReadHeader, l.Read = time.Hour, time.Hour, time.Hour
	addr, cl := serveTest(t, http.HandlerFunc(echoBody), discardLog(), l)
	cl.mu.Lock()
	cl.grace = 0 // the connections just made may give way at once
	cl.mu.Unlock()
	var idle []net.Conn
	for range 3 * l.MaxConns {
		c, err := net.Dial("tcp", addr)
		assert.NilError(t, err)
		defer c.Close()
		idle = append(idle, c)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		resp, err := client.Get("http://" + addr + "/")
		assert.NilError(t, err, "request %d with %d idle connections open", i, len(idle))
		resp.Body.Close()
		assert.Equal(t, resp.StatusCode, 200)
	}
	assert.Assert(t, cl.open() <= l.MaxConns, "%d open, cap %d", cl.open(), l.MaxConns)
}

func TestHTTPErrorLogGoesThroughSlog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil)).With("component", "server")
	addr, _ := serveTest(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), log, testLimits)
	resp, err := http.Get("http://" + addr + "/")
	if err == nil {
		resp.Body.Close()
	}
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if !strings.Contains(buf.String(), "panic serving") {
			return poll.Continue("log so far: %q", buf.String())
		}
		return poll.Success()
	})
	line := buf.String()
	assert.Assert(t, is.Contains(line, "level=WARN"))
	assert.Assert(t, is.Contains(line, "component=server source=net/http"))
}

func TestConnsForLeavesDescriptorsFree(t *testing.T) {
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{40, 8}, {20, minConns}, {1024, maxConnsCap}, {524288, maxConnsCap},
	} {
		assert.Equal(t, connsFor(tc.nofile), tc.want, "RLIMIT_NOFILE %d", tc.nofile)
	}
}

// syncBuffer is a buffer the server's goroutines write while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A client that connected just before the stop and sends its request only
// after the stop began (the server stops accepting at once) still gets an
// answer: net/http's Shutdown alone drops such a request without one.
func TestStopAnswersAConnectionAcceptedBeforeIt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	addr := ln.Addr().String()
	cl := newConnLimit(ln, testLimits.MaxConns, discardLog())
	srv := newHTTPServer(http.HandlerFunc(echoBody), discardLog(), testLimits, cl)
	go func() { _ = srv.Serve(cl) }()
	t.Cleanup(func() { srv.Close() })

	c, err := net.Dial("tcp", addr)
	assert.NilError(t, err)
	defer c.Close()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if cl.open() == 1 {
			return poll.Success()
		}
		return poll.Continue("the connection is not accepted yet")
	})

	stopped := make(chan struct{})
	go func() { stopAPI(srv, cl, discardLog()); close(stopped) }()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if c2, err := net.Dial("tcp", addr); err == nil {
			c2.Close()
			return poll.Continue("still accepting")
		}
		return poll.Success()
	})

	_, err = fmt.Fprint(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	assert.NilError(t, err)
	got, err := readUntilClosed(c, 2*time.Second)
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(got, "200 OK"), "the accepted connection got no answer")
	<-stopped
}
