package main

// The monitoring kit the packages ship (packaging/monitoring): its alert
// rules under promtool's unit tests, and every metric its rules and
// dashboard read checked against the real binary's /metrics.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

const monitoringDir = "../../packaging/monitoring"

// needPromtool fails, naming the fix, when promtool is missing.
func needPromtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool not found (%v): apt-get install prometheus (go tool mage test installs it)", err)
	}
}

// Each rule fires on a series built to fire it and not on a healthy one
// (stigmer-alerts_test.yml); promtool also checks the rules' syntax.
func TestAlertRules(t *testing.T) {
	needPromtool(t)
	res := icmd.RunCmd(icmd.Command("promtool", "test", "rules", "stigmer-alerts_test.yml"), icmd.Dir(monitoringDir), icmd.WithTimeout(2*time.Minute))
	res.Assert(t, icmd.Expected{Out: "SUCCESS"})
	// Every rule has a test: a rule added without one fails here.
	rules := regexp.MustCompile(`(?m)^\s+- alert: (\w+)$`).FindAllStringSubmatch(readText(t, filepath.Join(monitoringDir, "stigmer-alerts.yml")), -1)
	tests := readText(t, filepath.Join(monitoringDir, "stigmer-alerts_test.yml"))
	assert.Assert(t, len(rules) >= 6, "rules: %v", rules)
	for _, r := range rules {
		assert.Check(t, regexp.MustCompile(`alertname: `+r[1]+`\n\s+exp_alerts:`).MatchString(tests), "%s has no test in which it fires", r[1])
	}
}

// Every metric the rules and the dashboard read is one the binary serves,
// with the label values they select on; a renamed metric fails here, not
// in an operator's silent dashboard.
func TestMonitoringKitReadsRealMetrics(t *testing.T) {
	hook, _ := fakeWebhook(t)
	s := startServer(t, testEnv(t, "STIGMER_ALERT_WEBHOOK_URL="+hook, "STIGMER_ALERT_SMTP_SERVER="+freeAddr(t),
		"STIGMER_ALERT_SMTP_FROM=stigmer@example.com", "STIGMER_ALERT_SMTP_TO=ops@example.com"))
	s.waitReady(t)
	// A runner's exit brings the metrics that exist only after one.
	pid := component(s.status(t), "workflow-runner").PID
	assert.NilError(t, syscall.Kill(pid, syscall.SIGKILL))
	s.waitRunner(t, "workflow-runner", pid)
	served := s.mustScrape(t)

	var exprs []string
	for _, m := range regexp.MustCompile(`(?m)^\s+expr: (.+)$`).FindAllStringSubmatch(readText(t, filepath.Join(monitoringDir, "stigmer-alerts.yml")), -1) {
		exprs = append(exprs, m[1])
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	assert.NilError(t, json.Unmarshal([]byte(readText(t, filepath.Join(monitoringDir, "stigmer-dashboard.json"))), &dash))
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	assert.Assert(t, len(exprs) > 15, "found only %d expressions", len(exprs))

	// A metric name, and the matchers in braces after it.
	metric := regexp.MustCompile(`\b((?:stigmer|process|go)_[a-z0-9_]+)(\{[^}]*\})?`)
	matcher := regexp.MustCompile(`(\w+)="([^"$]*)"`)
	var used []string
	for _, e := range exprs {
		for _, m := range metric.FindAllStringSubmatch(e, -1) {
			name := m[1]
			used = append(used, name)
			if !assert.Check(t, served[name] != nil, "%q reads %s, which /metrics does not serve", e, name) {
				continue
			}
			for _, mm := range matcher.FindAllStringSubmatch(m[2], -1) {
				if mm[1] == "job" || mm[1] == "instance" {
					continue // Prometheus' own
				}
				_, ok := served.get(name, mm[1]+`="`+mm[2]+`"`)
				assert.Check(t, ok, "%q selects %s{%s=%q}, which /metrics does not serve", e, name, mm[1], mm[2])
			}
		}
	}
	for _, want := range []string{"stigmer_ready", "stigmer_history_up", "stigmer_alert_sends_total", "stigmer_history_events_total", "stigmer_runner_restarts_total"} {
		assert.Check(t, slices.Contains(used, want), "the kit does not use %s", want)
	}
	t.Logf("%d metric references in %d expressions checked", len(used), len(exprs))
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}
