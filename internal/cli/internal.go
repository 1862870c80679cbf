package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/runner"
	"github.com/stigmer/stigmer/internal/server"
)

// newInternalServerCmd is what stigmer.service runs.
func newInternalServerCmd(info buildinfo.Info) *cobra.Command {
	var addressFile, pidFile string
	cmd := &cobra.Command{
		Use:    "internal-server",
		Short:  "Run the server in the foreground (what stigmer.service runs)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd, info, addressFile, pidFile)
		},
	}
	cmd.Flags().StringVar(&addressFile, "address-file", "", "write the listen address to this file")
	cmd.Flags().StringVar(&pidFile, "pid-file", "", "write the server's PID to this file")
	return cmd
}

// runServer loads the configuration and runs the server, mapping a bad
// configuration to exit 78 (EX_CONFIG) and everything else to 1.
func runServer(cmd *cobra.Command, info buildinfo.Info, addressFile, pidFile string) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return configExit(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return withExitCode(1, err)
	}
	return withExitCode(1, server.Run(cmd.Context(), server.Options{
		Info: info, Config: cfg, Log: logging.New("server", os.Stderr),
		Executable: exe, AddressFile: addressFile, PIDFile: pidFile,
	}))
}

// configExit gives a *config.Error the exit code systemd is told not to
// restart on.
func configExit(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return withExitCode(config.ExitCode, err)
	}
	return withExitCode(1, err)
}

// newRunnerCmd is one of the runners the server starts.
func newRunnerCmd(name string) *cobra.Command {
	return &cobra.Command{
		Use:    "internal-" + name,
		Short:  "Run the " + name + " (started by the server only)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logging.New(name, os.Stderr)
			opts, err := runner.FromEnv(name, os.Getenv, log)
			if err != nil {
				return withExitCode(2, err)
			}
			if err := runner.Run(cmd.Context(), opts); err != nil {
				// Logged, not printed: the log reaches the journal under
				// this runner's identifier, stderr would not.
				log.Error("runner failed", "err", err)
				return exitSilently(1)
			}
			return nil
		},
	}
}
