// Package logging builds the slog loggers of the server and runners: native
// journald entries (SYSLOG_IDENTIFIER per component, PRIORITY from the level)
// when stderr is connected to the journal, readable text on stderr otherwise.
// See systemd.journal-fields(7).
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Identifier is the SYSLOG_IDENTIFIER of a component, so that
// `journalctl -u stigmer -t stigmer-workflow-runner` selects one of them.
func Identifier(component string) string { return "stigmer-" + component }

// New returns the logger for component ("server", "workflow-runner",
// "agent-runner"). It writes to the journal when stderr is a journal stream
// (JOURNAL_STREAM matches stderr, as under systemd) and to stderr as text
// otherwise; a journal that refuses an entry makes that entry go to stderr.
func New(component string, stderr io.Writer) *slog.Logger {
	if UnderJournal() {
		return slog.New(NewJournalHandler(component, journal.Send, stderr))
	}
	return slog.New(NewTextHandler(stderr)).With("component", component)
}

// NewTextHandler is the text form of the log, with LevelAlert shown as
// ALERT rather than ERROR+4.
func NewTextHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if l, ok := a.Value.Any().(slog.Level); ok && a.Key == slog.LevelKey && l >= LevelAlert {
			a.Value = slog.StringValue("ALERT")
		}
		return a
	}})
}

// SendFunc sends one journal entry; journal.Send in production.
type SendFunc func(message string, priority journal.Priority, fields map[string]string) error

// JournalHandler is a slog.Handler writing native journal entries. The
// message carries the attributes as key=value text so that the default
// `journalctl` output shows them.
type JournalHandler struct {
	component string
	send      SendFunc
	fallback  io.Writer
	attrs     []slog.Attr
	group     string
	mu        *sync.Mutex // guards fallback
}

// NewJournalHandler returns a handler sending through send, falling back to
// writing the line on fallback when send fails.
func NewJournalHandler(component string, send SendFunc, fallback io.Writer) *JournalHandler {
	return &JournalHandler{component: component, send: send, fallback: fallback, mu: &sync.Mutex{}}
}

// Enabled reports info and above; debug is not journaled.
func (h *JournalHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

// Handle sends r as one journal entry.
func (h *JournalHandler) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString(r.Message)
	writeAttr := func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, quoteIfNeeded(a.Value.String()))
		return true
	}
	for _, a := range h.attrs {
		writeAttr(a)
	}
	r.Attrs(writeAttr)
	fields := map[string]string{
		"SYSLOG_IDENTIFIER": Identifier(h.component),
		"STIGMER_COMPONENT": h.component,
	}
	if err := h.send(b.String(), Priority(r.Level), fields); err != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		_, werr := fmt.Fprintf(h.fallback, "%s %s: %s\n", Identifier(h.component), r.Level, b.String())
		return werr
	}
	return nil
}

// WithAttrs returns a handler that adds attrs to every entry.
func (h *JournalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

// WithGroup returns a handler that prefixes later keys with name.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

// LevelAlert is above error: the entry of an alert (the server died, a
// runner keeps crashing), journaled at syslog priority alert (1), so that
// `journalctl -p alert` lists exactly the alerts.
const LevelAlert = slog.LevelError + 4

// Priority maps a slog level to the syslog priority journald stores.
func Priority(l slog.Level) journal.Priority {
	switch {
	case l >= LevelAlert:
		return journal.PriAlert
	case l >= slog.LevelError:
		return journal.PriErr
	case l >= slog.LevelWarn:
		return journal.PriWarning
	case l >= slog.LevelInfo:
		return journal.PriInfo
	default:
		return journal.PriDebug
	}
}

func quoteIfNeeded(s string) string {
	if s == "" || bytes.ContainsAny([]byte(s), " \t\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
