package alert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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
	rec := alerttest.NewRecorder(nil)
	hook := &alerttest.FakeWebhook{Rec: rec}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	t.Cleanup(func() { ln.Close() })
	go (&alerttest.FakeSMTP{Rec: rec, TLS: tlsCfg}).Serve(ln)
	var logs strings.Builder
	s := NewSender(config.Alerts{
		WebhookURL: srv.URL + "/hooks/T0/s3cr3t", SMTPServer: ln.Addr().String(),
		SMTPFrom: "stigmer@vm1.example.com", SMTPTo: []string{"ops@example.com", "oncall@example.com"},
	}, slog.New(logging.NewTextHandler(&logs)))
	s.retryDelay = 10 * time.Millisecond
	return s, rec, hook, &logs
}

func TestSendReachesEverySink(t *testing.T) {
	s, rec, _, logs := sinks(t, nil)
	assert.NilError(t, s.Send(t.Context(), died()))

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
	assert.Equal(t, hook.Path, "/hooks/T0/s3cr3t")

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
	assert.NilError(t, s.Send(t.Context(), died()))
	assert.Equal(t, countSink(rec, "webhook"), 2, "one failure, one retry")

	hook.FailNext(2)
	err := s.Send(t.Context(), died())
	assert.ErrorContains(t, err, "webhook to http://127.0.0.1:")
	assert.ErrorContains(t, err, "503")
	assert.Equal(t, countSink(rec, "webhook"), 4)
	assert.Check(t, !strings.Contains(err.Error()+logs.String(), "s3cr3t"))
}

func TestAWebhookThatCannotBeReachedIsNamedWithoutItsToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var logs strings.Builder
	s := NewSender(config.Alerts{WebhookURL: "http://" + addr + "/x?token=s3cr3t"}, slog.New(logging.NewTextHandler(&logs)))
	s.retryDelay = time.Millisecond
	err = s.Send(t.Context(), died())
	assert.ErrorContains(t, err, "connection refused")
	assert.Check(t, !strings.Contains(err.Error()+logs.String(), "s3cr3t"), "%v\n%s", err, logs.String())
}

func TestMailUsesStartTLSWhenOffered(t *testing.T) {
	cert, pool := selfSigned(t)
	s, rec, _, _ := sinks(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	s.cfg.WebhookURL = ""
	// The relay's certificate is checked: unknown, refused.
	err := s.Send(t.Context(), died())
	assert.ErrorContains(t, err, "STARTTLS")
	assert.Equal(t, countSink(rec, "mail"), 0)

	s.tlsRoots = pool
	s.cfg.SMTPUsername, s.cfg.SMTPPassword = "stigmer", "pw"
	assert.NilError(t, s.Send(t.Context(), died()))
	mail := rec.Got()[0]
	assert.Assert(t, mail.TLS, "the message went over TLS")
	assert.Equal(t, mail.AuthUser, "stigmer")
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

func TestLimiterSendsOneAndSumsUpTheRest(t *testing.T) {
	l := NewLimiter(nil, time.Minute)
	t0 := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *Alert { a := died(); a.Time = t0.Add(d); return &a }

	assert.Assert(t, l.Admit(at(0)), "the first goes out")
	assert.Assert(t, !l.Admit(at(10*time.Second)))
	assert.Assert(t, !l.Admit(at(20*time.Second)))
	assert.Equal(t, len(l.Due(t0.Add(50*time.Second), []string{"server"})), 0, "not before the interval")

	sums := l.Due(t0.Add(61*time.Second), []string{"server", "workflow-runner"})
	assert.Equal(t, len(sums), 1)
	assert.Equal(t, sums[0].Kind, Summary)
	assert.Equal(t, sums[0].HeldBack, 2)
	assert.Equal(t, *sums[0].HeldSince, t0.Add(10*time.Second))
	assert.Equal(t, len(l.Due(t0.Add(200*time.Second), []string{"server"})), 0, "summed up once")

	// After a quiet interval the next one goes out at once, and one held
	// back in between rides along with it.
	assert.Assert(t, !l.Admit(at(90*time.Second)))
	a := at(130 * time.Second)
	assert.Assert(t, l.Admit(a))
	assert.Equal(t, a.HeldBack, 1)

	other := at(131 * time.Second)
	other.Component = "workflow-runner"
	assert.Assert(t, l.Admit(other), "another component has its own limit")
}
