package oomkills

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	assert.NilError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	assert.NilError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestCountReadsTheOwnCgroup(t *testing.T) {
	root := t.TempDir()
	self := filepath.Join(t.TempDir(), "cgroup")

	t.Run("v2", func(t *testing.T) {
		write(t, self, "0::/system.slice/stigmer.service\n")
		write(t, filepath.Join(root, "system.slice/stigmer.service/memory.events"), "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n")
		n, ok := countIn(root, self)
		assert.Assert(t, ok)
		assert.Equal(t, n, int64(2))
	})
	t.Run("v1", func(t *testing.T) {
		write(t, self, "12:pids:/system.slice/stigmer.service\n4:memory:/system.slice/stigmer.service\n1:name=systemd:/system.slice/stigmer.service\n")
		write(t, filepath.Join(root, "memory/system.slice/stigmer.service/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
		n, ok := countIn(root, self)
		assert.Assert(t, ok)
		assert.Equal(t, n, int64(5))
	})
	t.Run("not told", func(t *testing.T) {
		write(t, self, "0::/user.slice/nothing-here\n")
		_, ok := countIn(root, self)
		assert.Assert(t, !ok)
	})
}
