package logging

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

type entry struct {
	msg    string
	pri    journal.Priority
	fields map[string]string
}

func TestJournalHandler(t *testing.T) {
	var got []entry
	send := func(msg string, pri journal.Priority, fields map[string]string) error {
		got = append(got, entry{msg, pri, fields})
		return nil
	}
	log := slog.New(NewJournalHandler("workflow-runner", send, nil)).With("pid", 42)
	log.Info("runner registered", "interval", "1s")
	log.Warn("server unreachable", "err", "connection refused")
	log.Error("runner failed")
	log.Debug("not journaled")

	assert.Equal(t, len(got), 3)
	assert.Equal(t, got[0].msg, "runner registered pid=42 interval=1s")
	assert.Equal(t, got[1].msg, `server unreachable pid=42 err="connection refused"`)
	assert.DeepEqual(t, []journal.Priority{got[0].pri, got[1].pri, got[2].pri},
		[]journal.Priority{journal.PriInfo, journal.PriWarning, journal.PriErr})
	for _, e := range got {
		assert.Equal(t, e.fields["SYSLOG_IDENTIFIER"], "stigmer-workflow-runner")
		assert.Equal(t, e.fields["STIGMER_COMPONENT"], "workflow-runner")
	}
}

func TestJournalHandlerFallsBackToStderr(t *testing.T) {
	var stderr bytes.Buffer
	send := func(string, journal.Priority, map[string]string) error { return errors.New("journal socket gone") }
	slog.New(NewJournalHandler("server", send, &stderr)).Error("cannot listen", "addr", "127.0.0.1:7234")
	assert.Assert(t, is.Equal(stderr.String(), "stigmer-server ERROR: cannot listen addr=127.0.0.1:7234\n"))
}

func TestTextOutsideTheJournal(t *testing.T) {
	t.Setenv("JOURNAL_STREAM", "") // as in a terminal or a dev log file
	var stderr bytes.Buffer
	New("agent-runner", &stderr).Info("runner draining")
	assert.Assert(t, is.Contains(stderr.String(), `level=INFO msg="runner draining" component=agent-runner`))
}

func TestJournalStreamHeaderAndLines(t *testing.T) {
	// A stand-in for journald's stream socket: no journald runs here.
	sock := filepath.Join(t.TempDir(), "stdout")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	assert.NilError(t, err)
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if !assert.Check(t, err) {
			got <- ""
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()

	f, streamEnv, err := journalStreamAt(sock, "stigmer-workflow-runner")
	assert.NilError(t, err)
	_, err = f.WriteString("panic: something broke\n")
	assert.NilError(t, err)
	var st syscall.Stat_t
	assert.NilError(t, syscall.Fstat(int(f.Fd()), &st))
	assert.Equal(t, streamEnv, fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	assert.NilError(t, f.Close())

	assert.Equal(t, <-got, "stigmer-workflow-runner\n\n6\n0\n0\n0\n0\npanic: something broke\n")
}

func TestJournalStreamWithoutJournald(t *testing.T) {
	_, _, err := journalStreamAt(filepath.Join(t.TempDir(), "missing"), "stigmer-agent-runner")
	assert.ErrorContains(t, err, "connecting to the journal")
}
