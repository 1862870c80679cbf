//go:build pkgcheck

package pkgcheck

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// rpmRequires is what the stigmer rpm must declare for its scriptlets:
// /bin/sh runs them, shadow-utils has %pre's useradd/groupadd fallback,
// systemd has systemctl (Fedora's %systemd_requires).
var rpmRequires = []string{"/bin/sh", "shadow-utils", "systemd"}

// standIn builds the stand-in for a RHEL base system (pkgbuild.StandIn)
// into a temp dir and returns its path.
func standIn(t *testing.T) string {
	t.Helper()
	b, err := pkgbuild.New(t.Context(), repoRoot(t), io.Discard, pkgbuild.Options{})
	assert.NilError(t, err)
	path, err := b.StandIn(t.TempDir())
	assert.NilError(t, err)
	return path
}

// TestRpmRequires checks that each rpm declares what its scriptlets need,
// and that the test stand-in provides exactly that under its stand-in name.
func TestRpmRequires(t *testing.T) {
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		if p.format != "rpm" {
			continue
		}
		t.Run(p.String(), func(t *testing.T) {
			var got []string
			for _, req := range lines(run(t, "rpm", "-qpR", p.path)) {
				if !strings.HasPrefix(req, "rpmlib(") {
					got = append(got, req)
				}
			}
			assert.DeepEqual(t, got, rpmRequires)
		})
	}
	s := standIn(t)
	assert.Equal(t, run(t, "rpm", "-qp", "--qf", "%{NAME} %{ARCH}\n", s), pkgbuild.StandInName+" noarch\n")
	var provides []string
	for _, p := range lines(run(t, "rpm", "-qp", "--provides", s)) {
		if !strings.HasPrefix(p, pkgbuild.StandInName) {
			provides = append(provides, p)
		}
	}
	assert.DeepEqual(t, provides, rpmRequires)
	assert.Equal(t, run(t, "rpm", "-qpl", s), "(contains no files)\n")
}

// TestRpmLifecycle installs, upgrades and erases the .rpm with rpm in a
// chroot that has systemd's tools but no running systemd, as an image build
// (kickstart, dnf --installroot) does. Dependencies are checked: a stand-in
// package provides what a RHEL base system would.
func TestRpmLifecycle(t *testing.T) {
	oldRpm, newRpm := oldAndNew(t, "rpm")
	standInRpm := standIn(t)
	newVersion := pkgbuild.PackageVersion(os.Getenv("STIGMER_TEST_VERSION"))
	c := newChroot(t, systemdImage, oldRpm, newRpm, standInRpm)
	old, cur := "/pkgs/"+filepath.Base(oldRpm), "/pkgs/"+filepath.Base(newRpm)

	// Without the stand-in the dependencies are missing, and rpm says which.
	res := c.sh("rpm -i --test " + old)
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "Failed dependencies"})
	for _, r := range rpmRequires {
		assert.Check(t, is.Contains(res.Stderr(), r+" is needed by stigmer"))
	}
	c.ok("rpm -i /pkgs/" + filepath.Base(standInRpm))

	// install (%pre 1, %post 1), offline: enabled all the same
	c.ok("rpm -i " + old)
	c.assertUser(true)
	c.assertModes(installed)
	c.assertModes(map[string]string{
		"/etc/sysconfig/stigmer":                  "600 root:root",
		"/usr/lib/systemd/system/stigmer.service": "644 root:root",
		wantsLink: "777 root:root",
	})
	// Debian's systemctl names the unit by its /lib path (merged /usr): the
	// same file.
	assert.Check(t, is.Equal(c.ok("readlink -f "+wantsLink), "/usr/lib/systemd/system/stigmer.service\n"))
	assert.Check(t, is.Equal(c.sh("systemctl is-enabled stigmer").Stdout(), "enabled\n"))
	// rpm owns the directories, and they verify as installed.
	pkgName := strings.TrimSpace(c.ok("rpm -q stigmer"))
	for _, d := range []string{"/var/lib/stigmer", "/var/log/stigmer", "/usr/share/licenses/stigmer"} {
		assert.Check(t, is.Equal(c.ok("rpm -qf "+d), pkgName+"\n"), d)
	}
	c.ok("rpm -V stigmer")

	// upgrade (%pre 2, %post 2, old %preun 1, old %postun 1) with an edited
	// env file, where the new version ships a changed default: the edit
	// stays, the new default lands beside it as .rpmnew.
	c.ok("echo " + editLine + " >> /etc/sysconfig/stigmer && echo data > /var/lib/stigmer/data")
	c.ok("rpm -U " + cur)
	assert.Check(t, is.Equal(c.ok("rpm -q --qf '%{VERSION}' stigmer"), newVersion))
	// The binary says the version the package has (semver, with +dirty for
	// a build of uncommitted changes).
	assert.Check(t, is.Equal(strings.SplitN(c.ok("stigmer version"), "\n", 2)[0], "stigmer "+os.Getenv("STIGMER_TEST_VERSION")))
	assert.Check(t, is.Contains(c.ok("cat /etc/sysconfig/stigmer"), editLine))
	assert.Check(t, is.Equal(c.sh("cat /etc/sysconfig/stigmer.rpmnew").Stdout(), readFile(t, filepath.Join(repoRoot(t), "packaging/stigmer.env"))),
		"the new default env file is not beside the edited one as .rpmnew")
	c.assertModes(installed)
	c.assertModes(map[string]string{
		"/var/lib/stigmer/data":         "644 root:root",
		"/etc/sysconfig/stigmer":        "600 root:root",
		"/etc/sysconfig/stigmer.rpmnew": "600 root:root",
		wantsLink:                       "777 root:root",
	})
	// Only the edited config file differs from what rpm installed.
	for _, l := range lines(c.sh("rpm -V stigmer").Stdout()) {
		assert.Check(t, strings.HasSuffix(l, " c /etc/sysconfig/stigmer"), "rpm -V: %s", l)
	}

	// erase (%preun 0, %postun 0), offline: disabled all the same. rpm has no
	// purge: data and user stay; rpm keeps the edited env file as .rpmsave
	// and removes the owned directories that are empty.
	c.ok("rpm -e stigmer")
	c.assertUser(true)
	c.assertModes(map[string]string{
		"/usr/bin/stigmer":                        "absent",
		"/usr/lib/systemd/system/stigmer.service": "absent",
		"/etc/sysconfig/stigmer":                  "absent",
		wantsLink:                                 "absent",
		"/usr/share/licenses/stigmer":             "absent",
		"/var/log/stigmer":                        "absent",
		"/var/lib/stigmer":                        "750 stigmer:stigmer",
		"/var/lib/stigmer/data":                   "644 root:root",
	})
	assert.Check(t, is.Contains(c.ok("cat /etc/sysconfig/stigmer.rpmsave"), editLine))
	c.ok("! rpm -q stigmer")

	// Without systemctl (a container without systemd) install and erase
	// still succeed, with no word about systemctl; there is nothing to enable.
	c.ok("mv /usr/bin/systemctl /usr/bin/systemctl.hidden")
	for _, cmd := range []string{"rpm -i " + cur, "rpm -e stigmer"} {
		res := c.sh(cmd)
		res.Assert(t, icmd.Success)
		assert.Check(t, !strings.Contains(res.Combined(), "systemctl"), "%s: %s", cmd, res.Combined())
		if strings.HasPrefix(cmd, "rpm -i") {
			c.assertModes(map[string]string{wantsLink: "absent", "/var/log/stigmer": "755 stigmer:stigmer"})
		}
	}
	c.ok("mv /usr/bin/systemctl.hidden /usr/bin/systemctl")
}
