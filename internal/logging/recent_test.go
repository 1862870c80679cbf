package logging

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

func TestRecentKeepsTheLastLinesAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	var sink strings.Builder
	log, r, err := WithRecent(slog.New(NewTextHandler(&sink)), dir)
	assert.NilError(t, err)
	line := strings.Repeat("x", 200)
	n := 2*RecentMaxBytes/250 + 10 // more than both files hold
	for i := range n {
		log.Info("runner exited", "n", i, "pad", line)
	}
	log.Log(t.Context(), LevelAlert, "stigmer.service died")
	assert.NilError(t, r.Close())

	last := LastLines(dir, 3)
	assert.Equal(t, len(last), 3)
	assert.Assert(t, strings.Contains(last[0], fmt.Sprintf("n=%d ", n-2)), last[0])
	assert.Assert(t, strings.Contains(last[2], "level=ALERT"), last[2])
	for _, name := range []string{RecentFile, RecentFile + ".1"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		assert.NilError(t, err)
		assert.Assert(t, fi.Size() <= RecentMaxBytes, "%s is %d bytes", name, fi.Size())
		assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
	}
	assert.Assert(t, strings.Count(sink.String(), "\n") == n+1, "the first handler still gets every entry")
}

func TestAlertIsJournaledAtPriorityAlert(t *testing.T) {
	assert.Equal(t, int(Priority(LevelAlert)), 1)
	assert.Equal(t, int(Priority(slog.LevelError)), 3)
}

func TestLastLinesOfNothing(t *testing.T) {
	assert.Equal(t, len(LastLines(t.TempDir(), 5)), 0)
}
