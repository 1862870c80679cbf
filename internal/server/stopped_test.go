package server

import (
	"testing"

	"gotest.tools/v3/assert"
)

// TestDescribeServiceEnd: what systemd gives ExecStopPost (systemd.exec(5),
// the values seen in the VM test) and what the history and alert say.
func TestDescribeServiceEnd(t *testing.T) {
	for _, tc := range []struct {
		result, code, status, crash string
		want                        string
		clean                       bool
	}{
		{"success", "exited", "0", "", "clean stop", true},
		{"signal", "killed", "KILL", "", "killed by SIGKILL", false},
		{"core-dump", "dumped", "SEGV", "", "crashed with SIGSEGV (core dumped)", false},
		{"watchdog", "dumped", "ABRT", "", "watchdog timeout (the server stopped answering for WatchdogSec), then crashed with SIGABRT (core dumped)", false},
		{"oom-kill", "killed", "KILL", "", "killed by the kernel's OOM killer (killed by SIGKILL)", false},
		{"timeout", "exited", "0", "", "timed out starting or stopping, then exited with status 0", false},
		{"exit-code", "exited", "78", "", "exited with status 78 (EX_CONFIG: a bad configuration; not restarted until it is fixed, see `journalctl -u stigmer -n 20`)", false},
		{"exit-code", "exited", "1", "", "exited with status 1", false},
		// Death by SIGHUP is "success" to systemd, not to the operator.
		{"success", "killed", "HUP", "", "killed by SIGHUP", false},
		{"resources", "exited", "226", "", "exited with status 226 (result: resources)", false},
		// What kill -SEGV and the watchdog's SIGABRT do to a Go program.
		{"exit-code", "exited", "2", "SIGSEGV: segmentation violation", "crashed (Go runtime: SIGSEGV: segmentation violation), exit status 2", false},
		{"watchdog", "exited", "2", "SIGABRT: abort", "watchdog timeout (the server stopped answering for WatchdogSec), then crashed (Go runtime: SIGABRT: abort), exit status 2", false},
	} {
		got, clean := describeServiceEnd(tc.result, tc.code, tc.status, tc.crash)
		assert.Equal(t, got, tc.want)
		assert.Equal(t, clean, tc.clean, "%s %s %s", tc.result, tc.code, tc.status)
	}
}
