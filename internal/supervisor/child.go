package supervisor

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// child is one started runner process. One goroutine, locked to its OS
// thread, starts it, waits for it and reaps it: the parent-death signal
// (Linux's Pdeathsig) fires when the thread that forked the child exits,
// not when the process does, and the Go runtime ends a thread whenever a
// goroutine exits while locked to it (a dependency may do so). The thread
// that forked therefore lives, locked, for the child's whole life.
type child struct {
	cmd    *exec.Cmd
	pid    int
	exited chan error // Wait's result, once the child has been reaped

	// mu is held while the child is reaped, and reaped is set then:
	// signalGroup checks it under mu, so that no signal ever goes to the
	// PID (or process group) of a child that was reaped, whose number the
	// kernel may have given to an unrelated process.
	mu     sync.Mutex
	reaped bool
	// kill is syscall.Kill; tests record the signals through it.
	kill func(pid int, sig syscall.Signal) error
}

// startChild runs start (which calls cmd.Start, and may refuse) on a
// goroutine locked to its OS thread, which then waits for the child and
// reaps it. It returns start's error, or the started child.
func startChild(cmd *exec.Cmd, start func() error) (*child, error) {
	c := &child{cmd: cmd, exited: make(chan error, 1), kill: syscall.Kill}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only once the child has been reaped: from then on the
		// thread may be reused, or ended, without harm.
		defer runtime.UnlockOSThread()
		if err := start(); err != nil {
			started <- err
			return
		}
		c.pid = cmd.Process.Pid
		started <- nil
		c.exited <- c.reap()
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// signalGroup sends sig to the child's process group (its PID, see
// Setpgid), or to the child alone when the group is gone; once the child
// has been reaped it does nothing.
func (c *child) signalGroup(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return
	}
	if err := c.kill(-c.pid, sig); err != nil {
		// Through the process handle, which knows whether the process
		// has been waited for ("process already finished" is fine).
		_ = c.cmd.Process.Signal(sig)
	}
}
