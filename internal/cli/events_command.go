package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/doctor"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/systemdtime"
)

func newEventsCmd() *cobra.Command {
	var asJSON bool
	var since string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List the server's and runners' lifecycle history: starts, exits, restarts, alerts",
		Long: `List what happened to the server and its runners, oldest first: each start
(with how the previous run ended), each exit with its code or signal and the
restart delay, each alert. The server keeps the history in history.db in its
data directory (/var/lib/stigmer), bounded to the newest 10 000 events.

While the server runs the list comes from the server, over its socket
(/run/stigmer/stigmer.sock for the service, $STIGMER_HOME/run/stigmer.sock
for a dev server, in STIGMER_RUNTIME_DIR when set), which tells the server
who asks; when it does not run, from the file. Only root and the stigmer
user may read either: the history quotes the server's log lines. A socket
that root, the stigmer user or you do not serve is refused.`,
		Example: "  stigmer events --since today\n  stigmer events --since \"2 hours ago\"\n  stigmer events --since \"2026-11-29 06:00\" --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			from, err := parseSince(since, time.Now())
			if err != nil {
				return failJSON(out, asJSON, withExitCode(ExitUsage, err))
			}
			events, note, err := fetchEvents(cmd.Context(), historyDir(), from)
			if err != nil {
				return failJSON(out, asJSON, withExitCode(1, err))
			}
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), note)
			}
			if asJSON {
				return printJSON(out, api.EventList{Events: events})
			}
			return printEvents(out, events)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only events at or after this time, as journalctl --since takes it: today, yesterday, 2026-12-06, \"2026-12-06 14:30\", 1h, -2d, \"2 hours ago\"")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the events as JSON ({events: [...]}; on failure {error, exit_code})")
	return cmd
}

// parseSince reads --since as journalctl does (systemd.time(7)), and a
// bare span as that long ago.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := systemdtime.Since(v, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q is not a time: use what journalctl --since takes, such as today, yesterday, 2026-12-06, \"2026-12-06 14:30\", 2026-12-06T14:30:00Z, 1h, -2d or \"2 hours ago\" (%v)", v, err)
	}
	return t, nil
}

// fetchEvents asks the running server over its operator socket, and reads
// the file when no server answers there (the server holds the file while
// it runs). note says which file was read.
func fetchEvents(ctx context.Context, dir string, since time.Time) ([]history.Event, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sock, ok := operatorSocket()
	where := "no server socket found"
	if ok {
		events, err := operatorClient(sock).Events(ctx, since)
		if err == nil {
			return events, "", nil
		}
		if !unreachable(err) {
			return nil, "", fmt.Errorf("the server at %s: %w", sock, err)
		}
		where = fmt.Sprintf("no server answers at %s (%v)", sock, err)
	}
	st, ferr := history.Open(dir, history.Options{ReadOnly: true, LockTimeout: time.Second})
	if ferr != nil {
		if errors.Is(ferr, os.ErrNotExist) {
			return nil, "", fmt.Errorf("%s, and there is no history in %s yet", where, dir)
		}
		return nil, "", fmt.Errorf("%s, and the history cannot be read: %w", where, ferr)
	}
	defer st.Close()
	events, err := st.Events(since)
	return events, "stigmer: " + where + "; read " + st.Path(), err
}

// unreachable is an error that means no server listens on the socket (a
// socket left by a server that died), as opposed to one that answered,
// or one that is refused (peer.ErrUntrusted).
func unreachable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNRESET)
}

// historyDir is the data directory whose history to read: STIGMER_DATA_DIR,
// else the packaged service's when it has one, else the dev server's.
func historyDir() string {
	if v := os.Getenv("STIGMER_DATA_DIR"); v != "" {
		return v
	}
	if _, err := os.Lstat(filepath.Join(config.DefaultSystemDataDir, history.FileName)); err == nil || errors.Is(err, os.ErrPermission) {
		return config.DefaultSystemDataDir
	}
	if home, err := config.Home(os.Getenv); err == nil {
		return home
	}
	return config.DefaultSystemDataDir
}

func printEvents(w io.Writer, events []history.Event) error {
	if len(events) == 0 {
		fmt.Fprintln(w, "no events")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tCOMPONENT\tPID\tWHAT")
	for _, e := range events {
		pid := "-"
		if e.PID != 0 {
			pid = fmt.Sprint(e.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Component, pid, what(e))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The newest end with log lines: what an operator reads first.
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; len(e.Logs) > 0 {
			fmt.Fprintf(w, "\nlast log lines before the %s at %s (all: --json):\n  %s\n", e.Kind, e.Time.Local().Format("15:04:05"), strings.Join(e.Logs, "\n  "))
			break
		}
	}
	return nil
}

// what is an event's one line: why, how it ended, when it comes back.
func what(e history.Event) string {
	parts := []string{}
	for _, p := range []string{e.Exit, e.Reason} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if e.RestartInMS > 0 {
		parts = append(parts, "restart in "+(time.Duration(e.RestartInMS)*time.Millisecond).String())
	}
	return strings.Join(parts, "; ")
}

// crashHistory is doctor's view of the history: the last unclean end of the
// server, read like `stigmer events` (the API, else the file).
type crashHistory struct {
	ctx context.Context
	dir string
}

func openCrashHistory(ctx context.Context) func(dataDir string) (doctor.CrashHistory, error) {
	return func(dataDir string) (doctor.CrashHistory, error) {
		return crashHistory{ctx: ctx, dir: dataDir}, nil
	}
}

// LastCrash implements doctor.CrashHistory.
func (h crashHistory) LastCrash() (*doctor.Crash, error) {
	events, _, err := fetchEvents(h.ctx, h.dir, time.Time{})
	if err != nil {
		return nil, err
	}
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Kind == history.ServerExit && e.Unclean {
			return &doctor.Crash{At: e.Time, Reason: e.Reason, Logs: e.Logs}, nil
		}
	}
	return nil, nil
}
