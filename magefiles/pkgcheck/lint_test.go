//go:build pkgcheck

package pkgcheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// TestLintian runs lintian on each .deb, the host's (bookworm's) and Debian
// 13's from a trixie chroot: no error and no warning that the shipped
// overrides (packaging/deb/stigmer.lintian-overrides) do not cover, from
// either. Trixie's knows the /usr merge (DEP17): a file under /lib is an
// error there.
func TestLintian(t *testing.T) {
	needTool(t, "lintian")
	debs := packagesOf(t, "deb")
	trixie := newChroot(t, trixieImage, pathsOf(debs)...)
	for _, p := range debs {
		t.Run("bookworm/"+p.String(), func(t *testing.T) {
			res := icmd.RunCmd(icmd.Command("lintian", "--fail-on", "error,warning", p.path), icmd.WithTimeout(5*time.Minute))
			res.Assert(t, icmd.Expected{ExitCode: 0, Out: icmd.None})
		})
		t.Run("trixie/"+p.String(), func(t *testing.T) {
			res := trixie.sh("lintian --fail-on error,warning /pkgs/" + filepath.Base(p.path))
			res.Assert(t, icmd.Expected{ExitCode: 0, Out: icmd.None})
		})
	}
}

// TestRpmlint runs rpmlint on each .rpm with packaging/rpm/rpmlint.toml,
// whose filters each carry a reason: the host's (bookworm's 2.4) and
// Debian 13's (2.7, from a trixie chroot), no error and no warning left.
func TestRpmlint(t *testing.T) {
	needTool(t, "rpmlint")
	conf := filepath.Join(repoRoot(t), "packaging/rpm/rpmlint.toml")
	guard := newRpmlintGuard(t)
	rpms := packagesOf(t, "rpm")
	trixie := newChroot(t, trixieImage, append(pathsOf(rpms), conf)...)
	trixie.bindDevNull()
	for _, p := range rpms {
		t.Run("bookworm/"+p.String(), func(t *testing.T) {
			res := guard.run(t, "rpmlint", "-c", conf, p.path)
			res.Assert(t, icmd.Success)
			assert.Assert(t, strings.Contains(res.Stdout(), "0 errors, 0 warnings"), res.Stdout())
		})
		t.Run("trixie/"+p.String(), func(t *testing.T) {
			// rpmlint 2.7 unpacks with rpm2archive, whose names are ./
			// relative; it runs as nobody all the same, who cannot write
			// into the chroot's /, and nothing of the rpm may be there after.
			res := trixie.sh("cd /tmp && setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME=/tmp rpmlint -c /pkgs/rpmlint.toml /pkgs/" + filepath.Base(p.path))
			res.Assert(t, icmd.Success)
			assert.Assert(t, strings.Contains(res.Stdout(), "rpmlint: 2.7"), res.Stdout())
			assert.Assert(t, strings.Contains(res.Stdout(), "0 errors, 0 warnings"), res.Stdout())
			trixie.assertModes(map[string]string{"/usr/bin/stigmer": "absent"})
		})
	}
}

// packagesOf is the built packages of one format, both arches.
func packagesOf(t *testing.T, format string) []pkg {
	t.Helper()
	var out []pkg
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		if p.format == format {
			out = append(out, p)
		}
	}
	return out
}

func pathsOf(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.path)
	}
	return out
}

// rpmlintGuard runs rpmlint so that it cannot unpack into /. rpmlint 2.4
// unpacks with `rpm2cpio x.rpm | cpio -id` in a temp dir; nfpm writes
// absolute member names (/usr/bin/stigmer), which GNU cpio writes outside
// that dir, into / as root. Two guards: the cpio first on PATH adds
// --no-absolute-filenames (and leaves a mark, so a test fails if rpmlint
// stops using it), and rpmlint runs as nobody, who cannot write into /.
type rpmlintGuard struct {
	env  []string // PATH with the cpio shim first; TMPDIR owned by nobody
	pre  []string // setpriv to nobody, when run as root
	mark string   // the shim appends to it
}

func newRpmlintGuard(t *testing.T) rpmlintGuard {
	t.Helper()
	needTool(t, "setpriv")
	// Not t.TempDir: its parent is 0700, closed to nobody.
	dir, err := os.MkdirTemp("", "stigmer-rpmlint-")
	assert.NilError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	g := rpmlintGuard{mark: filepath.Join(tmp, "cpio-shim-used")}
	shim := filepath.Join(dir, "bin")
	assert.NilError(t, os.Mkdir(shim, 0o755))
	// A copy: testdata may not be readable by nobody.
	assert.NilError(t, os.WriteFile(filepath.Join(shim, "cpio"), []byte(readFile(t, "testdata/cpio-shim.sh")), 0o755))
	assert.NilError(t, os.Mkdir(tmp, 0o700))
	assert.NilError(t, os.Chmod(dir, 0o755))
	if os.Geteuid() == 0 {
		const nobody = 65534
		assert.NilError(t, os.Chown(tmp, nobody, nobody))
		g.pre = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	}
	g.env = append(os.Environ(), "PATH="+shim+":"+os.Getenv("PATH"), "TMPDIR="+tmp, "HOME="+tmp, "STIGMER_CPIO_SHIM_MARK="+g.mark)
	return g
}

