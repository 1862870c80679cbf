package main

// `stigmer alert test` on the real binary, against the alert sinks' stand-ins
// (internal/alert/alerttest: a webhook receiver and an SMTP relay that
// record): each sink's result and the exit code, from the running server and
// from the command itself with the env file's settings; a test alert starts
// no interval and is no alert in the history.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/internal/alert"
	"github.com/stigmer/stigmer/internal/alert/alerttest"
	"github.com/stigmer/stigmer/internal/history"
)

// alertSinks are the stand-ins of a webhook receiver and a mail relay, and
// the settings that name them.
type alertSinks struct {
	rec      *alerttest.Recorder
	hook     *alerttest.FakeWebhook
	settings []string
}

func startAlertSinks(t *testing.T) *alertSinks {
	fakes := alerttest.Serve(t, nil)
	return &alertSinks{rec: fakes.Rec, hook: fakes.Hook, settings: []string{
		"STIGMER_ALERT_WEBHOOK_URL=" + fakes.WebhookURL,
		"STIGMER_ALERT_SMTP_SERVER=" + fakes.SMTPAddr,
		"STIGMER_ALERT_SMTP_FROM=stigmer@example.com",
		"STIGMER_ALERT_SMTP_TO=ops@example.com",
	}}
}

// kinds are the kinds of the alerts the webhook got.
func (a *alertSinks) kinds(t *testing.T) []string {
	var out []string
	for _, r := range a.rec.Got() {
		if r.Sink != "webhook" {
			continue
		}
		var al alert.Alert
		assert.NilError(t, json.Unmarshal([]byte(r.Body), &al))
		out = append(out, al.Kind)
	}
	return out
}

func (a *alertSinks) mails() int {
	n := 0
	for _, r := range a.rec.Got() {
		if r.Sink == "mail" {
			n++
		}
	}
	return n
}

// TestAlertTestFromTheServer: the running server sends the test alert with
// its configuration; each sink's result is printed and the exit code says
// whether all took it. It holds back no later alert, is not in the history,
// and its deliveries are counted.
func TestAlertTestFromTheServer(t *testing.T) {
	sinks := startAlertSinks(t)
	env := testEnv(t, sinks.settings...)
	s := startServer(t, env)
	s.waitReady(t)

	res := icmd.RunCmd(bounded(stigmerBin, "alert", "test"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "test alert sent by the server at " + strings.TrimPrefix(env[4], "STIGMER_RUNTIME_DIR=") + "/stigmer.sock (pid "})
	for _, want := range []string{`(?m)^  journal +ok +the log on stderr`, `(?m)^  webhook +ok +http://127\.0\.0\.1:\d+/… \(`, `(?m)^  mail +ok +ops@example\.com via 127\.0\.0\.1:`} {
		assert.Check(t, is.Regexp(want, res.Stdout()))
	}
	assert.Check(t, !strings.Contains(res.Combined(), "s3cr3t"), "the webhook's token printed:\n%s", res.Combined())
	assert.Check(t, is.DeepEqual(sinks.kinds(t), []string{alert.Test}))
	assert.Check(t, is.Equal(sinks.mails(), 1))
	assert.Check(t, is.Contains(s.log(), "level=ALERT msg=\"stigmer on "))

	// A failing webhook (503 to the try and the retry): its error, exit 1.
	sinks.hook.FailNext(2)
	res = icmd.RunCmd(bounded(stigmerBin, "alert", "test"), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the test alert did not reach webhook: fix the settings"})
	assert.Check(t, is.Regexp(`(?m)^  webhook +FAILED +http://127\.0\.0\.1:\d+/… \([0-9.]+ s\): answered 503 Service Unavailable`, res.Stdout()))
	assert.Check(t, is.Regexp(`(?m)^  mail +ok `, res.Stdout()))

	// Counted as deliveries; not an alert of the history.
	m := s.mustScrape(t)
	assert.Check(t, is.Equal(m.value(t, "stigmer_alert_sends_total", `sink="webhook",result="delivered"`), 1.0))
	assert.Check(t, is.Equal(m.value(t, "stigmer_alert_sends_total", `sink="webhook",result="failed"`), 1.0))
	assert.Check(t, is.Equal(m.value(t, "stigmer_alert_sends_total", `sink="mail",result="delivered"`), 2.0))
	assert.Check(t, is.Equal(m.value(t, "stigmer_history_events_total", `kind="alert"`), 0.0))
	for _, e := range eventList(t, env) {
		assert.Check(t, e.Kind != history.AlertSent, "the test alert is in the history: %+v", e)
	}

	// The next real alert goes out: the test started no interval.
	s.kill(t)
	stopped(t, env, "signal", "killed", "KILL").Assert(t, icmd.Success)
	assert.Check(t, is.DeepEqual(sinks.kinds(t), []string{alert.Test, alert.Test, alert.Test, alert.ServerDied}))
}

// With no sink but the journal, the test says that nobody is told and how
// to configure one, and exits 1.
func TestAlertTestWithTheJournalOnly(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	s.waitReady(t)
	res := icmd.RunCmd(bounded(stigmerBin, "alert", "test"), icmd.WithEnv(env...))
	assert.Check(t, is.Regexp(`(?m)^  journal +ok `, res.Stdout()))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "alerts go to the journal only, so nobody is told when stigmer dies: set STIGMER_ALERT_WEBHOOK_URL, or STIGMER_ALERT_SMTP_SERVER with STIGMER_ALERT_SMTP_FROM and STIGMER_ALERT_SMTP_TO, in "})
}

