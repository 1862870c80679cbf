package supervisor

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr gives each runner its own process group and the parent-death
// signal.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Own process group: signals go to the runner and anything it
		// started (a container CLI), and a terminal's ^C reaches only the
		// server, which then stops the runners in order.
		Setpgid: true,
		// SIGTERM, not SIGKILL, when the server dies: a runner drains and
		// exits 0, and `docker run` passes SIGTERM on to its container,
		// which SIGKILL would leave running. The kernel sends it when the
		// forking thread ends, hence startChild's locked thread.
		Pdeathsig: syscall.SIGTERM,
	}
}

// reap waits until the child has exited without reaping it (WNOWAIT: it
// stays a zombie that holds its PID and process group), then reaps it
// under mu, so that signalGroup either runs before the reaping or sees
// reaped.
func (c *child) reap() error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break // on another error Wait below reports what happened
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.cmd.Wait()
	c.reaped = true
	return err
}
