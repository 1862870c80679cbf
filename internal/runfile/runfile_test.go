package runfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

func TestWriteRunFileFollowsNoSymlink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		plant  func(dir, path, victim string) error // a symlink to victim
		target string
	}{
		{"symlink at the path", func(_, path, victim string) error { return os.Symlink(victim, path) }, ""},
		{"symlink at the old fixed temporary name", func(_, path, victim string) error { return os.Symlink(victim, path+".tmp") }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, victim := filepath.Join(dir, "server.pid"), filepath.Join(dir, "victim")
			assert.NilError(t, os.WriteFile(victim, []byte("precious\n"), 0o600))
			assert.NilError(t, tc.plant(dir, path, victim))

			_, err := Write(path, "1234\n", false)
			assert.NilError(t, err)

			b, err := os.ReadFile(victim)
			assert.NilError(t, err)
			assert.Equal(t, string(b), "precious\n", "written through a symlink")
			fi, err := os.Lstat(path)
			assert.NilError(t, err)
			assert.Assert(t, fi.Mode().IsRegular(), "%s is %s", path, fi.Mode())
			b, err = os.ReadFile(path)
			assert.NilError(t, err)
			assert.Equal(t, string(b), "1234\n")
			entries, err := os.ReadDir(dir)
			assert.NilError(t, err)
			for _, e := range entries {
				assert.Assert(t, !strings.HasPrefix(e.Name(), ".server.pid."), "temporary file %s left", e.Name())
			}
		})
	}
}

func TestWriteRunFileLockNamesTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.pid")
	f, err := Write(path, "1\n", true)
	assert.NilError(t, err)
	defer f.Close()
	// fcntl locks never conflict with their owner's, so this process
	// cannot see its own lock: the binary test checks the holder's PID.
	_, err = LockHolder(path)
	assert.ErrorIs(t, err, ErrNotLocked)
}
