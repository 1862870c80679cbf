package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// The benchmarks print figures; nothing here asserts on speed. Goals from
// the binary's issue: ready within 300 ms, a runner back within 1 s, under
// 64 MB resident for the three processes.

// BenchmarkStartToReady measures from exec to READY=1 on NOTIFY_SOCKET.
func BenchmarkStartToReady(b *testing.B) {
	sock := filepath.Join(b.TempDir(), "n.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	assert.NilError(b, err)
	defer conn.Close()
	buf := make([]byte, 4096)
	var total time.Duration
	for b.Loop() {
		start := time.Now()
		s := startServer(b, testEnv(b, "NOTIFY_SOCKET="+sock))
		for {
			assert.NilError(b, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
			n, _, err := conn.ReadFromUnix(buf)
			assert.NilError(b, err)
			if strings.Contains(string(buf[:n]), "READY=1") {
				break
			}
		}
		total += time.Since(start)
		b.StopTimer()
		assert.NilError(b, syscall.Kill(s.pid, syscall.SIGTERM))
		<-s.exited
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-READY")
}

// BenchmarkRunnerKillToRegistered measures from kill -9 of the
// workflow-runner to its successor registered (state up), on a fresh
// server each time so that every kill is a first restart.
func BenchmarkRunnerKillToRegistered(b *testing.B) {
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s := startServer(b, testEnv(b))
		s.waitReady(b)
		old := component(s.status(b), "workflow-runner").PID
		b.StartTimer()
		start := time.Now()
		assert.NilError(b, syscall.Kill(old, syscall.SIGKILL))
		s.waitRunner(b, "workflow-runner", old)
		total += time.Since(start)
		b.StopTimer()
		s.kill(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-registered")
}

// BenchmarkIdleRSS reports the resident memory of the server and both
// runners together after two seconds of idling.
func BenchmarkIdleRSS(b *testing.B) {
	var rss int64
	for b.Loop() {
		b.StopTimer()
		s := startServer(b, testEnv(b))
		s.waitReady(b)
		<-time.After(2 * time.Second) // let start-up garbage be collected
		rss = 0
		for _, c := range s.status(b).Components {
			kb, err := vmRSSKiB(c.PID)
			assert.NilError(b, err)
			rss += kb
		}
		s.kill(b)
		b.StartTimer()
	}
	b.ReportMetric(float64(rss)/1024, "MiB-RSS-tree")
}

func vmRSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
