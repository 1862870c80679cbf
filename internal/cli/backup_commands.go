package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stigmer/stigmer/internal/backup"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/devserver"
	"github.com/stigmer/stigmer/internal/history"
	"github.com/stigmer/stigmer/internal/peer"
)

func newBackupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the history to FILE, consistently, while the server runs",
		Long: `Write a copy of the server's history (history.db: every start and end of the
server and its runners, and every alert) to FILE.

While the server runs, the server takes the copy, asked over its socket
(/run/stigmer/stigmer.sock for the service, $STIGMER_HOME/run/stigmer.sock
for a dev server, in STIGMER_RUNTIME_DIR when set): one read transaction of
the history (bbolt's own copy), consistent however many events are being
written, and the server goes on meanwhile. When no server runs, the copy is
read from the file in the data directory (/var/lib/stigmer, or
STIGMER_DATA_DIR).

FILE is written whole or not at all: into a temporary file beside it, checked
as stigmer restore checks a backup, then renamed over FILE (an older FILE is
replaced), mode 0600. It says what it wrote: the path, the size, the events
and their time span. Only root and the stigmer user may copy the history, as
only they may read it. Exits 1 when no copy was written.`,
		Example: "  sudo stigmer backup /var/lib/stigmer-backup/history-$(date +%F).db\n  sudo stigmer restore --check /var/lib/stigmer-backup/history-2026-11-29.db",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			dir := historyDir()
			if isHistory(file, dir) {
				return withExitCode(1, fmt.Errorf("%s is the history itself: write the backup elsewhere, for example /var/lib/stigmer-backup/history-%s.db", file, time.Now().Format("2006-01-02")))
			}
			from, copyTo, release, err := historySource(cmd.Context(), dir)
			if err != nil {
				return withExitCode(1, err)
			}
			defer release()
			sum, err := backup.Write(file, copyTo)
			if err != nil {
				return withExitCode(1, fmt.Errorf("copying the history %s: %w", from, err))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (mode 0600), copied %s: %s, %s\n", sum.Path, from, size(sum.Size), span(sum))
			return err
		},
	}
}

// historySource is where backup copies the history from: the running
// server, over its operator socket, else the file in dir. from says
// which; release closes the file.
func historySource(ctx context.Context, dir string) (from string, copyTo func(io.Writer) (int64, error), release func(), err error) {
	where := "no server socket found"
	if sock, ok := operatorSocket(); ok {
		client := operatorClient(sock)
		// Whether a server answers there: the copy itself must not be
		// retried once it started writing.
		if _, err := client.Status(ctx); err == nil {
			return "by the server at " + sock, func(w io.Writer) (int64, error) {
				ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				defer cancel()
				n, err := client.Backup(ctx, w)
				if err != nil {
					return n, fmt.Errorf("the server at %s: %w", sock, err)
				}
				return n, nil
			}, func() {}, nil
		} else if !unreachable(err) {
			return "", nil, nil, fmt.Errorf("the server at %s: %w", sock, err)
		} else {
			where = fmt.Sprintf("no server answers at %s", sock)
		}
	}
	st, err := history.Open(dir, history.Options{ReadOnly: true, LockTimeout: time.Second})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, nil, fmt.Errorf("%s, and there is no history in %s", where, dir)
		}
		return "", nil, nil, fmt.Errorf("%s, and the history cannot be read: %w", where, err)
	}
	return "from " + st.Path() + " (" + where + ")", st.Backup, func() { st.Close() }, nil
}

func newRestoreCmd() *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup of the history back (the server stopped); --check shows what one holds",
		Long: `Put a backup that stigmer backup wrote in place of the server's history, in
the data directory (STIGMER_DATA_DIR, else /var/lib/stigmer when it exists,
else $STIGMER_HOME).

The server must be stopped: restore refuses while stigmer.service runs or is
about to restart, while the dev server of this STIGMER_HOME runs, or while any
other process holds the history, and says what to stop. FILE is checked first,
as --check does: a damaged or cut-short file, one that is not a stigmer
history, or one a newer stigmer wrote is refused, and nothing changes. The
history it replaces is kept beside it as history.db.before-restore-TIME; the
restored file gets the data directory's owner (stigmer:stigmer for the
service) and mode 0600. Then start the server again.

With --check it only says what FILE holds, changing nothing: its size and
format, the events it keeps and their time span, and how many events of each
kind were ever recorded; anyone who may read FILE may run it.

Restoring takes root, or the data directory's owner. Exits 1 when nothing was
restored, or when --check finds that FILE cannot be restored.`,
		Example: "  sudo stigmer restore --check /var/lib/stigmer-backup/history-2026-11-29.db\n  sudo systemctl stop stigmer\n  sudo stigmer restore /var/lib/stigmer-backup/history-2026-11-29.db\n  sudo systemctl start stigmer",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if check {
				return inspectBackup(cmd.OutOrStdout(), args[0])
			}
			return restore(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only say what FILE holds and whether it can be restored; change nothing")
	return cmd
}

// inspectBackup prints what the backup at file holds.
func inspectBackup(w io.Writer, file string) error {
	sum, err := history.Inspect(file)
	if err != nil {
		return withExitCode(1, fmt.Errorf("%s cannot be restored: %w", file, err))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "File\t%s\n", sum.Path)
	fmt.Fprintf(tw, "Size\t%s\n", size(sum.Size))
	fmt.Fprintf(tw, "Format\t%d (this stigmer reads up to %d)\n", sum.Format, history.Format)
	fmt.Fprintf(tw, "Events\t%s\n", strings.Replace(span(sum), " events, from", " kept, from", 1))
	if sum.Events > 0 {
		fmt.Fprintf(tw, "Sequence\t%d to %d\n", sum.FirstSeq, sum.LastSeq)
	}
	fmt.Fprintln(tw, "\nKind\tEver recorded")
	kinds := make([]string, 0, len(sum.Counts))
	for k := range sum.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\n", k, sum.Counts[k])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\nsound: it can be restored (stop the server, then stigmer restore %s)\n", file)
	return err
}

