package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
			return runServer(cmd, info, addressFile, pidFile, false)
		},
	}
	cmd.Flags().StringVar(&addressFile, "address-file", "", "write the listen address to this file")
	cmd.Flags().StringVar(&pidFile, "pid-file", "", "write the server's PID to this file")
	return cmd
}

// runServer loads the configuration and runs the server, mapping a bad
// configuration to exit 78 (EX_CONFIG) and everything else to 1. The first
// SIGINT or SIGTERM (and, with onHangup, SIGHUP: the terminal of
// `server start --foreground` closed) stops it in order; a second one
// during that stop makes it immediate.
func runServer(cmd *cobra.Command, info buildinfo.Info, addressFile, pidFile string, onHangup bool) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return configExit(err)
	}
	exe, err := os.Executable()
	if err != nil {
		return withExitCode(1, err)
	}
	log, recent, err := logging.WithRecent(logging.New("server", os.Stderr), cfg.LogDir)
	if err != nil {
		log.Warn("the last log lines are not kept for alerts", "err", err)
	} else {
		defer recent.Close()
	}
	for _, u := range config.Unknown(os.Environ()) {
		log.Warn(u.String()+"; "+unknownVarFix, "variable", u.Name, "closest", u.Closest)
	}
	ctx, hurry, release := stopSignals(cmd.Context(), onHangup)
	defer release()
	// configExit: a STIGMER_LISTEN that differs from the socket systemd
	// kept is a configuration error too.
	return configExit(server.Run(ctx, server.Options{
		Info: info, Config: cfg, Log: log,
		Executable: exe, AddressFile: addressFile, PIDFile: pidFile, Hurry: hurry,
	}))
}

// stopSignals returns a context that the first stop signal cancels, and a
// channel that the second one closes. main's context covers SIGINT and
// SIGTERM already; these are caught here too, to count them. release
// stops the catching.
func stopSignals(parent context.Context, onHangup bool) (ctx context.Context, hurry <-chan struct{}, release func()) {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if onHangup {
		sigs = append(sigs, syscall.SIGHUP)
	}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, sigs...)
	ctx, cancel := context.WithCancelCause(parent)
	second := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			cancel(fmt.Errorf("%v signal received", sig))
		case <-done:
			return
		}
		select {
		case <-ch:
			close(second)
		case <-done:
		}
	}()
	return ctx, second, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// unknownVarFix is where a misnamed variable is set.
const unknownVarFix = "fix its name in the env file (/etc/default/stigmer or /etc/sysconfig/stigmer), the unit's Environment= (systemctl cat stigmer) or the environment"

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

// newInternalStoppedCmd is stigmer.service's ExecStopPost=: it records how
// the server ended and sends the alert when that was not a clean stop.
// It runs under the unit's hardening, as the stigmer user.
func newInternalStoppedCmd(info buildinfo.Info) *cobra.Command {
	return &cobra.Command{
		Use:    "internal-stopped",
		Short:  "Record how the server ended and alert (what stigmer.service runs after it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logging.New("server", os.Stderr)
			alerts, err := config.LoadAlerts(os.Getenv)
			if err != nil {
				log.Error("alert settings refused: the alert goes to the journal only", "err", err)
				alerts = config.Alerts{Interval: config.DefaultAlertInterval}
			}
			dataDir, logDir, err := config.Dirs(os.Getenv)
			if err != nil {
				return withExitCode(2, err)
			}
			return withExitCode(2, server.Stopped(cmd.Context(), server.StoppedOptions{
				Version: info.Version, Result: os.Getenv("SERVICE_RESULT"),
				ExitCode: os.Getenv("EXIT_CODE"), ExitStatus: os.Getenv("EXIT_STATUS"),
				DataDir: dataDir, LogDir: logDir, Alerts: alerts, Log: log,
			}))
		},
	}
}
