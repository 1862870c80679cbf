package supervisor

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// ExitReason is why a runner's run ended, as restarts are counted. The set
// is fixed and small, so that each reason can be a metric label.
type ExitReason string

// The reasons a run ends. A run the supervisor killed counts under why it
// killed it, whatever the signal; the others under how the process ended.
const (
	ExitCode          ExitReason = "exit_code"      // exited on its own, with any status (0 too)
	ExitSignal        ExitReason = "signal"         // killed by a signal the supervisor did not send (a crash, kill -9, the OOM killer)
	ExitHung          ExitReason = "hung"           // killed by the supervisor: registered, then no heartbeat for HungAfter, or not exited StopTimeout after deregistering
	ExitNotRegistered ExitReason = "not_registered" // killed by the supervisor: not registered within RegisterTimeout
	ExitStartFailed   ExitReason = "start_failed"   // never ran: the process could not be started
)

// ExitReasons returns every ExitReason, in a fixed order.
func ExitReasons() []ExitReason {
	return []ExitReason{ExitCode, ExitSignal, ExitHung, ExitNotRegistered, ExitStartFailed}
}

// describeExit says how a child ended, the way an operator reads it:
// "exit status 3", "signal 9 (killed)".
func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	ws, ok := waitStatus(err)
	switch {
	case !ok:
		return err.Error()
	case ws.Signaled():
		return fmt.Sprintf("signal %d (%s)", int(ws.Signal()), ws.Signal())
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	default:
		return err.Error()
	}
}

// classifyExit is the reason and exit code of a child that ran and ended
// with Wait's err (not one the supervisor killed). The code is the exit
// status, or 128+N when signal N ended it, as a shell reports it (and as
// `docker run` does for a killed container); -1 when Wait's error does not
// say.
func classifyExit(err error) (ExitReason, int) {
	if err == nil {
		return ExitCode, 0
	}
	ws, ok := waitStatus(err)
	switch {
	case ok && ws.Signaled():
		return ExitSignal, 128 + int(ws.Signal())
	case ok && ws.Exited():
		return ExitCode, ws.ExitStatus()
	default:
		return ExitCode, -1
	}
}

// waitStatus is the wait status inside Wait's error, if it holds one.
func waitStatus(err error) (syscall.WaitStatus, bool) {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ws, ok
}
