// Package alert tells people that stigmer died or keeps crashing: a journal entry at priority alert always, a webhook and mail when configured, with repeats held back and summed up.
package alert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/logging"
)

// Kinds of alert.
const (
	ServerDied     = "server-died"     // the server ended other than by a clean stop
	RunnerCrashing = "runner-crashing" // a runner restarted RunnerRestarts times in RunnerWindow
	Summary        = "summary"         // what was held back since the last alert
	HistoryBroken  = "history-broken"  // a damaged history was moved aside, a new one started
	// Test is what `stigmer alert test` sends: it goes to every sink but
	// is no alert of the server's, neither limited nor recorded.
	Test = "test"
)

// NewTest is the test alert of this host's stigmer.service, version
// version, sent by who ("root", "uid 998 (stigmer)").
func NewTest(version, who string) Alert {
	host, _ := os.Hostname()
	return Alert{
		Kind: Test, Time: time.Now(), Host: host, Unit: "stigmer.service", Version: version, Component: "test",
		Summary: fmt.Sprintf("stigmer on %s: a test alert, sent by `stigmer alert test` as %s; nothing is wrong", host, who),
	}
}

// Alert is what every sink gets; the webhook receives it as JSON.
type Alert struct {
	Kind      string    `json:"kind"`
	Time      time.Time `json:"time"`
	Host      string    `json:"host"`
	Unit      string    `json:"unit"`
	Version   string    `json:"version"`
	Component string    `json:"component"` // "server", "history" or a runner's name
	// Summary is the one line a pager shows.
	Summary string `json:"summary"`
	// Result, ExitCode and ExitStatus are systemd's $SERVICE_RESULT,
	// $EXIT_CODE and $EXIT_STATUS, for a server that died.
	Result     string `json:"result,omitempty"`
	ExitCode   string `json:"exit_code,omitempty"`
	ExitStatus string `json:"exit_status,omitempty"`
	// Restarts in the window, for a runner.
	Restarts int `json:"restarts,omitempty"`
	// HeldBack alerts about the same component were not sent since
	// HeldSince (the rate limit); a summary is about them alone.
	HeldBack  int        `json:"held_back"`
	HeldSince *time.Time `json:"held_since,omitempty"`
	// Logs are the last log lines before it happened.
	Logs []string `json:"logs,omitempty"`
}

// Subject is what the rate limit counts alerts by: one alert a component
// and interval.
func (a Alert) Subject() string { return a.Component }

// Sender delivers alerts to the configured sinks.
type Sender struct {
	cfg    config.Alerts
	log    *slog.Logger
	client *http.Client
	// retryDelay is the pause before the webhook's one retry.
	retryDelay time.Duration
	// tlsRoots, when set, replaces the system roots for STARTTLS (tests).
	tlsRoots *x509.CertPool
	// dialTimeout bounds each connection (webhook and mail).
	dialTimeout time.Duration

	// OnResult, when set, is told how each delivery went: sink is
	// "webhook" or "mail". It is called from the delivering goroutine.
	OnResult func(sink string, delivered bool)
	// LogTo, when set, says where the log the journal sink writes goes
	// (see Delivery.To); by default the sender tells it itself.
	LogTo string
}

