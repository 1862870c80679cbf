package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// TestStandInsPassShellcheck runs shellcheck over every testdata/*.sh of
// the module: the tests' shell stand-ins are code too. Without shellcheck
// the test skips on a developer's machine but fails under CI=true, where a
// skipped check would pass unseen.
func TestStandInsPassShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not on PATH but CI=true: install it (apt-get install -y shellcheck)")
		}
		t.Skip("shellcheck is not on PATH; install it to check the stand-ins (apt-get install -y shellcheck)")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	assert.NilError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	assert.NilError(t, err, "the module root is not two levels up")

	var scripts []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".sh") && filepath.Base(filepath.Dir(path)) == "testdata" {
			scripts = append(scripts, path)
		}
		return nil
	})
	assert.NilError(t, err)
	assert.Assert(t, len(scripts) > 0, "no testdata/*.sh found under %s", root)
	icmd.RunCommand("shellcheck", scripts...).Assert(t, icmd.Success)
}
