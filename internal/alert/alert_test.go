package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/internal/alert/alerttest"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/logging"
)

func died() Alert {
	return Alert{Kind: ServerDied, Time: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC), Host: "vm1", Unit: "stigmer.service",
		Version: "1.2.3", Component: "server", Summary: "stigmer.service on vm1 died: killed by SIGKILL",
		Result: "signal", ExitCode: "killed", ExitStatus: "KILL", Logs: []string{"level=INFO msg=\"server ready\"", "level=WARN msg=\"ünïcode line\""}}
}

// sinks starts a fake webhook and a fake relay (with STARTTLS when tlsCfg
// is set) and returns a sender wired to both, the recorder and the log.
func sinks(t *testing.T, tlsCfg *tls.Config) (*Sender, *alerttest.Recorder, *alerttest.FakeWebhook, *strings.Builder) {
	fakes := alerttest.Serve(t, tlsCfg)
	rec, hook := fakes.Rec, fakes.Hook
	var logs strings.Builder
	s := NewSender(config.Alerts{
		WebhookURL: fakes.WebhookURL, SMTPServer: fakes.SMTPAddr,
		SMTPFrom: "stigmer@vm1.example.com", SMTPTo: []string{"ops@example.com", "oncall@example.com"},
	}, slog.New(logging.NewTextHandler(&logs)))
	s.retryDelay = 10 * time.Millisecond
	return s, rec, hook, &logs
}

func TestSendReachesEverySink(t *testing.T) {
	s, rec, _, logs := sinks(t, nil)
	delivered, err := s.Send(t.Context(), died())
	assert.NilError(t, err)
	assert.Assert(t, delivered)

	got := rec.Got()
	assert.Equal(t, len(got), 2)
	var hook, mail alerttest.Received
	for _, g := range got {
		if g.Sink == "webhook" {
			hook = g
		} else {
			mail = g
		}
	}
	var a Alert
	assert.NilError(t, json.Unmarshal([]byte(hook.Body), &a))
	assert.DeepEqual(t, a, died())
	assert.Equal(t, hook.Path, "/hook/s3cr3t")

	assert.Equal(t, mail.From, "stigmer@vm1.example.com")
	assert.DeepEqual(t, mail.To, []string{"ops@example.com", "oncall@example.com"})
	assert.Check(t, is.Contains(mail.Body, "Subject: [stigmer] stigmer.service on vm1 died: killed by SIGKILL"))
	assert.Check(t, is.Contains(mail.Body, "Result:     signal"))
	assert.Check(t, is.Contains(mail.Body, "=C3=BCn=C3=AFcode"), "log lines quoted-printable")

	assert.Check(t, is.Contains(logs.String(), "level=ALERT"))
	assert.Check(t, is.Contains(logs.String(), "sinks=journal,webhook,mail"))
	assert.Check(t, !strings.Contains(logs.String(), "s3cr3t"), "the webhook's token is never logged:\n%s", logs)
}

func TestWebhookIsRetriedOnceAndFailuresAreNamed(t *testing.T) {
	s, rec, hook, logs := sinks(t, nil)
	hook.FailNext(1)
	_, err := s.Send(t.Context(), died())
	assert.NilError(t, err)
	assert.Equal(t, countSink(rec, "webhook"), 2, "one failure, one retry")

	hook.FailNext(2)
	delivered, err := s.Send(t.Context(), died())
	assert.Assert(t, delivered, "the mail got through")
	assert.ErrorContains(t, err, "webhook to http://127.0.0.1:")
	assert.ErrorContains(t, err, "503")
	assert.Equal(t, countSink(rec, "webhook"), 4)
	assert.Check(t, !strings.Contains(err.Error()+logs.String(), "s3cr3t"))
}

