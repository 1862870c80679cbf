package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gotest.tools/v3/assert"
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
// of want, written as in PromQL: `runner="agent-runner",reason="signal"`.
func (m metricFamilies) get(name, want string) (float64, bool) {
	for _, s := range m[name].GetMetric() {
		var have []string
		for _, lp := range s.GetLabel() {
			have = append(have, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
		}
		if !slices.ContainsFunc(strings.Split(want, ","), func(w string) bool { return !slices.Contains(have, w) }) {
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
