package vm_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// probeLine is one line probe.pl wrote: its kind (R, X, A, F), and for A
// and F the probe's start, end and, for F, how it failed.
type probeLine struct {
	kind       string
	start, end float64
	how        string
}

// runProbe runs probe.pl against 127.0.0.1:port, starting a probe every
// 0.1 s for about a second, and returns what it wrote once every probe has
// ended. It checks that probe.pl printed how many it started, one line each.
func runProbe(t *testing.T, port int) []probeLine {
	t.Helper()
	dir := t.TempDir()
	file, stop := filepath.Join(dir, "probes"), filepath.Join(dir, "stop")
	go func() {
		time.Sleep(time.Second)
		_ = os.WriteFile(stop, nil, 0o644)
	}()
	res := icmd.RunCommand("perl", "guest/probe.pl", file, "0.1", stop, strconv.Itoa(port))
	res.Assert(t, icmd.Success)
	text, err := os.ReadFile(file)
	assert.NilError(t, err)
	var lines []probeLine
	for _, l := range strings.Split(strings.TrimSuffix(string(text), "\n"), "\n") {
		f := strings.Fields(l)
		p := probeLine{kind: f[0]}
		if len(f) >= 3 {
			p.start, _ = strconv.ParseFloat(f[1], 64)
			p.end, _ = strconv.ParseFloat(f[2], 64)
		}
		if len(f) == 4 {
			p.how = f[3]
		}
		lines = append(lines, p)
	}
	started, err := strconv.Atoi(strings.TrimSpace(res.Stdout()))
	assert.NilError(t, err)
	assert.Check(t, started >= 5, "started %d probes in a second, one every 0.1 s", started)
	assert.Check(t, is.Len(lines, started))
	return lines
}

// listen is a listener on a free loopback port whose connections serve
// runs on; it is closed at the end of the test.
func listen(t *testing.T, serve func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readRequest reads the probe's request, up to its blank line.
func readRequest(c net.Conn) {
	buf := make([]byte, 512)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

// TestProbeTellsTheOutcomes checks that probe.pl tells each outcome the
// rows count apart: an answer (from net/http, the server's own library), a
// refusal, and a connection closed unanswered, reset, or answered with
// something other than HTTP. TestProbeGivesUpAfter30s covers the deadline.
func TestProbeTellsTheOutcomes(t *testing.T) {
	if _, err := os.Stat("/proc/uptime"); err != nil {
		t.Fatalf("probe.pl's clock is /proc/uptime: %v", err)
	}
	closed := func(how string) func(net.Conn) {
		return func(c net.Conn) {
			readRequest(c)
			switch how {
			case "line":
				fmt.Fprint(c, "SSH-2.0-not-http\r\n")
			case "reset":
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		}
	}
	cases := map[string]struct {
		port func(t *testing.T) int
		want string // kind and how of every line
	}{
		"answered": {port: func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			assert.NilError(t, err)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprintln(w, "ready")
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			return ln.Addr().(*net.TCPAddr).Port
		}, want: "A"},
		"refused": {port: func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			assert.NilError(t, err)
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			return port
		}, want: "R"},
		"closed unanswered": {port: func(t *testing.T) int { return listen(t, closed("eof")) }, want: "F eof"},
		"not HTTP":          {port: func(t *testing.T) int { return listen(t, closed("line")) }, want: "F line"},
		"reset":             {port: func(t *testing.T) int { return listen(t, closed("reset")) }, want: "F reset"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, p := range runProbe(t, tc.port(t)) {
				assert.Check(t, is.Equal(strings.TrimSpace(p.kind+" "+p.how), tc.want))
				if p.kind == "A" || p.kind == "F" {
					assert.Check(t, p.end >= p.start, "%+v", p)
				}
			}
		})
	}
}

// TestProbeGivesUpAfter30s checks the probes' deadline where some are
// answered and others held unanswered: each held one fails as a timeout
// 30 s after it started, while the answered ones around it are answered.
func TestProbeGivesUpAfter30s(t *testing.T) {
	t.Parallel()
	var (
		n    atomic.Int32
		mu   sync.Mutex
		held []net.Conn
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	port := listen(t, func(c net.Conn) {
		readRequest(c)
		// Every other connection is held open and unanswered.
		if n.Add(1)%2 == 0 {
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			return
		}
		fmt.Fprint(c, "HTTP/1.0 200 OK\r\n\r\n")
		c.Close()
	})
	var answered, timedOut int
	for _, p := range runProbe(t, port) {
		switch {
		case p.kind == "A":
			answered++
		case p.kind == "F" && p.how == "timeout":
			timedOut++
			wait := p.end - p.start
			// 30 s, plus the loop's own lag.
			assert.Check(t, wait >= 30 && wait < 35, "a held probe gave up after %.2f s, want 30", wait)
		default:
			t.Errorf("unexpected probe %+v", p)
		}
	}
	assert.Check(t, answered > 0 && timedOut > 0, "answered %d, timed out %d", answered, timedOut)
}
