//go:build pkgcheck

package pkgcheck

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// image is a Debian chroot recipe for mmdebstrap.
type image struct {
	name    string
	suite   string   // Debian release; "" is bookworm
	include []string // packages on top of minbase
}

var (
	// No systemd at all: the scripts' useradd and install -d fallbacks.
	plainImage = image{name: "minbase"}
	// systemd installed but not running, as in an image build: the
	// systemd-sysusers and systemd-tmpfiles paths, and the rpm tool.
	systemdImage = image{name: "systemd-rpm", include: []string{"systemd", "rpm"}}
	// Debian 13 with its own lintian and rpmlint (and rpm, which rpmlint
	// runs), beside the host's bookworm ones; its dpkg for the upgrades too.
	trixieImage = image{name: "trixie-lint", suite: "trixie", include: []string{"lintian", "rpmlint", "rpm"}}
)

// release is the Debian release img is built from.
func (img image) release() string {
	if img.suite == "" {
		return "bookworm"
	}
	return img.suite
}

// debianMirror is the Debian archive this machine's apt uses for bookworm
// (or STIGMER_DEBIAN_MIRROR), so that no host name lives in the repository;
// the same archive serves trixie.
func debianMirror(t *testing.T) string {
	t.Helper()
	if m := os.Getenv("STIGMER_DEBIAN_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		// deb822 stanzas: a URIs: line and a Suites: line naming bookworm.
		for _, stanza := range strings.Split(readFile(t, f), "\n\n") {
			fields := map[string]string{}
			for _, l := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") {
					fields[k] = strings.TrimSpace(v)
				}
			}
			for _, s := range strings.Fields(fields["Suites"]) {
				if s == "bookworm" && fields["URIs"] != "" {
					return strings.Fields(fields["URIs"])[0]
				}
			}
		}
	}
	if f, err := os.Open("/etc/apt/sources.list"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// deb [options] URI SUITE COMPONENTS...
			w := strings.Fields(sc.Text())
			if len(w) >= 3 && w[0] == "deb" && strings.HasPrefix(w[len(w)-2], "bookworm") {
				for _, x := range w[1:] {
					if strings.Contains(x, "://") {
						return x
					}
				}
			}
		}
	}
	t.Fatal("no bookworm mirror in /etc/apt/sources.list{,.d}; set STIGMER_DEBIAN_MIRROR to a Debian mirror URL")
	return ""
}

// tarball returns the cached mmdebstrap tarball of img, building it on the
// first use. The cache key is a hash of the recipe, so a changed recipe
// builds anew and an unchanged one is reused across runs and clones.
func (img image) tarball(t *testing.T) string {
	t.Helper()
	needTool(t, "mmdebstrap")
	args := []string{"--quiet", "--variant=minbase", "--format=tar"}
	if len(img.include) > 0 {
		args = append(args, "--include="+strings.Join(img.include, ","))
	}
	args = append(args, img.release())
	mirror := debianMirror(t)
	sum := sha256.Sum256([]byte(strings.Join(append(args, mirror), "\n")))
	cache, err := os.UserCacheDir()
	assert.NilError(t, err)
	path := filepath.Join(cache, "stigmer", "chroot", img.name+"-"+hex.EncodeToString(sum[:8])+".tar")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	assert.NilError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	tmp := path + ".tmp"
	start := time.Now()
	icmd.RunCmd(icmd.Command("mmdebstrap", append(args, tmp, mirror)...), icmd.WithTimeout(10*time.Minute)).Assert(t, icmd.Success)
	assert.NilError(t, os.Rename(tmp, path))
	t.Logf("built chroot %s in %s", img.name, time.Since(start).Round(time.Second))
	return path
}

// chroot is a fresh copy of an image with the packages under /pkgs.
type chroot struct {
	t   *testing.T
	dir string
}

func newChroot(t *testing.T, img image, pkgs ...string) chroot {
	t.Helper()
	dir := t.TempDir()
	// /dev is left out: the scripts need no device, and mknod may be denied.
	run(t, "tar", "-C", dir, "--exclude=./dev/*", "-xf", img.tarball(t))
	assert.NilError(t, os.MkdirAll(filepath.Join(dir, "pkgs"), 0o755))
	for _, p := range pkgs {
		run(t, "cp", p, filepath.Join(dir, "pkgs"))
	}
	c := chroot{t, dir}
	// What the test relies on: no running systemd in there.
	c.ok("test ! -e /run/systemd/system")
	return c
}

