// Package cli wires the stigmer commands (cobra) to the packages that do the
// work, and maps their errors to exit codes. It holds no behaviour of its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/printable"
)

// exitError carries a process exit code up to Run, with the message already
// meant for a person.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withExitCode marks err so that Run exits with code.
func withExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitSilently exits with code, printing nothing: the failure was logged.
func exitSilently(code int) error { return &exitError{code: code} }

// Run executes the command line args and returns the process exit code.
// Errors are printed once, here, as "stigmer: <message>".
func Run(ctx context.Context, info buildinfo.Info, args []string) int {
	// Everything printed may quote the server (its status, history,
	// errors): what a terminal would act on is escaped.
	stdout, stderr := printable.Writer(os.Stdout), printable.Writer(os.Stderr)
	root := NewRoot(info, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "stigmer: %v\n\n%s", err, ue.cmd.UsageString())
		return ExitUsage
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code
	}
	fmt.Fprintf(stderr, "stigmer: %v\n", err)
	if ee != nil {
		return ee.code
	}
	return 1
}

// NewRoot builds the whole command tree. stdout and stderr are where the
// commands print; tests pass buffers.
func NewRoot(info buildinfo.Info, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "stigmer",
		Short: "Stigmer: an AI agent workflow platform",
		Long: `Stigmer is an AI agent workflow platform. The stigmer binary is its server,
the two runners the server supervises (workflow-runner and agent-runner), and
the command line that operators use to run and inspect it.

On a server the packages run it as the systemd service stigmer.service
(see "systemctl status stigmer" and "journalctl -u stigmer"); for development
"stigmer server start" runs it in the background without systemd; the
service is described in stigmer.service(8).`,
		Version:       info.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version prints what `stigmer version` prints first.
	root.SetVersionTemplate("stigmer {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newVersionCmd(info),
		newGenDocsCmd(),
		newDoctorCmd(info),
		newBackupCmd(),
		newRestoreCmd(),
		newAlertCmd(info),
	)
	addServerCommands(root, info)
	// cobra adds these when it runs; added here, they get strictUsage too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	hideCompletions(root)
	strictUsage(root)
	strictHelp(root)
	return root
}
