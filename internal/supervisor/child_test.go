package supervisor

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestNoSignalAfterTheChildWasReaped(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	cmd.SysProcAttr = procAttr()
	c, err := startChild(cmd, cmd.Start)
	assert.NilError(t, err)
	assert.NilError(t, <-c.exited)

	// Its PID is free now and may belong to another process: nothing may
	// be sent to it.
	var sent []int
	c.mu.Lock()
	c.kill = func(pid int, sig syscall.Signal) error { sent = append(sent, pid); return nil }
	c.mu.Unlock()
	c.signalGroup(syscall.SIGKILL)
	c.signalGroup(syscall.SIGTERM)
	assert.Assert(t, len(sent) == 0, "signalled %v after reaping", sent)
}

func TestSignalReachesTheGroupOfARunningChild(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 600 & wait")
	cmd.SysProcAttr = procAttr()
	c, err := startChild(cmd, cmd.Start)
	assert.NilError(t, err)
	c.signalGroup(syscall.SIGTERM)
	err = <-c.exited
	assert.Equal(t, describeExit(err), "signal 15 (terminated)")
}

func TestChildOutlivesThreadsThatEnd(t *testing.T) {
	// Pdeathsig fires when the thread that forked the child ends. Other
	// goroutines that lock their thread and exit end their thread; the
	// child must not get the parent-death signal for it.
	cmd := exec.Command("/bin/sh", "-c", "exec sleep 600")
	cmd.SysProcAttr = procAttr()
	c, err := startChild(cmd, cmd.Start)
	assert.NilError(t, err)
	ended := false
	defer func() {
		if !ended {
			c.signalGroup(syscall.SIGKILL)
			<-c.exited
		}
	}()

	for range 4 * runtime.NumCPU() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				runtime.LockOSThread() // never unlocked: the thread ends
			})
		}
		wg.Wait()
		select {
		case err := <-c.exited:
			ended = true
			t.Fatalf("the child ended while other threads ended: %s", describeExit(err))
		default:
		}
	}
	select {
	case err := <-c.exited:
		ended = true
		t.Fatalf("the child ended while other threads ended: %s", describeExit(err))
	case <-time.After(200 * time.Millisecond): // a signal in flight lands by then
	}
}