// bindDevNull puts the host's /dev/null into the chroot (its /dev is left
// empty) for the tools that need one, such as rpmlint; the test's cleanup
// unmounts it.
func (c chroot) bindDevNull() {
	c.t.Helper()
	target := filepath.Join(c.dir, "dev", "null")
	assert.NilError(c.t, os.WriteFile(target, nil, 0o666))
	run(c.t, "mount", "--bind", "/dev/null", target)
	c.t.Cleanup(func() { icmd.RunCommand("umount", target) })
}

// mountProc mounts /proc in the chroot, as image builders do, for the
// tools that need it (systemd-tmpfiles refuses to run without it); the
// test's cleanup unmounts it.
func (c chroot) mountProc() {
	c.t.Helper()
	target := filepath.Join(c.dir, "proc")
	run(c.t, "mount", "-t", "proc", "proc", target)
	c.t.Cleanup(func() { icmd.RunCommand("umount", "-l", target) })
}

// sh runs a shell command inside the chroot.
func (c chroot) sh(cmd string) *icmd.Result {
	return icmd.RunCmd(icmd.Command("chroot", c.dir, "/bin/sh", "-c", cmd),
		icmd.WithEnv("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive", "HOME=/root"),
		icmd.WithTimeout(5*time.Minute))
}

// ok runs cmd, asserts exit code 0 and returns stdout.
func (c chroot) ok(cmd string) string {
	c.t.Helper()
	res := c.sh(cmd)
	res.Assert(c.t, icmd.Success)
	return res.Stdout()
}

// mode returns "MODE USER:GROUP" of path, or "absent".
func (c chroot) mode(path string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("stat -c '%a %U:%G' " + path + " 2>/dev/null || echo absent"))
}

// assertModes checks each path's "MODE USER:GROUP" (or "absent").
func (c chroot) assertModes(want map[string]string) {
	c.t.Helper()
	for path, w := range want {
		assert.Check(c.t, is.Equal(c.mode(path), w), path)
	}
}

// assertUser checks the stigmer user and group exist as sysusers.d says,
// or are gone.
func (c chroot) assertUser(present bool) {
	c.t.Helper()
	pw := c.sh("getent passwd stigmer")
	gr := c.sh("getent group stigmer")
	if !present {
		assert.Check(c.t, pw.ExitCode == 2, "user stigmer still exists: %s", pw.Stdout())
		assert.Check(c.t, gr.ExitCode == 2, "group stigmer still exists: %s", gr.Stdout())
		return
	}
	pw.Assert(c.t, icmd.Success)
	gr.Assert(c.t, icmd.Success)
	f := strings.Split(strings.TrimSpace(pw.Stdout()), ":")
	assert.Assert(c.t, len(f) == 7, pw.Stdout())
	uid := 0
	_, err := fmt.Sscan(f[2], &uid)
	assert.NilError(c.t, err)
	assert.Check(c.t, uid > 0 && uid < 1000, "stigmer uid %d is not a system uid", uid)
	assert.Check(c.t, is.Equal(f[5], "/var/lib/stigmer"))
	assert.Check(c.t, strings.HasSuffix(f[6], "/nologin"), "stigmer has login shell %q", f[6])
}

const (
	editLine  = "STIGMER_LISTEN=127.0.0.1:9999"
	wantsLink = "/etc/systemd/system/multi-user.target.wants/stigmer.service"
)

// installed is what a configured install leaves, format-independent.
var installed = map[string]string{
	"/usr/bin/stigmer":                 "755 root:root",
	"/var/lib/stigmer":                 "750 stigmer:stigmer",
	"/var/log/stigmer":                 "755 stigmer:stigmer",
	"/usr/lib/sysusers.d/stigmer.conf": "644 root:root",
	"/usr/lib/tmpfiles.d/stigmer.conf": "644 root:root",
}

func oldAndNew(t *testing.T, format string) (string, string) {
	return pkgFor(t, distDir(t, "STIGMER_OLD_DIST"), format), pkgFor(t, distDir(t, "STIGMER_DIST"), format)
}