// Deliver says how each sink took the alert, in the order they are
// listed: what `stigmer alert test` prints.
func TestDeliverSaysHowEachSinkTookIt(t *testing.T) {
	s, rec, hook, _ := sinks(t, nil)
	hook.FailNext(2)
	a := NewTest("1.2.3", "root")
	got := s.Deliver(t.Context(), a)
	assert.Equal(t, len(got), 3)
	for i, sink := range []string{"journal", "webhook", "mail"} {
		assert.Check(t, is.Equal(got[i].Sink, sink))
	}
	assert.Check(t, got[0].Err)
	assert.Check(t, is.Equal(got[0].To, "the log on stderr (not run by systemd: no journal)"))
	assert.Check(t, is.ErrorContains(got[1].Err, "503"))
	assert.Check(t, is.Contains(got[1].To, "http://127.0.0.1:"))
	assert.Check(t, !strings.Contains(got[1].To, "s3cr3t"))
	assert.Check(t, got[2].Err)
	assert.Check(t, is.Contains(got[2].To, "ops@example.com,oncall@example.com via 127.0.0.1:"))
	assert.Check(t, is.Equal(countSink(rec, "mail"), 1))
	// The first post to the webhook (the sinks are sent to at once: the
	// mail may be recorded before it).
	var posted Alert
	assert.NilError(t, json.Unmarshal([]byte(firstOf(rec, "webhook").Body), &posted))
	assert.Check(t, is.Equal(posted.Kind, Test))
	assert.Check(t, is.Contains(posted.Summary, "a test alert, sent by `stigmer alert test` as root; nothing is wrong"))

	// A log that refuses the entry is a failed journal sink.
	s = NewSender(config.Alerts{}, slog.New(logging.NewTextHandler(failingWriter{})))
	got = s.Deliver(t.Context(), a)
	assert.Equal(t, len(got), 1)
	assert.Check(t, is.ErrorContains(got[0].Err, "disk full"))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAWebhookThatCannotBeReachedIsNamedWithoutItsToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs strings.Builder
	s := NewSender(config.Alerts{WebhookURL: "http://" + addr + "/x?token=s3cr3t"}, slog.New(logging.NewTextHandler(&logs)))
	s.retryDelay = time.Millisecond
	delivered, err := s.Send(t.Context(), died())
	assert.Assert(t, !delivered, "no sink took it")
	assert.ErrorContains(t, err, "connection refused")
	assert.Check(t, !strings.Contains(err.Error()+logs.String(), "s3cr3t"), "%v\n%s", err, logs.String())
}

