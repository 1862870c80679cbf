//go:build pkgcheck

package pkgcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// pkg is one built package file.
type pkg struct {
	format string // deb or rpm
	arch   string // GOARCH
	path   string
}

func (p pkg) String() string { return p.format + "/" + p.arch }

// repoRoot is the repository root, two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	assert.Assert(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func distDir(t *testing.T, env string) string {
	t.Helper()
	d := os.Getenv(env)
	assert.Assert(t, d != "", "%s is not set; run the package checks with `go tool mage check:packages`", env)
	return d
}

// packages finds the one .deb or .rpm per arch in dir.
func packages(t *testing.T, dir string) []pkg {
	t.Helper()
	var out []pkg
	for _, c := range []struct{ format, arch, pattern string }{
		{"deb", "amd64", "stigmer_*_amd64.deb"},
		{"deb", "arm64", "stigmer_*_arm64.deb"},
		{"rpm", "amd64", "stigmer-*.x86_64.rpm"},
		{"rpm", "arm64", "stigmer-*.aarch64.rpm"},
	} {
		m, err := filepath.Glob(filepath.Join(dir, c.pattern))
		assert.NilError(t, err)
		assert.Assert(t, len(m) == 1, "want one %s in %s, found %v; run `go tool mage package`", c.pattern, dir, m)
		out = append(out, pkg{c.format, c.arch, m[0]})
	}
	return out
}

// pkgFor returns the package of format for the host arch.
func pkgFor(t *testing.T, dir, format string) string {
	t.Helper()
	for _, p := range packages(t, dir) {
		if p.format == format && p.arch == runtime.GOARCH {
			return p.path
		}
	}
	t.Fatalf("no %s package for %s in %s", format, runtime.GOARCH, dir)
	return ""
}

// needTool fails the test, naming the fix, when cmd is missing.
func needTool(t *testing.T, cmd string) {
	t.Helper()
	if _, err := exec.LookPath(cmd); err != nil {
		t.Fatalf("%s not found (%v): `go tool mage check:tools` installs it with apt-get", cmd, err)
	}
}

// run runs a command that must succeed and returns its stdout.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	needTool(t, name)
	res := icmd.RunCmd(icmd.Command(name, args...), icmd.WithTimeout(5*time.Minute))
	res.Assert(t, icmd.Success)
	return res.Stdout()
}

// lines splits output into sorted, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	return string(b)
}
