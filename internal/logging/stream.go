package logging

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/coreos/go-systemd/v22/journal"
)

// journalStdoutSocket is where journald takes stdout/stderr streams.
const journalStdoutSocket = "/run/systemd/journal/stdout"

// UnderJournal reports whether this process's stderr goes to the journal,
// as under systemd.
func UnderJournal() bool {
	ok, _ := journal.StderrIsJournalStream()
	return ok && journal.Enabled()
}

// JournalStream opens a journal stream whose lines journald stores with
// SYSLOG_IDENTIFIER=identifier, to be a child's stdout and stderr: what the
// child writes there without going through its logger (a Go panic trace, a
// container's output) is then tagged with the child's identifier instead
// of the unit's. journald attributes the stream to the unit of the process
// that opens it. It returns the stream and the JOURNAL_STREAM value that
// describes it (device:inode), for the child's environment. The caller
// closes the file once the child has been started. The protocol is the one
// sd_journal_stream_fd(3) speaks.
func JournalStream(identifier string) (*os.File, string, error) {
	return journalStreamAt(journalStdoutSocket, identifier)
}

func journalStreamAt(socket, identifier string) (*os.File, string, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		return nil, "", fmt.Errorf("connecting to the journal: %w", err)
	}
	defer conn.Close() // the file below is a duplicate that stays open
	// identifier, unit ID (empty: taken from the peer), priority (info),
	// level prefix, forward to syslog, to kmsg, to the console.
	header := identifier + "\n\n6\n0\n0\n0\n0\n"
	if _, err := conn.Write([]byte(header)); err != nil {
		return nil, "", fmt.Errorf("opening a journal stream for %s: %w", identifier, err)
	}
	if err := conn.CloseRead(); err != nil {
		return nil, "", fmt.Errorf("opening a journal stream for %s: %w", identifier, err)
	}
	f, err := conn.File()
	if err != nil {
		return nil, "", fmt.Errorf("opening a journal stream for %s: %w", identifier, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, "", fmt.Errorf("reading the journal stream's inode: %w", err)
	}
	return f, fmt.Sprintf("%d:%d", st.Dev, st.Ino), nil
}