// restore puts the backup at file in place of the history, once nothing
// runs that uses it.
func restore(ctx context.Context, w io.Writer, file string) error {
	dir, service, err := restoreDir()
	if err != nil {
		return withExitCode(1, err)
	}
	if err := mayRestore(dir, file); err != nil {
		return withExitCode(1, err)
	}
	if _, err := history.Inspect(file); err != nil {
		return withExitCode(1, fmt.Errorf("refusing to restore %s, nothing was changed: %w", file, err))
	}
	start := "stigmer server start"
	if service {
		start = "sudo systemctl start stigmer"
		if state, running := devserver.ServiceRunning(ctx); running {
			return withExitCode(1, fmt.Errorf("stigmer.service is %s and uses %s: stop it first (sudo systemctl stop stigmer), restore, then start it (sudo systemctl start stigmer); nothing was changed", state, dir))
		}
	}
	if p, err := devPaths(); err == nil && p.Home == dir {
		if pid, ok := devserver.Running(p); ok {
			return withExitCode(1, fmt.Errorf("the stigmer dev server of %s runs (pid %d) and uses its history: stop it first (stigmer server stop), restore, then start it (stigmer server start); nothing was changed", p.Home, pid))
		}
	}
	r, err := backup.Restore(file, dir, time.Now())
	var le *history.LockedError
	switch {
	case errors.As(err, &le) && le.PID != 0:
		return withExitCode(1, fmt.Errorf("%s is held by pid %d (%s), a stigmer server that uses it: stop it first, then restore; nothing was changed", le.Path, le.PID, devserver.Describe(le.PID)))
	case errors.As(err, &le):
		return withExitCode(1, fmt.Errorf("%s is held by another process, a stigmer server that uses it: stop it first, then restore; nothing was changed", le.Path))
	case err != nil:
		return withExitCode(1, fmt.Errorf("restoring %s: %w", file, err))
	}
	fmt.Fprintf(w, "restored %s as %s (%s, mode 0600): %s, %s\n", file, r.Path, ownerName(r.UID, r.GID), size(r.Summary.Size), span(r.Summary))
	if r.Aside != "" {
		fmt.Fprintf(w, "the history it replaced is kept as %s: delete it once the restored one is right\n", r.Aside)
	}
	_, err = fmt.Fprintf(w, "start the server: %s\n", start)
	return err
}

// restoreDir is the data directory whose history restore replaces:
// STIGMER_DATA_DIR, else the packaged service's when it exists (service
// is then true), else $STIGMER_HOME's.
func restoreDir() (dir string, service bool, err error) {
	if v := os.Getenv("STIGMER_DATA_DIR"); v != "" {
		return v, filepath.Clean(v) == config.DefaultSystemDataDir, nil
	}
	if fi, err := os.Stat(config.DefaultSystemDataDir); err == nil && fi.IsDir() {
		return config.DefaultSystemDataDir, true, nil
	}
	home, err := config.Home(os.Getenv)
	if err != nil {
		return "", false, err
	}
	if _, err := os.Stat(home); err != nil {
		return "", false, fmt.Errorf("no data directory to restore into: neither %s (the service's, made when the package is installed) nor %s (a dev server's) exists; install stigmer, or set STIGMER_DATA_DIR", config.DefaultSystemDataDir, home)
	}
	return home, false, nil
}

// mayRestore refuses a user who is neither root nor the data directory's
// owner, naming who may and what to run.
func mayRestore(dir, file string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("reading the data directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	uid := os.Geteuid()
	if !ok || uid == 0 || uid == int(st.Uid) {
		return nil
	}
	return fmt.Errorf("%s may not restore the history in %s: only root and its owner, %s, may; run `sudo stigmer restore %s`",
		peer.Owner(uid), dir, peer.Owner(int(st.Uid)), file)
}

// isHistory reports whether file is the history in dir (or would be,
// once written).
func isHistory(file, dir string) bool {
	live := filepath.Join(dir, history.FileName)
	a, err1 := filepath.Abs(file)
	b, err2 := filepath.Abs(live)
	if err1 == nil && err2 == nil && a == b {
		return true
	}
	fa, err1 := os.Stat(file)
	fb, err2 := os.Stat(live)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// span is a summary's events as people read them: "843 events, from
// 2026-11-01 06:00:00 to 2026-11-29 06:00:00".
func span(s history.Summary) string {
	switch s.Events {
	case 0:
		return "no events"
	case 1:
		return "1 event, at " + s.First.Local().Format(time.DateTime)
	}
	return fmt.Sprintf("%d events, from %s to %s", s.Events, s.First.Local().Format(time.DateTime), s.Last.Local().Format(time.DateTime))
}

// size is a byte count as people read it: 512 bytes, 12.0 KiB, 2.0 MiB.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// ownerName is "stigmer:stigmer", or the numbers where a name is missing.
func ownerName(uid, gid int) string {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if x, err := user.LookupId(u); err == nil {
		u = x.Username
	}
	if x, err := user.LookupGroupId(g); err == nil {
		g = x.Name
	}
	return u + ":" + g
}
