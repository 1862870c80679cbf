package cli

import (
	"bytes"
	"encoding/json"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/internal/doctor"
)

var doctorResults = []doctor.Result{
	{Name: "binary", Status: doctor.Pass, Verdict: "/usr/bin/stigmer, stigmer 1.2.3"},
	{Name: "env-file", Status: doctor.Fail, Verdict: "/etc/default/stigmer is mode 0644, want 0600", Fix: "sudo chmod 0600 /etc/default/stigmer"},
	{Name: "last-crash", Status: doctor.Warn, Verdict: "crashed 5m ago: killed by SIGSEGV", Fix: "journalctl -u stigmer", Detail: []string{"panic: boom"}},
	{Name: "config", Status: doctor.Skip, Verdict: "cannot read /etc/default/stigmer as uid 1000: permission denied"},
}

func TestDoctorText(t *testing.T) {
	var b bytes.Buffer
	assert.NilError(t, writeDoctorText(&b, 1000, doctorResults))
	assert.Equal(t, b.String(), `PASS  binary      /usr/bin/stigmer, stigmer 1.2.3
FAIL  env-file    /etc/default/stigmer is mode 0644, want 0600
      fix: sudo chmod 0600 /etc/default/stigmer
WARN  last-crash  crashed 5m ago: killed by SIGSEGV
      fix: journalctl -u stigmer
      panic: boom
SKIP  config      cannot read /etc/default/stigmer as uid 1000: permission denied

4 checks: 1 pass, 1 warn, 1 fail, 1 skip (run as uid 1000; sudo stigmer doctor checks more)
`)
}

func TestDoctorJSON(t *testing.T) {
	var b bytes.Buffer
	assert.NilError(t, writeDoctorJSON(&b, "1.2.3", 0, doctorResults))
	var got doctorReport
	assert.NilError(t, json.Unmarshal(b.Bytes(), &got))
	assert.DeepEqual(t, got, doctorReport{Version: "1.2.3", UID: 0, Checks: doctorResults,
		Summary: map[string]int{"pass": 1, "warn": 1, "fail": 1, "skip": 1}})
}