// run runs rpmlint under the guard and checks that it unpacked with the
// cpio shim.
func (g rpmlintGuard) run(t *testing.T, name string, args ...string) *icmd.Result {
	t.Helper()
	if err := os.Remove(g.mark); err != nil && !os.IsNotExist(err) {
		assert.NilError(t, err)
	}
	cmd := append(append(g.pre, name), args...)
	res := icmd.RunCmd(icmd.Command(cmd[0], cmd[1:]...), icmd.WithEnv(g.env...), icmd.WithTimeout(5*time.Minute))
	_, err := os.Stat(g.mark)
	assert.Assert(t, err == nil, "rpmlint did not unpack with the cpio shim (%v); it may have written the rpm's absolute paths into /: check how it unpacks", err)
	return res
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

// TestTestdataScriptsLint runs shellcheck and dash -n on every test
// stand-in of the module (each testdata/*.sh: the docker, systemctl and cpio
// stand-ins are code the tests run, so they are linted like the maintainer
// scripts). It lives here because the package checks install shellcheck.
func TestTestdataScriptsLint(t *testing.T) {
	root := repoRoot(t)
	var scripts []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
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
	assert.Assert(t, len(scripts) >= 5, "found only %v: the docker, systemctl and cpio stand-ins should be there", scripts)
	for _, path := range scripts {
		rel, err := filepath.Rel(root, path)
		assert.NilError(t, err)
		t.Run(rel, func(t *testing.T) {
			run(t, "shellcheck", "-s", "sh", path)
			run(t, "dash", "-n", path)
		})
	}
}

// TestSysusersInScripts checks that the config the pre-install scripts feed
// to systemd-sysusers on stdin is the shipped sysusers.d file's, and that
// the user-making part is the same text in both scripts (it cannot be
// shared: it runs before the package's files land).
func TestSysusersInScripts(t *testing.T) {
	root := repoRoot(t)
	var want []string
	for _, l := range strings.Split(readFile(t, filepath.Join(root, "packaging/stigmer.sysusers")), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	re := regexp.MustCompile(`(?m)^sysusers_conf='([^']*)'$`)
	block := regexp.MustCompile(`(?s)\n# From here to make_user's end.*\nmake_user\(\) \{\n.*?\n\}\n`)
	var blocks []string
	for _, s := range []string{"deb/preinst", "rpm/pre"} {
		text := readFile(t, filepath.Join(root, "packaging/scripts", s))
		m := re.FindStringSubmatch(text)
		assert.Assert(t, m != nil, "%s has no sysusers_conf='...' line", s)
		assert.DeepEqual(t, []string{m[1]}, want)
		b := block.FindString(text)
		assert.Assert(t, b != "", "%s has no shared block from '# From here to make_user's end' to make_user's closing brace", s)
		blocks = append(blocks, b)
	}
	assert.Equal(t, blocks[0], blocks[1], "the user-making part of deb/preinst and rpm/pre differs")
}

// TestScriptCalls checks how the scripts call systemd's tools, as
// debhelper's and Fedora's macros do, so that an admin's files in /etc win:
// systemd-sysusers replaces the package's file (an /etc/sysusers.d
// override, a pinned UID, applies); systemd-tmpfiles gets the file's name,
// never the /usr/lib path; the rpm enables through presets, never with a
// plain enable; and no script deletes the user or group.
func TestScriptCalls(t *testing.T) {
	root := repoRoot(t)
	script := func(name string) string { return readFile(t, filepath.Join(root, "packaging/scripts", name)) }
	// calls are the code lines that run cmd (not its `command -v` check).
	calls := func(text, cmd string) []string {
		var out []string
		for _, l := range codeLines(text) {
			if strings.Contains(l, cmd+" ") && !strings.Contains(l, "command -v "+cmd) {
				out = append(out, l)
			}
		}
		return out
	}
	for _, tc := range []struct{ script, cmd, want string }{
		{"deb/preinst", "systemd-sysusers", `echo "$sysusers_conf" | systemd-sysusers --replace=/usr/lib/sysusers.d/stigmer.conf -`},
		{"rpm/pre", "systemd-sysusers", `echo "$sysusers_conf" | systemd-sysusers --replace=/usr/lib/sysusers.d/stigmer.conf -`},
		{"deb/postinst", "systemd-tmpfiles", `systemd-tmpfiles --create stigmer.conf; then`},
		{"rpm/post", "systemd-tmpfiles", `! systemd-tmpfiles --create stigmer.conf; then`},
		{"rpm/post", "--no-reload", `systemctl --no-reload preset "$unit" >/dev/null 2>&1 || true`},
	} {
		t.Run(tc.script+" "+tc.cmd, func(t *testing.T) {
			assert.DeepEqual(t, calls(script(tc.script), tc.cmd), []string{tc.want})
		})
	}
	for _, path := range scriptPaths(t) {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		for _, l := range codeLines(readFile(t, path)) {
			for _, never := range []string{"userdel", "groupdel", "systemctl enable", "--no-reload enable", "/usr/lib/tmpfiles.d/"} {
				assert.Check(t, !strings.Contains(l, never), "%s runs %q: %s", name, never, l)
			}
		}
	}
}

// codeLines are the lines of a script that are not comments, trimmed.
func codeLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