// TestDebLifecycle installs, upgrades, removes, reinstalls and purges the
// .deb with dpkg in a chroot without a running systemd, with and without
// the systemd tools.
func TestDebLifecycle(t *testing.T) {
	oldDeb, newDeb := oldAndNew(t, "deb")
	newVersion := pkgbuild.PackageVersion(os.Getenv("STIGMER_TEST_VERSION"))
	for _, img := range []image{plainImage, systemdImage} {
		t.Run(img.name, func(t *testing.T) {
			c := newChroot(t, img, oldDeb, newDeb)
			old, cur := "/pkgs/"+filepath.Base(oldDeb), "/pkgs/"+filepath.Base(newDeb)

			// install, the older build in the earlier layout (the unit in /lib)
			c.ok("dpkg -i " + old)
			c.assertUser(true)
			c.assertModes(installed)
			c.assertModes(map[string]string{
				"/etc/default/stigmer":    "600 root:root",
				pkgbuild.OlderDebUnitPath: "644 root:root",
				wantsLink:                 "777 root:root",
			})
			assert.Check(t, is.Contains(c.ok("stigmer version"), "0.0.0-git.0"))

			// upgrade with an edited env file (whose default changed: the
			// older build ships another one) and data, with the options the
			// README gives, no terminal
			c.ok("echo " + editLine + " >> /etc/default/stigmer && echo data > /var/lib/stigmer/data && chown stigmer: /var/lib/stigmer/data")
			c.ok("dpkg -i " + confOptions + " " + cur)
			assert.Check(t, is.Equal(c.ok("dpkg-query -W -f '${Version}' stigmer"), newVersion))
			c.assertUnitMoved()
			assert.Check(t, is.Contains(c.ok("cat /etc/default/stigmer"), editLine))
			assert.Check(t, is.Equal(c.ok("cat /etc/default/stigmer.dpkg-dist"), newEnv(t)))
			c.assertModes(installed)
			c.assertModes(map[string]string{"/var/lib/stigmer/data": "644 stigmer:stigmer", "/etc/default/stigmer": "600 root:root", wantsLink: "777 root:root"})

			// remove: data, env file, user and enablement stay; the unit is
			// masked (debhelper does both: a reinstall keeps enabled or
			// disabled as it was)
			c.ok("dpkg -r stigmer")
			c.assertUser(true)
			c.assertModes(map[string]string{
				"/usr/bin/stigmer":        "absent",
				pkgbuild.UnitPath:         "absent",
				pkgbuild.OlderDebUnitPath: "absent",
				wantsLink:                 "777 root:root",
				"/var/lib/stigmer":        "750 stigmer:stigmer",
				"/var/lib/stigmer/data":   "644 stigmer:stigmer",
				"/var/log/stigmer":        "755 stigmer:stigmer",
				"/etc/default/stigmer":    "600 root:root",
			})
			assert.Check(t, is.Equal(c.ok("dpkg-query -W -f '${Status}' stigmer"), "deinstall ok config-files"))
			assert.Check(t, is.Equal(c.ok("readlink "+maskLink), "/dev/null\n"), "masked after remove")

			// reinstall: unmasked, enabled again, the edit still there
			c.ok("dpkg -i " + cur)
			c.assertModes(installed)
			c.assertModes(map[string]string{wantsLink: "777 root:root", maskLink: "absent"})
			assert.Check(t, is.Contains(c.ok("cat /etc/default/stigmer"), editLine))

			// purge: no file of stigmer left; the user and group stay
			// (TestDebPurgeKeepsUser says why)
			c.ok("dpkg --purge stigmer")
			c.assertUser(true)
			left := c.ok("find / -xdev -path /pkgs -prune -o -name '*stigmer*' -print")
			assert.Check(t, is.Equal(left, ""), "left after purge")
			c.ok("! dpkg-query -W stigmer 2>/dev/null")
		})
	}
}

// assertUnitMoved checks, after an upgrade from the older build (the unit in
// /lib/systemd/system), that the new build's unit is on disk at its /usr
// path, and that dpkg knows it there and no longer at the old one. On a
// merged-/usr system both names are one file, which dpkg must not remove
// with the old name (DEP17's file loss).
func (c chroot) assertUnitMoved() {
	c.t.Helper()
	want := readFile(c.t, filepath.Join(repoRoot(c.t), "packaging/stigmer.service"))
	assert.Check(c.t, is.Equal(c.sh("cat "+pkgbuild.UnitPath).Stdout(), want), "the unit after the upgrade is not the new one")
	c.assertModes(map[string]string{pkgbuild.UnitPath: "644 root:root"})
	owned := lines(c.ok("dpkg -L stigmer"))
	assert.Check(c.t, slices.Contains(owned, pkgbuild.UnitPath), "dpkg does not list %s", pkgbuild.UnitPath)
	assert.Check(c.t, !slices.Contains(owned, pkgbuild.OlderDebUnitPath), "dpkg still lists %s", pkgbuild.OlderDebUnitPath)
}