func TestMailUsesStartTLSWhenOffered(t *testing.T) {
	cert, pool := selfSigned(t)
	s, rec, _, _ := sinks(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	s.cfg.WebhookURL = ""
	// The relay's certificate is checked: unknown, refused.
	_, err := s.Send(t.Context(), died())
	assert.ErrorContains(t, err, "STARTTLS")
	assert.Equal(t, countSink(rec, "mail"), 0)

	s.tlsRoots = pool
	s.cfg.SMTPUsername, s.cfg.SMTPPassword = "stigmer", "pw"
	_, err = s.Send(t.Context(), died())
	assert.NilError(t, err)
	mail := rec.Got()[0]
	assert.Assert(t, mail.TLS, "the message went over TLS")
	assert.Equal(t, mail.AuthUser, "stigmer")
}

// A From or To with a display name is what people write; the envelope
// must hold the bare address (MAIL FROM:<a@b>), or relays answer 501.
func TestTheEnvelopeHoldsBareAddresses(t *testing.T) {
	s, rec, _, _ := sinks(t, nil)
	s.cfg.WebhookURL = ""
	s.cfg.SMTPFrom = "Stigmer Alerts <stigmer@vm1.example.com>"
	s.cfg.SMTPTo = []string{"Ops Team <ops@example.com>", "oncall@example.com", "Zoë <zoe@example.com>"}
	_, err := s.Send(t.Context(), died())
	assert.NilError(t, err)
	mail := rec.Got()[0]
	assert.Equal(t, mail.From, "stigmer@vm1.example.com")
	assert.DeepEqual(t, mail.To, []string{"ops@example.com", "oncall@example.com", "zoe@example.com"})
	assert.Check(t, is.Contains(mail.Body, "From: \"Stigmer Alerts\" <stigmer@vm1.example.com>\r\n"))
	assert.Check(t, is.Contains(mail.Body, "To: \"Ops Team\" <ops@example.com>, <oncall@example.com>, =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n"))
}

// STIGMER_ALERT_SMTP_TLS: tls speaks TLS from the first byte (port 465,
// where a plain greeting never comes and the send used to hang until its
// timeout); starttls refuses a relay that does not offer it; none stays
// plain even when it is offered.
func TestMailTLSModes(t *testing.T) {
	cert, pool := selfSigned(t)
	certs := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, tc := range []struct {
		name    string
		relay   alerttest.FakeSMTP
		mode    string
		err     string
		overTLS bool
	}{
		// success
		{"implicit TLS", alerttest.FakeSMTP{TLS: certs, Implicit: true}, config.SMTPTLSImplicit, "", true},
		{"STARTTLS required and offered", alerttest.FakeSMTP{TLS: certs}, config.SMTPTLSStartTLS, "", true},
		{"none, though offered", alerttest.FakeSMTP{TLS: certs}, config.SMTPTLSNone, "", false},
		// failure
		{"STARTTLS required, not offered", alerttest.FakeSMTP{}, config.SMTPTLSStartTLS, "does not offer STARTTLS", false},
		{"implicit TLS to a plain relay", alerttest.FakeSMTP{}, config.SMTPTLSImplicit, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := alerttest.NewRecorder(nil)
			tc.relay.Rec = rec
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			assert.NilError(t, err)
			t.Cleanup(func() { ln.Close() })
			go tc.relay.Serve(ln)
			s := NewSender(config.Alerts{SMTPServer: ln.Addr().String(), SMTPFrom: "stigmer@vm1.example.com",
				SMTPTo: []string{"ops@example.com"}, SMTPTLS: tc.mode}, slog.New(logging.NewTextHandler(io.Discard)))
			s.tlsRoots = pool
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			delivered, err := s.Send(ctx, died())
			switch {
			case tc.relay.TLS == nil && tc.mode == config.SMTPTLSImplicit:
				assert.Assert(t, err != nil && !delivered, "a TLS handshake with a plain relay fails")
			case tc.err != "":
				assert.ErrorContains(t, err, tc.err)
				assert.Equal(t, countSink(rec, "mail"), 0)
			default:
				assert.NilError(t, err)
				assert.Equal(t, rec.Got()[0].TLS, tc.overTLS)
			}
		})
	}
}

// firstOf is the first delivery recorded for sink; a zero one if none.
func firstOf(rec *alerttest.Recorder, sink string) alerttest.Received {
	for _, g := range rec.Got() {
		if g.Sink == sink {
			return g
		}
	}
	return alerttest.Received{}
}

func countSink(rec *alerttest.Recorder, sink string) int {
	n := 0
	for _, g := range rec.Got() {
		if g.Sink == sink {
			n++
		}
	}
	return n
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // makes httptest's certificate for 127.0.0.1
	t.Cleanup(srv.Close)
	cert := srv.TLS.Certificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return cert, pool
}

// clock is a limiter's time: a base with a monotonic reading, moved by
// hand.
type clock struct{ base, at time.Time }

func newClock() *clock               { now := time.Now(); return &clock{base: now, at: now} }
func (c *clock) now() time.Time      { return c.at }
func (c *clock) set(d time.Duration) { c.at = c.base.Add(d) }
func (c *clock) alert(component string) *Alert {
	a := died()
	a.Time, a.Component = c.at, component
	return &a
}

