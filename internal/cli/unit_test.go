package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/internal/api"
)

func TestPrintUnit(t *testing.T) {
	for _, tc := range []struct {
		name string
		unit *unitSummary
		err  error
		want string
	}{
		{"no unit (no systemd, or not installed): nothing", nil, nil, ""},
		{"running", &unitSummary{Name: "stigmer.service", ActiveState: "active", SubState: "running", UnitFileState: "enabled", NRestarts: 2, Result: "success"},
			nil, "\nunit: stigmer.service active (running), enabled, NRestarts 2, last result success\n"},
		{"failed, with how it ended", &unitSummary{Name: "stigmer.service", ActiveState: "failed", SubState: "failed", UnitFileState: "enabled", Result: "exit-code", LastExit: "exited 78"},
			nil, "\nunit: stigmer.service failed (failed), enabled, NRestarts 0, last result exit-code (exited 78)\n"},
		{"unreadable", nil, errors.New("no bus"), "\nunit: cannot read stigmer.service's state: no bus\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printUnit(&b, tc.unit, tc.err)
			assert.Equal(t, b.String(), tc.want)
		})
	}
}

// The unit joins the API's fields in --json, which stay where they were.
func TestStatusJSON(t *testing.T) {
	b, err := json.Marshal(statusOutput{Status: api.Status{Version: "1.2.3"}, Unit: &unitSummary{Name: "stigmer.service", NRestarts: 1}})
	assert.NilError(t, err)
	var m map[string]any
	assert.NilError(t, json.Unmarshal(b, &m))
	assert.Equal(t, m["version"], "1.2.3")
	assert.Assert(t, is.Contains(m, "components"))
	assert.Equal(t, m["unit"].(map[string]any)["n_restarts"], 1.0)

	b, err = json.Marshal(statusOutput{Status: api.Status{Version: "1.2.3"}})
	assert.NilError(t, err)
	assert.Assert(t, !bytes.Contains(b, []byte(`"unit"`)), "no unit key without systemd")
}
