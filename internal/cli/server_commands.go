package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/devserver"
	"github.com/stigmer/stigmer/internal/server"
)

func addServerCommands(root *cobra.Command, info buildinfo.Info) {
	srv := &cobra.Command{
		Use:   "server",
		Short: "Start, stop and inspect the Stigmer server",
		Long: `Start, stop and inspect the Stigmer server.

In production the server runs as the systemd service stigmer.service, which
the packages install, enable and start; "server status" works for it too.
"server start" and "server stop" run a development server without systemd,
with its PID file, address file and logs under $STIGMER_HOME (~/.stigmer).`,
	}
	srv.AddCommand(newServerStartCmd(info), newServerStopCmd(), newServerStatusCmd())
	root.AddCommand(srv,
		newInternalServerCmd(info),
		newInternalStoppedCmd(info),
		newEventsCmd(),
		newRunnerCmd(server.WorkflowRunner),
		newRunnerCmd(server.AgentRunner),
	)
}

func devPaths() (devserver.Paths, error) {
	home, err := config.Home(os.Getenv)
	if err != nil {
		return devserver.Paths{}, withExitCode(config.ExitCode, err)
	}
	return devserver.PathsIn(home), nil
}

func newServerStartCmd(info buildinfo.Info) *cobra.Command {
	var foreground bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a development server in the background (no systemd)",
		Long: `Start a development server in the background, in its own session, and wait
until it is ready. Its PID file, address file and log file live under
$STIGMER_HOME (default ~/.stigmer). With --foreground it runs attached to the
terminal until Ctrl-C. It refuses to start when stigmer.service is active or
the listen address (STIGMER_LISTEN, default 127.0.0.1:7234) is taken.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := devPaths()
			if err != nil {
				return err
			}
			if err := os.Setenv("STIGMER_HOME", p.Home); err != nil {
				return err
			}
			cfg, err := config.Load(os.Getenv)
			if err != nil {
				return configExit(err)
			}
			if !foreground {
				// The server logs these to its log file; say them here too.
				for _, u := range config.Unknown(os.Environ()) {
					fmt.Fprintf(cmd.ErrOrStderr(), "stigmer: warning: %s; fix its name in the environment\n", u)
				}
			}
			if err := devserver.CheckCanStart(cmd.Context(), p, cfg.Listen); err != nil {
				return withExitCode(1, err)
			}
			if foreground {
				return runServer(cmd, info, p.AddressFile, p.PIDFile, true)
			}
			exe, err := os.Executable()
			if err != nil {
				return withExitCode(1, err)
			}
			st, err := devserver.Start(cmd.Context(), exe, p, timeout)
			if err != nil {
				return withExitCode(1, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stigmer server ready on http://%s (pid %d)\n  logs:   %s\n  status: stigmer server status\n  stop:   stigmer server stop\n",
				st.Address, st.PID, st.LogFile)
			return nil
		},
	}
	cmd.Flags().BoolVar(&foreground, "foreground", false, "run attached to the terminal instead of in the background")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the server to be ready")
	return cmd
}

func newServerStopCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the development server (SIGTERM, then wait)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := devPaths()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			st, err := devserver.Stop(cmd.Context(), p, timeout)
			switch {
			case errors.Is(err, devserver.ErrNotRunning):
				if devserver.ServiceActive(cmd.Context()) {
					fmt.Fprintf(out, "no stigmer dev server is running (no live PID in %s); the server here is stigmer.service: stop it with `sudo systemctl stop stigmer`\n", p.PIDFile)
				} else {
					fmt.Fprintf(out, "no stigmer dev server is running (no live PID in %s)\n", p.PIDFile)
				}
				return nil
			case err != nil:
				return withExitCode(1, err)
			}
			fmt.Fprintf(out, "stigmer server stopped (pid %d, in %s)\n", st.PID, st.Took.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the server to exit")
	return cmd
}

func newServerStatusCmd() *cobra.Command {
	var asJSON bool
	var address string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the server's components: PID, state, uptime, restarts, last exit",
		Long: `Ask the server for its state and print each component (the server and its
two runners) with its PID, state, uptime, restart count and last exit. It
asks over the server's socket (/run/stigmer/stigmer.sock for the service,
$STIGMER_HOME/run/stigmer.sock for a dev server, in STIGMER_RUNTIME_DIR when
set) when there is one, else over the API: --address, else the running dev
server's, else STIGMER_LISTEN, else 127.0.0.1:7234. Either way it refuses a
server that root, the stigmer user or you do not run, naming who does:
something else may have taken the port while the service was stopped.
Under systemd it also shows the unit: its state, whether it is enabled,
systemd's restart count (NRestarts) and how its last run ended, read over
D-Bus (any user may). Exits 1 when the server cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			where := statusAddress(address)
			client := tcpClient(where)
			if sock, ok := operatorSocket(); ok && address == "" {
				where, client = sock, operatorClient(sock)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			unit, unitErr := readUnit(ctx)
			out := cmd.OutOrStdout()
			st, err := client.Status(ctx)
			if err != nil {
				err = withExitCode(1, fmt.Errorf("cannot reach the stigmer server at %s: %w; is it running? (`systemctl status stigmer`, or `stigmer server start` for development; --address or STIGMER_LISTEN pick another address)", where, err))
				if asJSON {
					// What is known without the server: the unit.
					return errors.Join(err, printJSON(out, statusFailure{newJSONFailure(err), where, unit}))
				}
				printUnit(out, unit, unitErr)
				return err
			}
			if asJSON {
				return printJSON(out, statusOutput{Status: st, Unit: unit})
			}
			if err := printStatus(out, st); err != nil {
				return err
			}
			printUnit(out, unit, unitErr)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON (with \"unit\" under systemd); when the server cannot be reached, {error, exit_code, address, unit}")
	cmd.Flags().StringVar(&address, "address", "", "host:port of the server's API")
	return cmd
}

// statusAddress picks the API address: the flag, else a running dev
// server's own (it may listen on a port chosen at start), else
// STIGMER_LISTEN, else the default.
func statusAddress(flag string) string {
	if flag != "" {
		return flag
	}
	if home, err := config.Home(os.Getenv); err == nil {
		if addr, ok := devserver.Address(devserver.PathsIn(home)); ok {
			return addr
		}
	}
	if env := os.Getenv("STIGMER_LISTEN"); env != "" {
		return env
	}
	return config.DefaultListen
}

func printStatus(w io.Writer, st api.Status) error {
	state := "ready"
	if !st.Ready {
		state = "not ready: " + st.Reason
	}
	fmt.Fprintf(w, "stigmer %s on %s: %s (up %s)\n", st.Version, st.Listen, state, seconds(st.UptimeSeconds))
	if st.History != "" {
		fmt.Fprintf(w, "history %s\n", st.History)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tUPTIME\tRESTARTS\tLAST EXIT")
	for _, c := range st.Components {
		pid, uptime, last := "-", "-", "-"
		if c.PID != 0 {
			pid, uptime = fmt.Sprint(c.PID), seconds(c.UptimeSeconds)
		}
		if c.LastExit != "" {
			last = c.LastExit
			if c.LastExitAt != nil {
				last += fmt.Sprintf(" (%s ago)", seconds(time.Since(*c.LastExitAt).Seconds()))
			}
		}
		name := c.Name
		if c.Mode == "container" {
			name += " (container)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", name, pid, c.State, uptime, c.Restarts, strings.TrimSpace(last))
	}
	return tw.Flush()
}

// seconds renders a duration the way people read uptimes: 3s, 4m12s, 2h5m.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}
