//go:build !linux

package supervisor

import "syscall"

// procAttr gives each runner its own process group. There is no
// parent-death signal outside Linux: the server stops its runners' process
// groups on the way out (Run), and a runner whose server died without that
// (kill -9) exits once the server has been unreachable for a minute.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// reap waits for the child and reaps it. Without a portable way to wait
// without reaping, a signal may here race the reaping by a moment; this
// path serves the dev server on a developer's machine only.
func (c *child) reap() error {
	err := c.cmd.Wait()
	c.mu.Lock()
	c.reaped = true
	c.mu.Unlock()
	return err
}