// TestDebUnitMove upgrades from the older build, whose unit is in
// /lib/systemd/system, in a Debian 13 chroot (merged /usr, dpkg 1.22; the
// lifecycle test does it on bookworm), then downgrades and upgrades again:
// the unit stays on disk each time, and a purge leaves none of it.
func TestDebUnitMove(t *testing.T) {
	oldDeb, newDeb := oldAndNew(t, "deb")
	c := newChroot(t, trixieImage, oldDeb, newDeb)
	old, cur := "/pkgs/"+filepath.Base(oldDeb), "/pkgs/"+filepath.Base(newDeb)
	assert.Equal(t, c.ok("readlink /lib"), "usr/lib\n", "not a merged-/usr chroot")

	c.ok("dpkg -i " + old)
	assert.Check(t, slices.Contains(lines(c.ok("dpkg -L stigmer")), pkgbuild.OlderDebUnitPath), "the older build is not in the earlier layout")
	c.ok("dpkg -i " + confOptions + " " + cur)
	c.assertUnitMoved()
	// A downgrade moves it back, and the upgrade after it again.
	c.ok("dpkg -i " + confOptions + " " + old)
	assert.Check(t, slices.Contains(lines(c.ok("dpkg -L stigmer")), pkgbuild.OlderDebUnitPath))
	c.assertModes(map[string]string{pkgbuild.OlderDebUnitPath: "644 root:root"})
	c.ok("dpkg -i " + confOptions + " " + cur)
	c.assertUnitMoved()

	c.ok("dpkg --purge stigmer")
	c.assertModes(map[string]string{pkgbuild.UnitPath: "absent", pkgbuild.OlderDebUnitPath: "absent"})
}

// TestScriptArguments runs every maintainer script under dash (the chroot's
// /bin/sh) with each argument dpkg or rpm documents that needs no installed
// package, and with an unknown one: all exit 0, the unknown one with a note.
func TestScriptArguments(t *testing.T) {
	c := newChroot(t, plainImage)
	for _, path := range scriptPaths(t) {
		run(t, "cp", path, filepath.Join(c.dir, "pkgs", filepath.Base(filepath.Dir(path))+"-"+filepath.Base(path)))
	}
	for _, tc := range []struct{ script, args, note string }{
		// documented no-ops
		{"deb-preinst", "abort-upgrade 1.0", ""},
		{"deb-postinst", "abort-upgrade 1.0", ""},
		{"deb-postinst", "abort-remove", ""},
		{"deb-postinst", "abort-deconfigure in-favour foo 1.0", ""},
		{"deb-prerm", "upgrade 2.0", ""},
		{"deb-prerm", "deconfigure in-favour foo 1.0", ""},
		{"deb-prerm", "failed-upgrade 1.0", ""},
		{"deb-postrm", "upgrade 2.0", ""},
		{"deb-postrm", "failed-upgrade 1.0", ""},
		{"deb-postrm", "abort-install", ""},
		{"deb-postrm", "abort-upgrade 1.0", ""},
		{"deb-postrm", "disappear foo 1.0", ""},
		{"rpm-preun", "1", ""},
		{"rpm-postun", "1", ""},
		// unknown arguments never block a transaction
		{"deb-preinst", "bogus", "preinst called with unknown argument 'bogus'"},
		{"deb-postinst", "bogus", "postinst called with unknown argument 'bogus'"},
		{"deb-prerm", "bogus", "prerm called with unknown argument 'bogus'"},
		{"deb-postrm", "bogus", "postrm called with unknown argument 'bogus'"},
		{"rpm-preun", "bogus", ""},
		{"rpm-postun", "bogus", ""},
	} {
		t.Run(tc.script+" "+tc.args, func(t *testing.T) {
			res := c.sh("sh /pkgs/" + tc.script + " " + tc.args)
			exp := icmd.Expected{ExitCode: 0, Err: tc.note}
			if tc.note == "" && !strings.HasPrefix(tc.script, "rpm-") {
				exp.Err = icmd.None
			}
			res.Assert(t, exp)
		})
	}
	// Nothing of the above made the user or the dirs.
	c.assertUser(false)
	c.assertModes(map[string]string{"/var/lib/stigmer": "absent"})
}
