package supervisor

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// describeExit says how a child ended, the way an operator reads it:
// "exit status 3", "signal 9 (killed)".
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err.Error()
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return ee.Error()
	}
	switch {
	case ws.Signaled():
		return fmt.Sprintf("signal %d (%s)", int(ws.Signal()), ws.Signal())
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	default:
		return ee.Error()
	}
}
