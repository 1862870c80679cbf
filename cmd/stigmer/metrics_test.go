package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
	"gotest.tools/v3/poll"
)

func TestMetricsCountARunnerKilledBySignal(t *testing.T) {
	s := startServer(t, testEnv(t))
	s.waitReady(t)
	reasons := []string{"exit_code", "signal", "hung", "not_registered", "start_failed"}
	restarts := func(runner, reason string) string { return `runner="` + runner + `",reason="` + reason + `"` }

	m := s.mustScrape(t)
	assert.Equal(t, m.value(t, "stigmer_build_info", `version="`+testVersion+`",revision="`+testCommit+`"`), 1.0)
	for _, runner := range []string{"workflow-runner", "agent-runner"} {
		assert.Equal(t, m.value(t, "stigmer_runner_up", `runner="`+runner+`"`), 1.0)
		for _, reason := range reasons {
			// there before the first restart, so that rate() sees that one
			assert.Equal(t, m.value(t, "stigmer_runner_restarts_total", restarts(runner, reason)), 0.0)
		}
	}

	pid := component(s.status(t), "workflow-runner").PID
	assert.NilError(t, syscall.Kill(pid, syscall.SIGKILL))
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		got, err := s.scrape()
		if err != nil {
			return poll.Continue("scraping: %v", err)
		}
		n, _ := got.get("stigmer_runner_restarts_total", restarts("workflow-runner", "signal"))
		up, _ := got.get("stigmer_runner_up", `runner="workflow-runner"`)
		if n != 1 || up != 1 {
			return poll.Continue("workflow-runner: restarts by signal %v, up %v", n, up)
		}
		m = got
		return poll.Success()
	}, poll.WithTimeout(30*time.Second), poll.WithDelay(10*time.Millisecond))

	assert.Equal(t, m.value(t, "stigmer_runner_last_exit_code", `runner="workflow-runner"`), 137.0) // 128+SIGKILL
	for _, reason := range reasons {
		if reason != "signal" {
			assert.Equal(t, m.value(t, "stigmer_runner_restarts_total", restarts("workflow-runner", reason)), 0.0)
		}
		assert.Equal(t, m.value(t, "stigmer_runner_restarts_total", restarts("agent-runner", reason)), 0.0)
	}
	assert.Equal(t, m.value(t, "stigmer_runner_up", `runner="agent-runner"`), 1.0)
}

func TestMetricsRefuseOtherHosts(t *testing.T) {
	// /metrics sits behind the same DNS-rebinding check as the rest of the
	// API: a page whose name points at 127.0.0.1 cannot read it.
	s := startServer(t, testEnv(t))
	req, err := http.NewRequest("GET", "http://"+s.addr+"/metrics", nil)
	assert.NilError(t, err)
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	assert.NilError(t, err)
	resp.Body.Close()
	assert.Equal(t, resp.StatusCode, http.StatusMisdirectedRequest)
}

// metricFamilies is a scrape, parsed.
type metricFamilies map[string]*dto.MetricFamily

// scrape GETs /metrics as Prometheus does and parses it with Prometheus'
// own text parser, under the classic name rules. Safe off the test
// goroutine (in a poll check).
func (s *serverProc) scrape() (metricFamilies, error) {
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	return parser.TextToMetricFamilies(resp.Body)
}

func (s *serverProc) mustScrape(t *testing.T) metricFamilies {
	t.Helper()
	m, err := s.scrape()
	assert.NilError(t, err, "server log:\n%s", s.log())
	return m
}

// get is the value of the sample of family name whose labels include all
// of want, written as in PromQL: `runner="agent-runner",reason="signal"`
// ("" for any, the one sample of a family without labels).
func (m metricFamilies) get(name, want string) (float64, bool) {
	wants := strings.Split(want, ",")
	if want == "" {
		wants = nil
	}
	for _, s := range m[name].GetMetric() {
		var have []string
		for _, lp := range s.GetLabel() {
			have = append(have, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
		}
		if !slices.ContainsFunc(wants, func(w string) bool { return !slices.Contains(have, w) }) {
			if s.Counter != nil {
				return s.GetCounter().GetValue(), true
			}
			return s.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// value is get that fails the test when there is no such sample.
func (m metricFamilies) value(t *testing.T, name, want string) float64 {
	t.Helper()
	v, ok := m.get(name, want)
	assert.Assert(t, ok, "no sample %s{%s} in the scrape", name, want)
	return v
}

// Alert deliveries are counted by sink and result, from the first scrape
// (at 0) and across the server's death: the alert about it goes out from
// ExecStopPost, and the next server shows how it went.
func TestMetricsCountAlertSendsAcrossTheServersDeath(t *testing.T) {
	hook, alerts := fakeWebhook(t)
	env := testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook, "STIGMER_ALERT_SMTP_SERVER="+freeAddr(t), // no relay there
		"STIGMER_ALERT_SMTP_FROM=stigmer@example.com", "STIGMER_ALERT_SMTP_TO=ops@example.com")
	sends := func(sink, result string) string { return `sink="` + sink + `",result="` + result + `"` }
	s := startServer(t, env)
	s.waitReady(t)
	m := s.mustScrape(t)
	assert.Equal(t, m.value(t, "stigmer_history_up", ""), 1.0)
	assert.Equal(t, m.value(t, "stigmer_ready", ""), 1.0)
	// there before the first crash, so that increase() sees it
	assert.Equal(t, m.value(t, "stigmer_history_events_total", `kind="server-restart"`), 0.0)
	for _, sink := range []string{"webhook", "mail"} {
		for _, result := range []string{"delivered", "failed"} {
			assert.Equal(t, m.value(t, "stigmer_alert_sends_total", sends(sink, result)), 0.0)
		}
	}

	s.kill(t)
	stopped(t, env, "signal", "killed", "KILL").Assert(t, icmd.Success)
	assert.Equal(t, len(alerts()), 1)

	s = startServer(t, env)
	m = s.mustScrape(t)
	assert.Equal(t, m.value(t, "stigmer_alert_sends_total", sends("webhook", "delivered")), 1.0)
	assert.Equal(t, m.value(t, "stigmer_alert_sends_total", sends("webhook", "failed")), 0.0)
	assert.Equal(t, m.value(t, "stigmer_alert_sends_total", sends("mail", "delivered")), 0.0)
	assert.Equal(t, m.value(t, "stigmer_alert_sends_total", sends("mail", "failed")), 1.0)
	assert.Equal(t, m.value(t, "stigmer_history_events_total", `kind="server-restart"`), 1.0)
}

// With the history off (a data directory it cannot use), the gauge says
// so and the server serves on.
func TestMetricsSayTheHistoryIsOff(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file goes keeps the history off (a damaged
	// file would be moved aside and a new history started).
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "history.db"), 0o700))
	s := startServer(t, testEnv(t, "STIGMER_DATA_DIR="+dir))
	s.waitReady(t)
	m := s.mustScrape(t)
	assert.Equal(t, m.value(t, "stigmer_history_up", ""), 0.0)
	_, ok := m.get("stigmer_history_events_total", "")
	assert.Check(t, !ok, "event counts without a history")
}
