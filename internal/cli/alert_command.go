package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/doctor"
	"github.com/stigmer/stigmer/internal/logging"
	"github.com/stigmer/stigmer/internal/peer"
)

func newAlertCmd(info buildinfo.Info) *cobra.Command {
	group := &cobra.Command{
		Use:   "alert",
		Short: "Test the alerts: the journal, the webhook and mail",
		Long: `The server sends an alert when it died or a runner keeps crashing: always to
the journal at priority alert, and to a webhook and by mail when the env file
configures them (STIGMER_ALERT_*). "stigmer alert test" sends a test alert
through each of them.`,
	}
	group.AddCommand(newAlertTestCmd(info))
	return group
}

func newAlertTestCmd(info buildinfo.Info) *cobra.Command {
	var envFiles []string
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Send a test alert through every configured sink and print how each took it",
		Long: `Send a test alert (kind "test") through every sink the configuration names:
the journal always, the webhook (STIGMER_ALERT_WEBHOOK_URL) and mail
(STIGMER_ALERT_SMTP_*) when set; print each sink's result.

While the server runs, the server sends it, asked over its socket: with its
own configuration (as it was read at its start) and, for the service, under
the unit's sandbox, which is what a real alert meets. When no server runs, or
with --env-file, this command sends it itself, with the configuration of the
env file read as systemd reads it (as stigmer doctor reads it), and says that
it did so outside the unit's sandbox.

A test alert is not an alert of the server's: it starts no alert interval (the
next real alert is not held back) and is not recorded in the history. Its
webhook and mail deliveries, sent by the server, are counted in
stigmer_alert_sends_total like any delivery to those sinks: a failed one
means the sink would fail a real alert too.

Only root and the stigmer user may send one (the settings are secrets). Exits
0 when every sink took it, 1 when one did not, and 1 when only the journal is
configured: then nobody is told when stigmer dies.`,
		Example: "  sudo stigmer alert test\n  sudo stigmer alert test --env-file /etc/default/stigmer.new",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), alert.SendTimeout+15*time.Second)
			defer cancel()
			res, err := sendTestAlert(ctx, info, envFiles)
			if err != nil {
				return withExitCode(1, err)
			}
			return reportTestAlert(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringArrayVar(&envFiles, "env-file", nil, "send it from this command with the settings of this env file (e.g. an edit before the restart), even while a server runs; repeatable")
	return cmd
}

// testAlert is how a test alert went: who sent it, how, and each sink's
// result.
type testAlert struct {
	from       string // "by the server at ..." or "by this command ..."
	deliveries []api.Delivery
	// envFile is where the settings are changed, for the fixes.
	envFile string
}

