package config

import (
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Alerts says where alerts go and when a crashing runner deserves one.
// The journal always gets them; the webhook and mail only when set.
type Alerts struct {
	// WebhookURL receives each alert as a JSON POST. It may hold a token:
	// it is never logged whole (see RedactURL).
	WebhookURL string
	// SMTP relay (host:port) and addresses; mail is off when SMTPServer
	// is empty. From and To may carry display names ("Stigmer Alerts
	// <stigmer@example.com>"); the envelope gets the bare addresses.
	SMTPServer   string
	SMTPFrom     string
	SMTPTo       []string
	SMTPUsername string
	SMTPPassword string // never logged
	// SMTPTLS is how the session is protected: SMTPTLSStartTLS,
	// SMTPTLSImplicit or SMTPTLSNone, or empty for the default (see
	// MailTLS).
	SMTPTLS string
	// Interval is the least time between two alerts about the same thing:
	// a crash loop sends one alert, then a summary of what it held back.
	Interval time.Duration
	// RunnerRestarts restarts of one runner within RunnerWindow raise an alert.
	RunnerRestarts int
	RunnerWindow   time.Duration
}

// Alert defaults.
const (
	DefaultAlertInterval       = 15 * time.Minute
	MinAlertInterval           = 10 * time.Second
	DefaultAlertRunnerRestarts = 5
	DefaultAlertRunnerWindow   = 10 * time.Minute
)

// LoadAlerts reads the STIGMER_ALERT_* variables. It stands apart from
// Load because the alert after a failed start (ExecStopPost) must go out
// even when another variable is what made the server fail.
func LoadAlerts(getenv Getenv) (Alerts, error) {
	a := Alerts{
		WebhookURL:     strings.TrimSpace(getenv("STIGMER_ALERT_WEBHOOK_URL")),
		SMTPServer:     strings.TrimSpace(getenv("STIGMER_ALERT_SMTP_SERVER")),
		SMTPFrom:       strings.TrimSpace(getenv("STIGMER_ALERT_SMTP_FROM")),
		SMTPUsername:   getenv("STIGMER_ALERT_SMTP_USERNAME"),
		SMTPPassword:   getenv("STIGMER_ALERT_SMTP_PASSWORD"),
		SMTPTLS:        strings.ToLower(strings.TrimSpace(getenv("STIGMER_ALERT_SMTP_TLS"))),
		Interval:       DefaultAlertInterval,
		RunnerRestarts: DefaultAlertRunnerRestarts,
		RunnerWindow:   DefaultAlertRunnerWindow,
	}
	for _, to := range strings.Split(getenv("STIGMER_ALERT_SMTP_TO"), ",") {
		if to = strings.TrimSpace(to); to != "" {
			a.SMTPTo = append(a.SMTPTo, to)
		}
	}
	for _, check := range []func(Getenv) error{a.checkWebhook, a.checkSMTP, a.loadLimits} {
		if err := check(getenv); err != nil {
			return Alerts{}, err
		}
	}
	return a, nil
}

func (a *Alerts) checkWebhook(Getenv) error {
	if a.WebhookURL == "" {
		return nil
	}
	u, err := url.Parse(a.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{Var: "STIGMER_ALERT_WEBHOOK_URL", Value: RedactURL(a.WebhookURL), Fix: "is not an http:// or https:// URL; use for example https://hooks.example.com/stigmer"}
	}
	return nil
}

func (a *Alerts) checkSMTP(Getenv) error {
	if a.SMTPServer == "" {
		if len(a.SMTPTo) > 0 || a.SMTPFrom != "" {
			return &Error{Var: "STIGMER_ALERT_SMTP_SERVER", Fix: "is empty but STIGMER_ALERT_SMTP_TO or _FROM is set; name the mail relay, for example smtp.example.com:587"}
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(a.SMTPServer); err != nil || port == "" {
		return &Error{Var: "STIGMER_ALERT_SMTP_SERVER", Value: a.SMTPServer, Fix: "is not a host:port address; use for example smtp.example.com:587 (or 127.0.0.1:25 for a local relay)"}
	}
	if _, err := mail.ParseAddress(a.SMTPFrom); err != nil {
		return &Error{Var: "STIGMER_ALERT_SMTP_FROM", Value: a.SMTPFrom, Fix: "is not a mail address, and STIGMER_ALERT_SMTP_SERVER needs one; use for example stigmer@host.example.com"}
	}
	if len(a.SMTPTo) == 0 {
		return &Error{Var: "STIGMER_ALERT_SMTP_TO", Fix: "is empty, and STIGMER_ALERT_SMTP_SERVER needs someone to mail; use for example ops@example.com,oncall@example.com"}
	}
	for _, to := range a.SMTPTo {
		if _, err := mail.ParseAddress(to); err != nil {
			return &Error{Var: "STIGMER_ALERT_SMTP_TO", Value: to, Fix: "is not a mail address; list addresses separated by commas, for example ops@example.com,oncall@example.com"}
		}
	}
	if (a.SMTPUsername == "") != (a.SMTPPassword == "") {
		return &Error{Var: "STIGMER_ALERT_SMTP_USERNAME", Value: a.SMTPUsername, Fix: "and STIGMER_ALERT_SMTP_PASSWORD go together; set both to log in to the relay, or neither"}
	}
	switch a.SMTPTLS {
	case "", SMTPTLSStartTLS, SMTPTLSImplicit:
	case SMTPTLSNone:
		if host, _, _ := net.SplitHostPort(a.SMTPServer); a.SMTPUsername != "" && !IsLoopback(host) {
			return &Error{Var: "STIGMER_ALERT_SMTP_TLS", Value: a.SMTPTLS, Fix: "would send STIGMER_ALERT_SMTP_PASSWORD in clear to " + a.SMTPServer + "; use starttls or tls (or a relay on loopback)"}
		}
	default:
		return &Error{Var: "STIGMER_ALERT_SMTP_TLS", Value: a.SMTPTLS, Fix: "is not starttls, tls or none; leave it empty for the default (tls on port 465, else starttls, which a relay beyond loopback must offer)"}
	}
	return nil
}

// The values of STIGMER_ALERT_SMTP_TLS.
const (
	SMTPTLSStartTLS = "starttls" // plain connection, STARTTLS required
	SMTPTLSImplicit = "tls"      // TLS from the first byte (SMTPS, port 465)
	SMTPTLSNone     = "none"     // no TLS, even when offered
	// SMTPTLSOpportunistic is the default for a relay on loopback:
	// STARTTLS when offered. It cannot be configured.
	SMTPTLSOpportunistic = "starttls-if-offered"
)

// MailTLS is the TLS mode of the mail sink: STIGMER_ALERT_SMTP_TLS when
// set; else implicit TLS on port 465 (SMTPS), STARTTLS required for a
// relay beyond loopback (a network between stigmer and the relay carries
// the alert and the password), and STARTTLS when offered for one on
// loopback.
func (a Alerts) MailTLS() string {
	if a.SMTPTLS != "" {
		return a.SMTPTLS
	}
	host, port, _ := net.SplitHostPort(a.SMTPServer)
	switch {
	case port == "465":
		return SMTPTLSImplicit
	case IsLoopback(host):
		return SMTPTLSOpportunistic
	}
	return SMTPTLSStartTLS
}

func (a *Alerts) loadLimits(getenv Getenv) error {
	if s := getenv("STIGMER_ALERT_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < MinAlertInterval {
			return &Error{Var: "STIGMER_ALERT_INTERVAL", Value: s, Fix: "is not a duration of at least 10s; use for example 15m"}
		}
		a.Interval = d
	}
	if s := getenv("STIGMER_ALERT_RUNNER_RESTARTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return &Error{Var: "STIGMER_ALERT_RUNNER_RESTARTS", Value: s, Fix: "is not a whole number of at least 1; use for example 5"}
		}
		a.RunnerRestarts = n
	}
	if s := getenv("STIGMER_ALERT_RUNNER_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return &Error{Var: "STIGMER_ALERT_RUNNER_WINDOW", Value: s, Fix: "is not a positive duration; use for example 10m"}
		}
		a.RunnerWindow = d
	}
	return nil
}

// RedactURL keeps a URL's scheme and host: its path, query and user may
// hold a token (a chat webhook's URL is its secret).
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
