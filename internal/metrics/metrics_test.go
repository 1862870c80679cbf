package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/internal/buildinfo"
	"github.com/stigmer/stigmer/internal/supervisor"
)

// fakeRunners is a supervisor snapshot: the workflow runner up after three
// restarts (once exit 1, twice SIGKILL), the agent runner in its backoff
// after a failed start, never having exited. Reasons with no restart are
// left out of the maps on purpose: the collector must still show them.
func fakeRunners() []supervisor.Status {
	started := time.Unix(1767225610, 500_000_000)
	return []supervisor.Status{{
		Name: "workflow-runner", Mode: "native", PID: 42, State: supervisor.StateUp, StartedAt: &started,
		Restarts: 3, RestartsByReason: map[supervisor.ExitReason]int{supervisor.ExitCode: 1, supervisor.ExitSignal: 2},
		LastExit: "signal 9 (killed)", LastExitCode: 137, RestartDelayMS: 400, Up: true,
	}, {
		Name: "agent-runner", Mode: "container", State: supervisor.StateRestarting,
		Restarts: 1, RestartsByReason: map[supervisor.ExitReason]int{supervisor.ExitStartFailed: 1},
		LastExit: "not started: docker: not found", LastExitCode: -1, RestartDelayMS: 200,
	}}
}

func TestExposition(t *testing.T) {
	info := buildinfo.Info{Version: "1.2.3", Commit: "abc123", Date: "2026-01-02T03:04:05Z",
		GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"}
	serverStart := time.Unix(1767225600, 0)
	for _, tc := range []struct {
		name    string
		history func() (map[string]uint64, error)
		// wantHistory is the stigmer_history_events_total samples by kind;
		// nil when the family must be absent.
		wantHistory map[string]float64
		// wantUp is stigmer_history_up.
		wantUp     float64
		alertSends func() (map[AlertSend]uint64, error)
		// wantSends is stigmer_alert_sends_total; nil when absent.
		wantSends map[AlertSend]float64
		wantLog   string
	}{
		// success
		{name: "with history", history: func() (map[string]uint64, error) {
			return map[string]uint64{"server_start": 7, "runner_exit": 12}, nil
		}, wantHistory: map[string]float64{"server_start": 7, "runner_exit": 12}, wantUp: 1,
			alertSends: func() (map[AlertSend]uint64, error) {
				return map[AlertSend]uint64{{"webhook", "delivered"}: 2, {"webhook", "failed"}: 1, {"mail", "failed"}: 0}, nil
			}, wantSends: map[AlertSend]float64{{"webhook", "delivered"}: 2, {"webhook", "failed"}: 1, {"mail", "failed"}: 0}},
		{name: "a new, empty history", history: func() (map[string]uint64, error) { return map[string]uint64{}, nil },
			wantHistory: map[string]float64{}, wantUp: 1},
		// no-op: the history is not wired in, or off
		{name: "without history"},
		{name: "history off", history: func() (map[string]uint64, error) { return nil, nil },
			alertSends: func() (map[AlertSend]uint64, error) { return nil, nil }},
		// failure: the history's metric is lost, the rest is served
		{name: "history failing", history: func() (map[string]uint64, error) {
			return nil, errors.New("bolt: database not open")
		}, wantLog: "reading the history's event counts: bolt: database not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logBuf bytes.Buffer
			reg := NewRegistry(Options{Info: info, Started: serverStart, Runners: fakeRunners, History: tc.history, AlertSends: tc.alertSends,
				Ready: func() (bool, string) { return false, "agent-runner is not registered" }})
			families := scrape(t, Handler(reg, slog.New(slog.NewTextHandler(&logBuf, nil))))

			var stigmer []string
			for name := range families {
				if strings.HasPrefix(name, "stigmer_") {
					stigmer = append(stigmer, name)
				}
			}
			slices.Sort(stigmer)
			want := []string{"stigmer_build_info", "stigmer_history_up", "stigmer_ready", "stigmer_runner_last_exit_code", "stigmer_runner_restart_delay_seconds",
				"stigmer_runner_restarts_total", "stigmer_runner_start_time_seconds", "stigmer_runner_up",
				"stigmer_server_start_time_seconds"}
			if len(tc.wantHistory) > 0 {
				want = append(want, "stigmer_history_events_total")
			}
			if tc.wantSends != nil {
				want = append(want, "stigmer_alert_sends_total")
			}
			slices.Sort(want)
			assert.DeepEqual(t, stigmer, want)
			for _, name := range stigmer {
				assert.Check(t, families[name].GetHelp() != "", "%s has no HELP", name)
			}

			// the server
			assertSample(t, families, "stigmer_build_info", dto.MetricType_GAUGE, labels{
				"version": "1.2.3", "revision": "abc123", "goversion": "go1.26.8", "goos": "linux", "goarch": "amd64"}, 1)
			assertSample(t, families, "stigmer_server_start_time_seconds", dto.MetricType_GAUGE, nil, 1767225600)
			assertSample(t, families, "stigmer_ready", dto.MetricType_GAUGE, nil, 0)
			for _, name := range []string{"process_start_time_seconds", "process_resident_memory_bytes", "go_goroutines"} {
				assert.Check(t, families[name] != nil, "%s is missing: no process or Go collector", name)
			}

			// the runners
			wf, agent := labels{"runner": "workflow-runner"}, labels{"runner": "agent-runner"}
			assertSample(t, families, "stigmer_runner_up", dto.MetricType_GAUGE, wf, 1)
			assertSample(t, families, "stigmer_runner_up", dto.MetricType_GAUGE, agent, 0)
			assertSample(t, families, "stigmer_runner_start_time_seconds", dto.MetricType_GAUGE, wf, 1767225610.5)
			assertAbsent(t, families, "stigmer_runner_start_time_seconds", agent) // no process in the backoff
			assertSample(t, families, "stigmer_runner_last_exit_code", dto.MetricType_GAUGE, wf, 137)
			assertAbsent(t, families, "stigmer_runner_last_exit_code", agent) // never exited
			assertSample(t, families, "stigmer_runner_restart_delay_seconds", dto.MetricType_GAUGE, wf, 0.4)
			assertSample(t, families, "stigmer_runner_restart_delay_seconds", dto.MetricType_GAUGE, agent, 0.2)
			restarts := map[string]map[supervisor.ExitReason]float64{
				"workflow-runner": {supervisor.ExitCode: 1, supervisor.ExitSignal: 2},
				"agent-runner":    {supervisor.ExitStartFailed: 1},
			}
			assert.Check(t, is.Len(families["stigmer_runner_restarts_total"].GetMetric(), 2*len(supervisor.ExitReasons())))
			for runner, byReason := range restarts {
				for _, reason := range supervisor.ExitReasons() {
					assertSample(t, families, "stigmer_runner_restarts_total", dto.MetricType_COUNTER,
						labels{"runner": runner, "reason": string(reason)}, byReason[reason])
				}
			}

			// the history
			if tc.wantHistory != nil {
				assert.Check(t, is.Len(families["stigmer_history_events_total"].GetMetric(), len(tc.wantHistory)))
				for kind, n := range tc.wantHistory {
					assertSample(t, families, "stigmer_history_events_total", dto.MetricType_COUNTER, labels{"kind": kind}, n)
				}
			}
			assertSample(t, families, "stigmer_history_up", dto.MetricType_GAUGE, nil, tc.wantUp)
			for send, n := range tc.wantSends {
				assertSample(t, families, "stigmer_alert_sends_total", dto.MetricType_COUNTER, labels{"sink": send.Sink, "result": send.Result}, n)
			}
			if tc.wantLog != "" {
				assert.Check(t, is.Contains(logBuf.String(), tc.wantLog))
				assert.Check(t, is.Contains(logBuf.String(), "level=WARN"))
			} else {
				assert.Check(t, is.Equal(logBuf.String(), ""))
			}
		})
	}
}