// sendTestAlert has the running server send a test alert, or sends it
// itself with the env file's settings when no server answers (or
// envFiles are given).
func sendTestAlert(ctx context.Context, info buildinfo.Info, envFiles []string) (testAlert, error) {
	where := "no server socket found"
	if sock, ok := operatorSocket(); ok && len(envFiles) == 0 {
		at, err := operatorClient(sock).AlertTest(ctx)
		switch {
		case err == nil:
			how := fmt.Sprintf("by the server at %s (pid %d), with its configuration", sock, at.PID)
			if at.UnderSystemd {
				how += ", under the unit's sandbox"
			}
			return testAlert{from: how, deliveries: at.Deliveries, envFile: packagedEnvFile()}, nil
		case errors.Is(err, api.ErrNotServed):
			return testAlert{}, fmt.Errorf("the server at %s is older than this command and cannot send a test alert: restart it onto this version (sudo systemctl restart stigmer), or test the env file's settings with --env-file", sock)
		case !unreachable(err):
			return testAlert{}, fmt.Errorf("the server at %s: %w", sock, err)
		}
		where = "no server answers at " + sock
	}
	if len(envFiles) > 0 {
		where = "--env-file"
	}
	env := doctor.System(info.Version)
	env.EnvFiles = envFiles
	getenv, files, err := env.ServiceEnvironment(ctx)
	if err != nil {
		return testAlert{}, fmt.Errorf("%s, so this command sends it with the service's settings, but: %w", where, err)
	}
	source := "the env file " + strings.Join(files, ", ") + " (read as systemd reads it)"
	if len(files) == 0 {
		// No service here: the settings a dev server started from this
		// shell would get.
		getenv, source = os.Getenv, "this command's environment (no env file found)"
	}
	cfg, err := config.LoadAlerts(getenv)
	if err != nil {
		return testAlert{}, fmt.Errorf("the alert settings of %s are refused (the server would not start with them): %w", source, err)
	}
	sender := alert.NewSender(cfg, slog.New(alertOnly{journalHandler()}))
	sender.LogTo = "the journal as stigmer-server (journalctl -t stigmer-server -p alert)"
	if !journal.Enabled() {
		sender.LogTo = "this command's stderr (no journal here)"
	}
	res := testAlert{
		from:    fmt.Sprintf("by this command (%s), with the settings of %s, outside the unit's sandbox", where, source),
		envFile: packagedEnvFile(),
	}
	if len(files) > 0 {
		res.envFile = files[0]
	}
	for _, d := range sender.Deliver(ctx, alert.NewTest(info.Version, peer.Owner(os.Geteuid()))) {
		ad := api.Delivery{Sink: d.Sink, To: d.To, Seconds: d.Took.Seconds()}
		if d.Err != nil {
			ad.Error = d.Err.Error()
		}
		res.deliveries = append(res.deliveries, ad)
	}
	return res, nil
}

// reportTestAlert prints each sink's result, and fails when one failed or
// when the journal is the only sink.
func reportTestAlert(w io.Writer, res testAlert) error {
	fmt.Fprintf(w, "test alert sent %s:\n", res.from)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var failed []string
	for _, d := range res.deliveries {
		result := "ok"
		if d.Error != "" {
			result = "FAILED"
			failed = append(failed, d.Sink)
		}
		line := fmt.Sprintf("  %s\t%s\t%s (%.2f s)", d.Sink, result, d.To, d.Seconds)
		if d.Error != "" {
			line += ": " + d.Error
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case len(failed) > 0:
		return withExitCode(1, fmt.Errorf("the test alert did not reach %s: fix the settings (STIGMER_ALERT_* in %s) or the receiving end, then sudo systemctl restart stigmer and run stigmer alert test again", strings.Join(failed, " and "), res.envFile))
	case len(res.deliveries) < 2:
		return withExitCode(1, fmt.Errorf("alerts go to the journal only, so nobody is told when stigmer dies: set STIGMER_ALERT_WEBHOOK_URL, or STIGMER_ALERT_SMTP_SERVER with STIGMER_ALERT_SMTP_FROM and STIGMER_ALERT_SMTP_TO, in %s (its comments show each), then sudo systemctl restart stigmer and run stigmer alert test again", res.envFile))
	}
	return nil
}

// packagedEnvFile is the packaged env file of this host: the one that
// exists, else both names.
func packagedEnvFile() string {
	for _, p := range []string{"/etc/default/stigmer", "/etc/sysconfig/stigmer"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/etc/default/stigmer or /etc/sysconfig/stigmer"
}

// journalHandler writes to the journal when this machine has one (as the
// server's identifier, stigmer-server), else text on stderr.
func journalHandler() slog.Handler {
	if journal.Enabled() {
		return logging.NewJournalHandler("server", journal.Send, os.Stderr)
	}
	return logging.NewTextHandler(os.Stderr)
}

// alertOnly passes on the entries at priority alert only: the test alert's
// journal entry, not the sender's notes on each delivery, which the
// command prints itself.
type alertOnly struct{ slog.Handler }

func (h alertOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= logging.LevelAlert && h.Handler.Enabled(ctx, l)
}

func (h alertOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return alertOnly{h.Handler.WithAttrs(attrs)}
}

func (h alertOnly) WithGroup(name string) slog.Handler { return alertOnly{h.Handler.WithGroup(name)} }
