// Package alert tells people that stigmer died or keeps crashing: a journal entry at priority alert always, a webhook and mail when configured, with repeats held back and summed up.
package alert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
)

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

// Send journals a at priority alert, then posts and mails it at the same
// time, and returns when every sink answered or SendTimeout passed.
// delivered is true when a sink took it: the webhook or the relay, or the
// journal when it is the only sink; the Limiter starts the interval only
// then. err lists each sink that failed (none of them logs a secret).
func (s *Sender) Send(ctx context.Context, a Alert) (delivered bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	s.log.Log(ctx, logging.LevelAlert, a.Summary, "alert", a.Kind, "component", a.Component,
		"result", a.Result, "held_back", a.HeldBack, "sinks", s.sinks())
	var (
		mu   sync.Mutex
		errs []error
		sent int
		wg   sync.WaitGroup
	)
	deliver := func(sink, to string, send func(context.Context, Alert) error) {
		wg.Go(func() {
			err := send(ctx, a)
			if s.OnResult != nil {
				s.OnResult(sink, err == nil)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.Error("alert not delivered", "sink", sink, "to", to, "err", err)
				errs = append(errs, fmt.Errorf("%s to %s: %w", sink, to, err))
				return
			}
			sent++
			s.log.Info("alert delivered", "sink", sink, "to", to, "alert", a.Kind)
		})
	}
	if s.cfg.WebhookURL != "" {
		deliver("webhook", config.RedactURL(s.cfg.WebhookURL), s.postWebhook)
	}
	if s.cfg.SMTPServer != "" {
		deliver("mail", strings.Join(s.cfg.SMTPTo, ","), s.sendMail)
	}
	wg.Wait()
	return sent > 0 || len(errs) == 0, errors.Join(errs...)
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
