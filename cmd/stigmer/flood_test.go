package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// flood holds n connections to addr until ctx ends, each sending the
// headers of a runner's heartbeat with a body announced and never sent,
// and opening a new one as soon as the server cuts it: what a local user
// could do to the public API. It returns how many connections it made.
func flood(ctx context.Context, addr string, n int) int {
	var made sync.WaitGroup
	var mu sync.Mutex
	total := 0
	req := fmt.Sprintf("POST /api/v1/runners/heartbeat HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n", addr)
	for range n {
		made.Go(func() {
			var d net.Dialer
			buf := make([]byte, 512)
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					continue
				}
				mu.Lock()
				total++
				mu.Unlock()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				if _, err := c.Write([]byte(req)); err == nil {
					for {
						if _, err := c.Read(buf); err != nil {
							break // cut by the server, or the flood is over
						}
					}
				}
				stop()
				c.Close()
			}
		})
	}
	made.Wait()
	return total
}

// TestAFloodStopsNeitherTheWatchdogNorTheRunners: ~900 connections that
// each send a request's headers and never its body filled the API's
// connection cap; the watchdog's health check (a /readyz over TCP) and the
// runners' heartbeats queued behind them, WATCHDOG=1 stopped, and both
// runners were killed as hung; under systemd, SIGABRT and a restart, for as
// long as the flood lasted. Now the health check runs in process, the
// runners talk over their own channel, and the public listener shares its
// slots and cuts what trickles: through 15 s of flood (more than the 10 s
// after which a runner without heartbeats is killed) WATCHDOG=1 keeps
// coming, no runner restarts, and another client's /readyz is answered.
func TestAFloodStopsNeitherTheWatchdogNorTheRunners(t *testing.T) {
	const watchdog = 3 * time.Second // a ping every 1.5 s
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(t, err)
	defer conn.Close()
	s := startServer(t, testEnv(t, "NOTIFY_SOCKET="+sock, fmt.Sprintf("WATCHDOG_USEC=%d", watchdog.Microseconds())))
	s.waitReady(t)
	before := s.status(t)

	// The pings, as systemd would time them.
	var pings []time.Time
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "WATCHDOG=1" {
				pings = append(pings, time.Now())
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	var probes []string
	probed := make(chan struct{})
	go func() {
		// Another client (root's curl in the VM test), once a second.
		defer close(probed)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			resp, err := client.Get("http://" + s.addr + "/readyz")
			if err != nil {
				probes = append(probes, err.Error())
				continue
			}
			resp.Body.Close()
			probes = append(probes, resp.Status)
		}
	}()
	made := flood(ctx, s.addr, 900)
	end := time.Now()
	<-probed
	assert.NilError(t, conn.SetReadDeadline(time.Now()))
	<-pinged
	t.Logf("%d flood connections in %s; %d pings; probes: %v", made, end.Sub(start).Round(time.Millisecond), len(pings), probes)

	last := start
	for _, p := range append(pings, end) {
		if p.After(end) {
			p = end
		}
		assert.Check(t, p.Sub(last) < watchdog, "no WATCHDOG=1 for %s (WatchdogSec %s) at %s into the flood",
			p.Sub(last).Round(time.Millisecond), watchdog, last.Sub(start).Round(time.Millisecond))
		if p.After(last) {
			last = p
		}
	}
	answered := 0
	for _, p := range probes {
		if p == "200 OK" {
			answered++
		}
	}
	assert.Check(t, len(probes) >= 5 && answered == len(probes), "/readyz during the flood: %d of %d answered 200: %v", answered, len(probes), probes)
	after := s.status(t)
	for _, name := range []string{"workflow-runner", "agent-runner"} {
		b, a := component(before, name), component(after, name)
		assert.Check(t, a.Restarts == b.Restarts && a.PID == b.PID, "%s restarted: pid %d -> %d, restarts %d -> %d (%s)", name, b.PID, a.PID, b.Restarts, a.Restarts, a.LastExit)
	}
	assert.Check(t, !strings.Contains(s.log(), "health check failed"), "log:\n%s", s.log())
}