func TestLimiterSendsOneAndSumsUpTheRest(t *testing.T) {
	l := NewLimiter(nil, time.Minute)
	c := newClock()
	l.now = c.now
	admit := func(d time.Duration) (*Alert, bool) { c.set(d); a := c.alert("server"); return a, l.Admit(a) }

	first, ok := admit(0)
	assert.Assert(t, ok, "the first goes out")
	l.Done(*first, true)
	_, ok = admit(10 * time.Second)
	assert.Assert(t, !ok)
	_, ok = admit(20 * time.Second)
	assert.Assert(t, !ok)
	c.set(50 * time.Second)
	assert.Equal(t, len(l.Due([]string{"server"})), 0, "not before the interval")

	c.set(61 * time.Second)
	sums := l.Due([]string{"server", "workflow-runner"})
	assert.Equal(t, len(sums), 1)
	assert.Equal(t, sums[0].Kind, Summary)
	assert.Equal(t, sums[0].HeldBack, 2)
	assert.Equal(t, *sums[0].HeldSince, c.base.Add(10*time.Second))
	l.Done(sums[0], true)
	c.set(90 * time.Second)
	assert.Equal(t, len(l.Due([]string{"server"})), 0, "summed up once")

	// The summary started an interval too; after it the next one goes out
	// at once, and one held back in between rides along with it.
	_, ok = admit(100 * time.Second)
	assert.Assert(t, !ok)
	a, ok := admit(130 * time.Second)
	assert.Assert(t, ok)
	assert.Equal(t, a.HeldBack, 1)
	l.Done(*a, true)

	c.set(191 * time.Second)
	assert.Assert(t, l.Admit(c.alert("workflow-runner")), "another component has its own limit")
}

// A send that no sink took (the relay down, the webhook answering 503)
// does not start the interval: the next alert goes out at once, and
// carries the count of those held back before.
func TestOnlyADeliveredAlertStartsTheInterval(t *testing.T) {
	l := NewLimiter(nil, 15*time.Minute)
	c := newClock()
	l.now = c.now
	a := c.alert("server")
	assert.Assert(t, l.Admit(a))
	c.set(time.Second)
	assert.Assert(t, !l.Admit(c.alert("server")), "held back while the first is being sent")
	l.Done(*a, false)

	c.set(10 * time.Second)
	b := c.alert("server")
	assert.Assert(t, l.Admit(b), "the failed one started no interval")
	assert.Equal(t, b.HeldBack, 1)
	l.Done(*b, true)
	c.set(20 * time.Second)
	next := c.alert("server")
	assert.Assert(t, !l.Admit(next), "a delivered one does")
	c.set(30 * time.Second)
	sums := l.Due([]string{"server"})
	assert.Equal(t, len(sums), 0, "the one held back while b was sent waits for the interval")
}

// steppedStore is a history whose records were written before the wall
// clock was stepped back by step: read back, their times lie that far in
// the future.
type steppedStore struct {
	step time.Duration
	recs map[string][]byte
}

func (s *steppedStore) Put(name string, v any) error {
	b, err := json.Marshal(v)
	s.recs[name] = b
	return err
}

func (s *steppedStore) Get(name string, v any) (bool, error) {
	b, ok := s.recs[name]
	if !ok {
		return false, nil
	}
	var st limitState
	if err := json.Unmarshal(b, &st); err != nil {
		return false, err
	}
	if !st.LastSent.IsZero() {
		st.LastSent = st.LastSent.Add(s.step)
	}
	b, _ = json.Marshal(st)
	return true, json.Unmarshal(b, v)
}

// A wall clock stepped back an hour (a VM with a bad RTC) must not hold
// alerts back for that hour: within a run the limiter measures with the
// monotonic clock, and a record from an earlier run whose time lies in the
// future counts as expired.
func TestAClockSteppedBackDoesNotSilenceAlerts(t *testing.T) {
	store := &steppedStore{step: time.Hour, recs: map[string][]byte{}}
	l := NewLimiter(store, time.Minute)
	c := newClock()
	l.now = c.now
	a := c.alert("server")
	assert.Assert(t, l.Admit(a))
	l.Done(*a, true)
	c.set(30 * time.Second)
	assert.Assert(t, !l.Admit(c.alert("server")), "within the interval")
	c.set(61 * time.Second)
	assert.Assert(t, l.Admit(c.alert("server")), "an interval later by the monotonic clock, whatever the wall clock says")

	// The next process reads the record with its time an hour ahead.
	next := NewLimiter(store, time.Minute)
	assert.Assert(t, next.Admit(c.alert("server")), "a recorded time in the future counts as expired")
}