// NewSender returns a sender for cfg, logging through log.
func NewSender(cfg config.Alerts, log *slog.Logger) *Sender {
	return &Sender{
		cfg: cfg, log: log,
		// No proxy from the environment and no redirects: the alert
		// goes where the env file says, and nowhere else.
		client: &http.Client{
			Timeout:       WebhookTimeout,
			Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		retryDelay:  time.Second,
		dialTimeout: 10 * time.Second,
	}
}

// Timeouts: a webhook attempt, and the whole of one Send, which
// ExecStopPost waits for (below the unit's TimeoutStopSec of 30 s, and
// delaying the restart as little as possible).
const (
	WebhookTimeout = 5 * time.Second
	SendTimeout    = 20 * time.Second
)

// Delivery is how an alert went to one sink.
type Delivery struct {
	// Sink is "journal", "webhook" or "mail".
	Sink string
	// To is where it went, as it may be shown: the webhook's scheme and
	// host (its URL may hold a token), the mail's recipients and relay.
	To string
	// Err is why it did not arrive; nil when the sink took it.
	Err  error
	Took time.Duration
}

// Send journals a at priority alert, then posts and mails it at the same
// time, and returns when every sink answered or SendTimeout passed.
// delivered is true when a sink took it: the webhook or the relay, or the
// journal when it is the only sink; the Limiter starts the interval only
// then. err lists each sink that failed (none of them logs a secret).
func (s *Sender) Send(ctx context.Context, a Alert) (delivered bool, err error) {
	var errs []error
	sent := 0
	for _, d := range s.Deliver(ctx, a)[1:] {
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("%s to %s: %w", d.Sink, d.To, d.Err))
			continue
		}
		sent++
	}
	return sent > 0 || len(errs) == 0, errors.Join(errs...)
}

// Deliver is Send's work: a to every sink, and how it went, the journal
// first, then the webhook and the mail when configured. Each delivery is
// logged and told to OnResult (but the journal's).
func (s *Sender) Deliver(ctx context.Context, a Alert) []Delivery {
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	t0 := time.Now()
	out := []Delivery{{Sink: "journal", To: s.logTo(), Err: s.journal(ctx, a)}}
	out[0].Took = time.Since(t0)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	deliver := func(sink, to string, send func(context.Context, Alert) error) {
		wg.Go(func() {
			t0 := time.Now()
			err := send(ctx, a)
			d := Delivery{Sink: sink, To: to, Err: err, Took: time.Since(t0)}
			if s.OnResult != nil {
				s.OnResult(sink, err == nil)
			}
			if err != nil {
				s.log.Error("alert not delivered", "sink", sink, "to", to, "err", err)
			} else {
				s.log.Info("alert delivered", "sink", sink, "to", to, "alert", a.Kind)
			}
			mu.Lock()
			defer mu.Unlock()
			out = append(out, d)
		})
	}
	if s.cfg.WebhookURL != "" {
		deliver("webhook", config.RedactURL(s.cfg.WebhookURL), s.postWebhook)
	}
	if s.cfg.SMTPServer != "" {
		deliver("mail", strings.Join(s.cfg.SMTPTo, ",")+" via "+s.cfg.SMTPServer, s.sendMail)
	}
	wg.Wait()
	// In the order the sinks are listed, whichever answered first.
	slices.SortStableFunc(out, func(x, y Delivery) int { return sinkOrder[x.Sink] - sinkOrder[y.Sink] })
	return out
}

var sinkOrder = map[string]int{"journal": 0, "webhook": 1, "mail": 2}

// journal writes a's entry at priority alert through the sender's log,
// and returns the log's error (the journal refused it and so did its
// fallback), which slog's own Log would drop.
func (s *Sender) journal(ctx context.Context, a Alert) error {
	h := s.log.Handler()
	if !h.Enabled(ctx, logging.LevelAlert) {
		return errors.New("the log does not take entries at priority alert")
	}
	r := slog.NewRecord(time.Now(), logging.LevelAlert, a.Summary, 0)
	r.AddAttrs(slog.String("alert", a.Kind), slog.String("component", a.Component),
		slog.String("result", a.Result), slog.Int("held_back", a.HeldBack), slog.String("sinks", s.sinks()))
	return h.Handle(ctx, r)
}

// logTo says where the journal sink's entries go: LogTo when set, else
// the journal when this process logs to it, else its stderr.
func (s *Sender) logTo() string {
	switch {
	case s.LogTo != "":
		return s.LogTo
	case logging.UnderJournal():
		return "the journal (journalctl -u stigmer -p alert)"
	}
	return "the log on stderr (not run by systemd: no journal)"
}

func (s *Sender) sinks() string {
	sinks := []string{"journal"}
	if s.cfg.WebhookURL != "" {
		sinks = append(sinks, "webhook")
	}
	if s.cfg.SMTPServer != "" {
		sinks = append(sinks, "mail")
	}
	return strings.Join(sinks, ",")
}
