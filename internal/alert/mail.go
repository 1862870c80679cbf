package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strings"
	"time"

	"github.com/stigmer/stigmer/internal/config"
)

// sendMail speaks SMTP to the relay itself: a local sendmail (postfix's
// needs setgid postdrop) cannot run under the unit's NoNewPrivileges=.
// The session is protected as config.Alerts.MailTLS says, with the relay's
// certificate checked against the system's roots; net/smtp logs in only
// over TLS (or to a relay on loopback). The envelope (MAIL FROM, RCPT TO)
// carries the bare addresses; the headers keep the display names.
func (s *Sender) sendMail(ctx context.Context, a Alert) error {
	from, to, err := s.envelope()
	if err != nil {
		return err
	}
	c, err := s.dialMail(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if s.cfg.SMTPUsername != "" {
		host, _, _ := net.SplitHostPort(s.cfg.SMTPServer)
		if err := c.Auth(smtp.PlainAuth("", s.cfg.SMTPUsername, s.cfg.SMTPPassword, host)); err != nil {
			return fmt.Errorf("login as %s: %w", s.cfg.SMTPUsername, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(s.message(a)); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("the relay refused the message: %w", err)
	}
	return c.Quit()
}

// envelope is the bare sender and recipient addresses.
func (s *Sender) envelope() (from string, to []string, err error) {
	f, err := mail.ParseAddress(s.cfg.SMTPFrom)
	if err != nil {
		return "", nil, fmt.Errorf("STIGMER_ALERT_SMTP_FROM=%q: %w", s.cfg.SMTPFrom, err)
	}
	for _, raw := range s.cfg.SMTPTo {
		t, err := mail.ParseAddress(raw)
		if err != nil {
			return "", nil, fmt.Errorf("STIGMER_ALERT_SMTP_TO: %q: %w", raw, err)
		}
		to = append(to, t.Address)
	}
	return f.Address, to, nil
}

// dialMail connects to the relay and greets it, with TLS as MailTLS says.
func (s *Sender) dialMail(ctx context.Context) (*smtp.Client, error) {
	host, _, _ := net.SplitHostPort(s.cfg.SMTPServer)
	tlsCfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: s.tlsRoots}
	mode := s.cfg.MailTLS()
	d := &net.Dialer{Timeout: s.dialTimeout}
	var conn net.Conn
	var err error
	if mode == config.SMTPTLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", s.cfg.SMTPServer)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.cfg.SMTPServer)
	}
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if err := s.startTLS(c, mode, tlsCfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startTLS says EHLO and, as mode asks, upgrades the session.
func (s *Sender) startTLS(c *smtp.Client, mode string, tlsCfg *tls.Config) error {
	host, _ := os.Hostname()
	if err := c.Hello(helloName(host)); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	offered, _ := c.Extension("STARTTLS")
	switch {
	case mode == config.SMTPTLSStartTLS && !offered:
		return fmt.Errorf("the relay %s does not offer STARTTLS, which STIGMER_ALERT_SMTP_TLS=starttls (the default for a relay beyond loopback) requires: use its TLS port with STIGMER_ALERT_SMTP_TLS=tls (465), or a relay on loopback", s.cfg.SMTPServer)
	case offered && (mode == config.SMTPTLSStartTLS || mode == config.SMTPTLSOpportunistic):
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	return nil
}

// helloName is the name for EHLO: this host's, or "localhost" when it has
// none a relay would take.
func helloName(host string) string {
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return "localhost"
	}
	return host
}

// message is the mail: plain text, quoted-printable (log lines may be long
// or not ASCII).
func (s *Sender) message(a Alert) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", headerAddrs(s.cfg.SMTPFrom))
	header("To", headerAddrs(s.cfg.SMTPTo...))
	header("Subject", mime.QEncoding.Encode("utf-8", "[stigmer] "+a.Summary))
	header("Date", a.Time.Format(time.RFC1123Z))
	header("Message-ID", messageID(a.Host))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(Text(a), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// headerAddrs is addresses as a header holds them: a display name quoted
// and, when not ASCII, encoded (RFC 5322, 2047). The configuration checked
// that they parse; one that does not is kept as written.
func headerAddrs(raw ...string) string {
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if a, err := mail.ParseAddress(r); err == nil {
			r = a.String()
		}
		out = append(out, r)
	}
	return strings.Join(out, ", ")
}

func messageID(host string) string {
	r := make([]byte, 8)
	_, _ = rand.Read(r)
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("<%d.%s@%s>", time.Now().UnixNano(), hex.EncodeToString(r), host)
}

// Text is the alert as a person reads it (the mail's body).
func Text(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", a.Summary)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-11s %s\n", k+":", v)
		}
	}
	line("Host", a.Host)
	line("Unit", a.Unit)
	line("Component", a.Component)
	line("Version", a.Version)
	line("Time", a.Time.Format(time.RFC3339))
	line("Result", a.Result)
	if a.ExitCode != "" {
		line("Exit", a.ExitCode+" "+a.ExitStatus)
	}
	if a.Restarts > 0 {
		line("Restarts", fmt.Sprint(a.Restarts))
	}
	if a.HeldBack > 0 && a.HeldSince != nil {
		line("Held back", fmt.Sprintf("%d more since %s", a.HeldBack, a.HeldSince.Format(time.RFC3339)))
	}
	if len(a.Logs) > 0 {
		b.WriteString("\nLast log lines:\n")
		for _, l := range a.Logs {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("\nWhat to do: run `sudo stigmer doctor` on the host; `stigmer events --since 1h` lists what happened;\n`journalctl -u stigmer -n 100` has the whole log.\n")
	return b.String()
}
