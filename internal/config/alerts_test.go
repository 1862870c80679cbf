package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func TestLoadAlerts(t *testing.T) {
	t.Run("defaults: journal only", func(t *testing.T) {
		a, err := LoadAlerts(envOf(nil))
		assert.NilError(t, err)
		assert.DeepEqual(t, a, Alerts{Interval: 15 * time.Minute, RunnerRestarts: 5, RunnerWindow: 10 * time.Minute})
	})
	t.Run("every sink", func(t *testing.T) {
		a, err := LoadAlerts(envOf(map[string]string{
			"STIGMER_ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/secret",
			"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:587", "STIGMER_ALERT_SMTP_FROM": "stigmer@example.com",
			"STIGMER_ALERT_SMTP_TO": "ops@example.com, oncall@example.com", "STIGMER_ALERT_INTERVAL": "1m",
			"STIGMER_ALERT_RUNNER_RESTARTS": "3", "STIGMER_ALERT_RUNNER_WINDOW": "2m",
		}))
		assert.NilError(t, err)
		assert.DeepEqual(t, a.SMTPTo, []string{"ops@example.com", "oncall@example.com"})
		assert.Equal(t, a.Interval, time.Minute)
		assert.Equal(t, a.RunnerRestarts, 3)
		assert.Equal(t, a.RunnerWindow, 2*time.Minute)
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"webhook not a URL", map[string]string{"STIGMER_ALERT_WEBHOOK_URL": "hooks.example.com/x"}, "STIGMER_ALERT_WEBHOOK_URL"},
		{"mail without relay", map[string]string{"STIGMER_ALERT_SMTP_TO": "ops@example.com"}, "STIGMER_ALERT_SMTP_SERVER"},
		{"relay without port", map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com"}, "host:port"},
		{"relay without from", map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:25", "STIGMER_ALERT_SMTP_TO": "a@example.com"}, "STIGMER_ALERT_SMTP_FROM"},
		{"relay without to", map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:25", "STIGMER_ALERT_SMTP_FROM": "s@example.com"}, "STIGMER_ALERT_SMTP_TO"},
		{"bad to", map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:25", "STIGMER_ALERT_SMTP_FROM": "s@example.com", "STIGMER_ALERT_SMTP_TO": "ops"}, `"ops" is not a mail address`},
		{"user without password", map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:25", "STIGMER_ALERT_SMTP_FROM": "s@example.com", "STIGMER_ALERT_SMTP_TO": "o@example.com", "STIGMER_ALERT_SMTP_USERNAME": "u"}, "go together"},
		{"interval too short", map[string]string{"STIGMER_ALERT_INTERVAL": "1s"}, "at least 10s"},
		{"restarts zero", map[string]string{"STIGMER_ALERT_RUNNER_RESTARTS": "0"}, "at least 1"},
		{"window bad", map[string]string{"STIGMER_ALERT_RUNNER_WINDOW": "soon"}, "positive duration"},
		{"TLS mode unknown", mailTo("smtp.example.com:587", "STIGMER_ALERT_SMTP_TLS", "ssl"), "is not starttls, tls or none"},
		{"a password in clear beyond loopback", mailTo("smtp.example.com:587", "STIGMER_ALERT_SMTP_TLS", "none",
			"STIGMER_ALERT_SMTP_USERNAME", "u", "STIGMER_ALERT_SMTP_PASSWORD", "p"), "in clear to smtp.example.com:587"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadAlerts(envOf(tc.env))
			var ce *Error
			assert.Assert(t, errors.As(err, &ce), "%v", err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// mailTo is the settings of mail through relay, plus more NAME, value pairs.
func mailTo(relay string, more ...string) map[string]string {
	env := map[string]string{"STIGMER_ALERT_SMTP_SERVER": relay, "STIGMER_ALERT_SMTP_FROM": "Stigmer <s@example.com>", "STIGMER_ALERT_SMTP_TO": "o@example.com"}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return env
}

// The mail's TLS: as set, else implicit TLS on 465, STARTTLS required
// beyond loopback, STARTTLS when offered on loopback.
func TestMailTLS(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{mailTo("smtp.example.com:587"), SMTPTLSStartTLS},
		{mailTo("smtp.example.com:25"), SMTPTLSStartTLS},
		{mailTo("192.0.2.25:25"), SMTPTLSStartTLS},
		{mailTo("smtp.example.com:465"), SMTPTLSImplicit},
		{mailTo("127.0.0.1:25"), SMTPTLSOpportunistic},
		{mailTo("localhost:25"), SMTPTLSOpportunistic},
		{mailTo("[::1]:465"), SMTPTLSImplicit},
		{mailTo("smtp.example.com:2525", "STIGMER_ALERT_SMTP_TLS", "TLS"), SMTPTLSImplicit},
		{mailTo("127.0.0.1:25", "STIGMER_ALERT_SMTP_TLS", "starttls"), SMTPTLSStartTLS},
		{mailTo("smtp.example.com:25", "STIGMER_ALERT_SMTP_TLS", "none"), SMTPTLSNone},
		{mailTo("127.0.0.1:25", "STIGMER_ALERT_SMTP_TLS", "none", "STIGMER_ALERT_SMTP_USERNAME", "u", "STIGMER_ALERT_SMTP_PASSWORD", "p"), SMTPTLSNone},
	} {
		a, err := LoadAlerts(envOf(tc.env))
		assert.NilError(t, err)
		assert.Check(t, a.MailTLS() == tc.want, "%v: %s, want %s", tc.env, a.MailTLS(), tc.want)
	}
}

func TestAlertSecretsAreNeverShown(t *testing.T) {
	_, err := LoadAlerts(envOf(map[string]string{"STIGMER_ALERT_WEBHOOK_URL": "ftp://hooks.example.com/T0/s3cr3t-token"}))
	assert.ErrorContains(t, err, "ftp://hooks.example.com/…")
	assert.Assert(t, !strings.Contains(err.Error(), "s3cr3t"), "%v", err)
	_, err = LoadAlerts(envOf(map[string]string{"STIGMER_ALERT_SMTP_SERVER": "smtp.example.com:25", "STIGMER_ALERT_SMTP_FROM": "s@example.com",
		"STIGMER_ALERT_SMTP_TO": "o@example.com", "STIGMER_ALERT_SMTP_PASSWORD": "hunter2-long-password"}))
	assert.ErrorContains(t, err, "STIGMER_ALERT_SMTP_USERNAME")
	assert.Assert(t, !strings.Contains(err.Error(), "hunter2"), "%v", err)
}

// TestEveryServiceVariableIsInTheEnvFile: the packaged env file documents
// each variable the service reads (those of the dev server aside).
func TestEveryServiceVariableIsInTheEnvFile(t *testing.T) {
	envFile, err := os.ReadFile("../../packaging/stigmer.env")
	assert.NilError(t, err)
	read := map[string]bool{}
	spy := func(k string) string {
		read[k] = true
		return map[string]string{"INVOCATION_ID": "x", "STIGMER_DATA_DIR": t.TempDir(), "STIGMER_LOG_DIR": t.TempDir()}[k]
	}
	_, err = Load(spy)
	assert.NilError(t, err)
	assert.Assert(t, read["STIGMER_ALERT_WEBHOOK_URL"], "Load reads the alert settings")
	for k := range read {
		switch k {
		case "INVOCATION_ID", "HOME", "STIGMER_HOME":
			continue
		}
		assert.Check(t, strings.Contains(string(envFile), "\n#"+k+"="), "packaging/stigmer.env does not show #%s=", k)
	}
}
