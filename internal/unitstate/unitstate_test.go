package unitstate

import (
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

// The property values below have the Go types godbus decodes systemd's
// D-Bus signatures into (as, a(sb), a(sasbttttuii), (ss), u, i, t, b).
func TestFromProperties(t *testing.T) {
	enter := time.Date(2026, 1, 25, 14, 30, 0, 0, time.UTC)
	unit := map[string]any{
		"LoadState":            "loaded",
		"LoadError":            []any{"", ""},
		"FragmentPath":         "/lib/systemd/system/stigmer.service",
		"DropInPaths":          []string{"/etc/systemd/system/stigmer.service.d/override.conf"},
		"UnitFileState":        "enabled",
		"ActiveState":          "active",
		"SubState":             "running",
		"ActiveEnterTimestamp": uint64(enter.UnixMicro()),
	}
	service := map[string]any{
		"NRestarts":           uint32(2),
		"MainPID":             uint32(1234),
		"Result":              "success",
		"ExecMainCode":        int32(0),
		"ExecMainStatus":      int32(0),
		"ExecStart":           [][]any{{"/usr/bin/stigmer", []string{"/usr/bin/stigmer", "internal-server"}, false, uint64(0), uint64(0), uint64(0), uint64(0), uint32(1234), int32(0), int32(0)}},
		"User":                "stigmer",
		"SupplementaryGroups": []string{"docker"},
		"Environment":         []string{"STIGMER_DATA_DIR=/var/lib/stigmer"},
		"EnvironmentFiles":    [][]any{{"/etc/default/stigmer", true}, {"/etc/sysconfig/stigmer", true}},
		"ReadWritePaths":      []string{"/srv/stigmer"},
		"PrivateUsers":        true,
	}
	st := FromProperties(Unit, unit, service)
	assert.DeepEqual(t, st, &State{
		Name: Unit, LoadState: "loaded", FragmentPath: "/lib/systemd/system/stigmer.service",
		DropInPaths:   []string{"/etc/systemd/system/stigmer.service.d/override.conf"},
		UnitFileState: "enabled", ActiveState: "active", SubState: "running",
		ActiveEnter: time.UnixMicro(enter.UnixMicro()), NRestarts: 2, MainPID: 1234, Result: "success",
		ExecStart: "/usr/bin/stigmer", User: "stigmer", SupplementaryGroups: []string{"docker"},
		Environment:      []string{"STIGMER_DATA_DIR=/var/lib/stigmer"},
		EnvironmentFiles: []EnvironmentFile{{"/etc/default/stigmer", true}, {"/etc/sysconfig/stigmer", true}},
		ReadWritePaths:   []string{"/srv/stigmer"}, PrivateUsers: true,
	})

	// A unit that is not installed has unit properties only.
	st = FromProperties(Unit, map[string]any{"LoadState": "not-found", "LoadError": []any{"org.freedesktop.systemd1.NoSuchUnit", "Unit stigmer.service not found."}}, nil)
	assert.Equal(t, st.LoadState, "not-found")
	assert.Equal(t, st.LoadError, "Unit stigmer.service not found.")
	assert.Equal(t, st.MainPID, uint32(0))
}

func TestVersionNumber(t *testing.T) {
	for v, want := range map[string]int{"252.22-1~deb12u1": 252, "239 (239-78.el8)": 239, "245": 245, "247.3-7+deb11u4": 247} {
		n, ok := VersionNumber(v)
		assert.Assert(t, ok, v)
		assert.Equal(t, n, want, v)
	}
	_, ok := VersionNumber("unknown")
	assert.Assert(t, !ok)
}

func TestLastExit(t *testing.T) {
	for _, tc := range []struct {
		code, status int32
		want         string
	}{
		{0, 0, ""},
		{CodeExited, 78, "exited 78"},
		{CodeKilled, 9, "killed by SIGKILL"},
		{CodeDumped, 11, "dumped core (SIGSEGV)"},
	} {
		st := &State{ExecMainCode: tc.code, ExecMainStatus: tc.status}
		assert.Equal(t, st.LastExit(), tc.want)
	}
}

func TestUnquote(t *testing.T) {
	// GetManagerProperty returns the GVariant text form of a string.
	assert.Equal(t, unquote(`"252.22-1~deb12u1"`), "252.22-1~deb12u1")
	assert.Equal(t, unquote(`'239'`), "239")
}
