package pkgbuild

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

func TestVersionFromDescribe(t *testing.T) {
	for _, c := range []struct {
		name, describe string
		commits        int
		want, pkg      string
	}{
		// success
		{"release tag", "v1.2.3-0-gabc1234", 9, "1.2.3", "1.2.3"},
		{"pre-release tag", "v1.2.3-rc.1-0-gabc1234", 9, "1.2.3-rc.1", "1.2.3~rc.1"},
		{"after a release", "v1.2.3-4-gabc1234", 9, "1.2.3+git.4.gabc1234", "1.2.3+git.4.gabc1234"},
		{"after a pre-release", "v1.2.3-rc.1-4-gabc1234", 9, "1.2.3-rc.1+git.4.gabc1234", "1.2.3~rc.1+git.4.gabc1234"},
		{"no tag yet", "", 7, "0.0.0-git.7.gabc1234", "0.0.0~git.7.gabc1234"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := VersionFromDescribe(c.describe, c.commits, "abc1234")
			assert.NilError(t, err)
			assert.Equal(t, got, c.want)
			assert.Equal(t, PackageVersion(got), c.pkg)
		})
	}
	// failure
	_, err := VersionFromDescribe("release-1-2-gabc", 1, "abc1234")
	assert.ErrorContains(t, err, "tag releases like v1.2.3")
}

func TestCheckVersion(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "v0.9.0", want: "0.9.0"},
		{in: "0.0.0-git.0.g0000000", want: "0.0.0-git.0.g0000000"},
		{in: "1.0", err: "is not semver"},
		{in: "1.0.0-rc-1", err: "is not semver"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := CheckVersion(c.in)
			if c.err != "" {
				assert.ErrorContains(t, err, c.err)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, got, c.want)
		})
	}
}

func TestMarkDirty(t *testing.T) {
	for _, c := range []struct{ clean, dirty, pkg string }{
		{"1.2.3", "1.2.3+dirty", "1.2.3+dirty"},
		{"1.2.3-rc.1", "1.2.3-rc.1+dirty", "1.2.3~rc.1+dirty"},
		{"1.2.3+git.4.gabc1234", "1.2.3+git.4.gabc1234.dirty", "1.2.3+git.4.gabc1234.dirty"},
		{"0.0.0-git.7.gabc1234", "0.0.0-git.7.gabc1234+dirty", "0.0.0~git.7.gabc1234+dirty"},
	} {
		t.Run(c.clean, func(t *testing.T) {
			got := MarkDirty(c.clean)
			assert.Equal(t, got, c.dirty)
			assert.Equal(t, PackageVersion(got), c.pkg)
			// Still a version the build accepts, as STIGMER_VERSION too.
			v, err := CheckVersion(got)
			assert.NilError(t, err)
			assert.Equal(t, v, got)
		})
	}
}

// TestNewDirty builds the version of a scratch repository: a change to a
// tracked file, staged or not, marks it dirty; an untracked file does not.
func TestNewDirty(t *testing.T) {
	dir, git := scratchRepo(t, "")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("a\n"), 0o644))
	git("add", "f")
	git("commit", "-q", "-m", "x")
	git("tag", "v1.2.3")
	version := func() string {
		t.Helper()
		b, err := New(t.Context(), dir, io.Discard, Options{})
		assert.NilError(t, err)
		return b.Version
	}

	// clean
	assert.Equal(t, version(), "1.2.3")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "untracked"), nil, 0o644))
	assert.Equal(t, version(), "1.2.3")
	// dirty
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("b\n"), 0o644))
	assert.Equal(t, version(), "1.2.3+dirty")
	git("add", "f")
	assert.Equal(t, version(), "1.2.3+dirty")
	git("commit", "-q", "-m", "y")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("c\n"), 0o644))
	assert.Equal(t, version(), "1.2.3+git.1.g"+strings.TrimSpace(func() string {
		out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=7", "HEAD").Output()
		assert.NilError(t, err)
		return string(out)
	}())+".dirty")
}

// TestNewOptions checks that New takes the version and the output directory
// from its Options and not from the environment: the user's overrides are
// read once, by the magefiles' top level.
func TestNewOptions(t *testing.T) {
	dir, git := scratchRepo(t, "")
	git("commit", "-q", "-m", "x")
	git("tag", "v2.0.0")
	t.Setenv("STIGMER_VERSION", "9.9.9")
	t.Setenv("STIGMER_DIST", "/from/the/environment")
	t.Setenv("STIGMER_OLDER_ENV", "1")

	b, err := New(t.Context(), dir, io.Discard, Options{})
	assert.NilError(t, err)
	assert.Equal(t, b.Version, "2.0.0")
	assert.Equal(t, b.Dist, filepath.Join(dir, "dist"))
	assert.Equal(t, b.OlderEnvFile, false)

	b, err = New(t.Context(), dir, io.Discard, Options{Version: "1.0.0-rc.1", Dist: "out", OlderEnvFile: true})
	assert.NilError(t, err)
	assert.Equal(t, b.Version, "1.0.0-rc.1")
	assert.Equal(t, b.Dist, filepath.Join(dir, "out"))
	assert.Equal(t, b.OlderEnvFile, true)

	_, err = New(t.Context(), dir, io.Discard, Options{Version: "not a version"})
	assert.ErrorContains(t, err, "not a version")
}

// TestNewRefusesAnOlderGo: with GOTOOLCHAIN=local (as on machines whose Go
// ignores go.mod's toolchain line), a toolchain older than go.mod's stops
// the build before anything is built.
func TestNewRefusesAnOlderGo(t *testing.T) {
	dir, git := scratchRepo(t, "toolchain go1.99.0\n")
	git("commit", "-q", "-m", "x")
	t.Setenv("GOTOOLCHAIN", "local")
	_, err := New(t.Context(), dir, io.Discard, Options{Version: "1.0.0"})
	assert.ErrorContains(t, err, "older than go1.99.0 that go.mod names")
	assert.ErrorContains(t, err, "export GOTOOLCHAIN=go1.99.0")
}

// scratchRepo makes a git repository with a go.mod (go 1.22, plus extra)
// staged, and returns it with a git runner for it.
func scratchRepo(t *testing.T, extra string) (string, func(args ...string)) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...).CombinedOutput()
		assert.NilError(t, err, string(out))
	}
	git("init", "-q")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module m\n\ngo 1.22\n\n"+extra), 0o644))
	git("add", "go.mod")
	return dir, git
}
