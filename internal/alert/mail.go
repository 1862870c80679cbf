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
	"net/smtp"
	"strings"
	"time"
)

// sendMail speaks SMTP to the relay itself: a local sendmail (postfix's
// needs setgid postdrop) cannot run under the unit's NoNewPrivileges=.
// STARTTLS when the relay offers it, with the relay's certificate checked;
// login only over TLS (or to a relay on loopback), as net/smtp insists.
func (s *Sender) sendMail(ctx context.Context, a Alert) error {
	host, _, _ := net.SplitHostPort(s.cfg.SMTPServer)
	d := net.Dialer{Timeout: s.dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.SMTPServer)
	if err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(a.Host); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: s.tlsRoots}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.SMTPUsername != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.SMTPUsername, s.cfg.SMTPPassword, host)); err != nil {
			return fmt.Errorf("login as %s: %w", s.cfg.SMTPUsername, err)
		}
	}
	if err := c.Mail(s.cfg.SMTPFrom); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range s.cfg.SMTPTo {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", to, err)
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

// message is the mail: plain text, quoted-printable (log lines may be long
// or not ASCII).
func (s *Sender) message(a Alert) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.cfg.SMTPFrom)
	header("To", strings.Join(s.cfg.SMTPTo, ", "))
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