// scrape GETs h as a scraper does and parses the text exposition with the
// Prometheus parser, under the classic (legacy) name rules, which every
// name here must meet.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Equal(t, rec.Code, 200, "body: %s", rec.Body)
	assert.Assert(t, is.Contains(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	assert.NilError(t, err)
	return families
}

type labels map[string]string

// String is l as PromQL writes it: {reason="signal",runner="agent-runner"}.
func (l labels) String() string {
	var pairs []string
	for k, v := range l {
		pairs = append(pairs, fmt.Sprintf("%s=%q", k, v))
	}
	slices.Sort(pairs)
	return "{" + strings.Join(pairs, ",") + "}"
}

// sample finds the sample of family name whose labels are exactly want.
func sample(families map[string]*dto.MetricFamily, name string, want labels) (*dto.Metric, bool) {
	for _, m := range families[name].GetMetric() {
		got := labels{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) == len(want) && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			return m, true
		}
	}
	return nil, false
}

func assertSample(t *testing.T, families map[string]*dto.MetricFamily, name string, typ dto.MetricType, l labels, want float64) {
	t.Helper()
	mf := families[name]
	if !assert.Check(t, mf != nil, "no family %s", name) {
		return
	}
	assert.Check(t, is.Equal(mf.GetType(), typ), "type of %s", name)
	m, ok := sample(families, name, l)
	if !assert.Check(t, ok, "no sample %s%s", name, l) {
		return
	}
	var got float64
	switch typ {
	case dto.MetricType_COUNTER:
		got = m.GetCounter().GetValue()
	default:
		got = m.GetGauge().GetValue()
	}
	assert.Check(t, is.Equal(got, want), "%s%s", name, l)
}

func assertAbsent(t *testing.T, families map[string]*dto.MetricFamily, name string, l labels) {
	t.Helper()
	_, ok := sample(families, name, l)
	assert.Check(t, !ok, "%s%s is present", name, l)
}
