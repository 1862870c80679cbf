//go:build pkgcheck

package pkgcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// TestLintian runs lintian on each .deb: no error and no warning that the
// shipped overrides (packaging/deb/stigmer.lintian-overrides) do not cover.
func TestLintian(t *testing.T) {
	needTool(t, "lintian")
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		if p.format != "deb" {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command("lintian", "--fail-on", "error,warning", p.path), icmd.WithTimeout(5*time.Minute))
			res.Assert(t, icmd.Expected{ExitCode: 0, Out: icmd.None})
		})
	}
}

// TestRpmlint runs rpmlint on each .rpm with packaging/rpm/rpmlint.toml,
// whose filters each carry a reason: no error and no warning left.
func TestRpmlint(t *testing.T) {
	needTool(t, "rpmlint")
	conf := filepath.Join(repoRoot(t), "packaging/rpm/rpmlint.toml")
	// rpmlint unpacks with `cpio -id -D tmp`; nfpm writes absolute names in
	// the payload, which GNU cpio would then write outside tmp (into / as
	// root). This cpio refuses absolute names.
	shim := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(shim, "cpio"),
		[]byte("#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames \"$@\"\n"), 0o755))
	env := append(os.Environ(), "PATH="+shim+":"+os.Getenv("PATH"))
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		if p.format != "rpm" {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command("rpmlint", "-c", conf, p.path), icmd.WithEnv(env...), icmd.WithTimeout(5*time.Minute))
			res.Assert(t, icmd.Success)
			assert.Assert(t, strings.Contains(res.Stdout(), "0 errors, 0 warnings"), res.Stdout())
		})
	}
}

// scriptPaths lists every maintainer script in packaging/scripts.
func scriptPaths(t *testing.T) []string {
	m, err := filepath.Glob(filepath.Join(repoRoot(t), "packaging/scripts/*/*"))
	assert.NilError(t, err)
	assert.Assert(t, len(m) == 8, "want 4 deb and 4 rpm scripts, found %v", m)
	return m
}

// TestScriptsLint runs shellcheck as POSIX sh and dash's parser on every
// maintainer script, and checks the house header: #!/bin/sh and set -eu.
func TestScriptsLint(t *testing.T) {
	for _, path := range scriptPaths(t) {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			run(t, "shellcheck", "-s", "sh", path)
			run(t, "dash", "-n", path)
			text := readFile(t, path)
			assert.Assert(t, strings.HasPrefix(text, "#!/bin/sh\n"), "%s must start with #!/bin/sh", name)
			assert.Assert(t, strings.Contains(text, "\nset -eu\n"), "%s must set -eu", name)
		})
	}
}

// TestSysusersInScripts checks that the config the pre-install scripts feed
// to systemd-sysusers on stdin is the shipped sysusers.d file's.
func TestSysusersInScripts(t *testing.T) {
	root := repoRoot(t)
	var want []string
	for _, l := range strings.Split(readFile(t, filepath.Join(root, "packaging/stigmer.sysusers")), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	re := regexp.MustCompile(`(?m)^sysusers_conf='([^']*)'$`)
	for _, s := range []string{"deb/preinst", "rpm/pre"} {
		m := re.FindStringSubmatch(readFile(t, filepath.Join(root, "packaging/scripts", s)))
		assert.Assert(t, m != nil, "%s has no sysusers_conf='...' line", s)
		assert.DeepEqual(t, []string{m[1]}, want)
	}
}