// With no server, or with --env-file, the command sends the test alert
// itself, with the env file's settings read as systemd reads them, and
// says it did so outside the unit's sandbox.
func TestAlertTestWithoutTheServer(t *testing.T) {
	sinks := startAlertSinks(t)
	envFile := filepath.Join(t.TempDir(), "stigmer")
	// As an operator writes it: quotes, a comment.
	content := "# alerts\n" + strings.Join(sinks.settings[:2], "\n") + "\nSTIGMER_ALERT_SMTP_FROM=\"Stigmer <stigmer@example.com>\"\n" + sinks.settings[3] + "\n"
	assert.NilError(t, os.WriteFile(envFile, []byte(content), 0o600))
	env := testEnv(t)

	res := icmd.RunCmd(bounded(stigmerBin, "alert", "test", "--env-file", envFile), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "test alert sent by this command (--env-file), with the settings of the env file " + envFile + " (read as systemd reads it), outside the unit's sandbox:"})
	assert.Check(t, is.Regexp(`(?m)^  webhook +ok `, res.Stdout()))
	assert.Check(t, is.Regexp(`(?m)^  mail +ok `, res.Stdout()))
	assert.Check(t, is.DeepEqual(sinks.kinds(t), []string{alert.Test}))
	got := sinks.rec.Got()
	assert.Check(t, is.Contains(got[len(got)-1].Body+got[0].Body, "From: \"Stigmer\" <stigmer@example.com>"))

	// No server, no env file: this command's environment.
	res = icmd.RunCmd(bounded(stigmerBin, "alert", "test"), icmd.WithEnv(append(env, sinks.settings...)...))
	res.Assert(t, icmd.Expected{ExitCode: 0, Out: "test alert sent by this command (no server socket found), with the settings of this command's environment (no env file found), outside the unit's sandbox:"})

	// Settings the server would refuse are refused here too.
	assert.NilError(t, os.WriteFile(envFile, []byte("STIGMER_ALERT_WEBHOOK_URL=hooks.example.com/x\n"), 0o600))
	res = icmd.RunCmd(bounded(stigmerBin, "alert", "test", "--env-file", envFile), icmd.WithEnv(env...))
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the alert settings of the env file " + envFile + " (read as systemd reads it) are refused (the server would not start with them): STIGMER_ALERT_WEBHOOK_URL="})
}

// Another user is refused by the server, told what to run.
func TestAlertTestIsRootsAndTheServiceUsers(t *testing.T) {
	asRoot(t)
	env := testEnv(t)
	assert.NilError(t, os.Chmod(strings.TrimPrefix(env[4], "STIGMER_RUNTIME_DIR="), 0o755))
	s := startServer(t, env)
	s.waitReady(t)
	assert.NilError(t, os.Chmod(filepath.Dir(stigmerBin), 0o755))
	cmd := exec.Command(stigmerBin, "alert", "test")
	cmd.Env, cmd.Dir = env, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput() // the exit code says how it went
	assert.Equal(t, cmd.ProcessState.ExitCode(), 1, "%s", out)
	assert.Check(t, is.Contains(string(out), "uid 65534 may not send a test alert: only root, the server's user, may; run `sudo stigmer alert test`"))
	assert.Check(t, !strings.Contains(s.log(), "sending a test alert"), "the server sent one for nobody")
}
