package logging

import (
	"bytes"
	"errors"
	"log/slog"
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
