//go:build pkgcheck

package pkgcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

const (
	// confOptions is what the README tells an operator to upgrade with when
	// no one can answer dpkg's conffile question: keep the edited file,
	// put the new default beside it as .dpkg-dist.
	confOptions = "--force-confdef --force-confold"
	// maskLink is where deb-systemd-helper mask (postrm remove) masks the unit.
	maskLink = "/etc/systemd/system/stigmer.service"
)

// newEnv is the env file that the current build ships.
func newEnv(t *testing.T) string {
	t.Helper()
	return readFile(t, filepath.Join(repoRoot(t), "packaging/stigmer.env"))
}

// TestDebConffileUpgrade upgrades from the older build, whose default env
// file differs, after the operator edited it, with no terminal (stdin
// /dev/null, as under automation): apt with the README's options keeps the
// edit and leaves the new default as .dpkg-dist; dpkg without them does not
// hang either but refuses, and says so, until it is told what to do.
func TestDebConffileUpgrade(t *testing.T) {
	oldDeb, newDeb := oldAndNew(t, "deb")
	c := newChroot(t, plainImage, oldDeb, newDeb)
	old, cur := "/pkgs/"+filepath.Base(oldDeb), "/pkgs/"+filepath.Base(newDeb)
	assert.Assert(t, c.ok("dpkg-deb --fsys-tarfile "+old+" | tar -xO ./etc/default/stigmer") != newEnv(t),
		"the older build ships the same env file: the upgrade meets no conffile choice")

	// No stdin redirection below: icmd gives every command /dev/null.
	edit := func() {
		c.ok("dpkg -i " + old)
		c.ok("echo " + editLine + " >> /etc/default/stigmer")
	}

	// Without options, no terminal: neither apt nor dpkg can ask. The
	// upgrade fails at once with dpkg's message (no hang), the package is
	// left unpacked but unconfigured and the edited file alone.
	edit()
	res := c.aptGet("install -y " + cur)
	res.Assert(t, icmd.Expected{ExitCode: 100, Err: "end of file on stdin at conffile prompt"})
	assert.Check(t, is.Contains(c.ok("cat /etc/default/stigmer"), editLine))
	assert.Check(t, is.Equal(c.ok("dpkg-query -W -f '${Status}' stigmer"), "install ok unpacked"))
	// The README's recovery: configure with the options.
	c.ok("dpkg --configure -a " + confOptions)
	assert.Check(t, is.Contains(c.ok("cat /etc/default/stigmer"), editLine))
	assert.Check(t, is.Equal(c.ok("cat /etc/default/stigmer.dpkg-dist"), newEnv(t)))
	c.ok("dpkg --purge stigmer")

	// apt, as the README says: no prompt, edit kept, new default beside it.
	edit()
	c.aptGet("install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "+cur).Assert(t, icmd.Success)
	assert.Check(t, is.Equal(c.ok("dpkg-query -W -f '${Version}' stigmer"), pkgbuild.PackageVersion(os.Getenv("STIGMER_TEST_VERSION"))))
	assert.Check(t, is.Contains(c.ok("cat /etc/default/stigmer"), editLine))
	assert.Check(t, is.Equal(c.ok("cat /etc/default/stigmer.dpkg-dist"), newEnv(t)))
	c.assertModes(map[string]string{"/etc/default/stigmer": "600 root:root"})
	assert.Check(t, is.Equal(c.ok("dpkg-query -W -f '${Status}' stigmer"), "install ok installed"))
}

// aptGet runs apt-get in the chroot as automation does: no terminal,
// DEBIAN_FRONTEND=noninteractive (c.sh's environment), stdin /dev/null.
func (c chroot) aptGet(args string) *icmd.Result {
	return c.sh("apt-get " + args)
}

// TestDebDisableKeptAcrossRemove: an admin's disable survives dpkg -r and a
// new install (debhelper masks on remove and forgets only on purge); after
// purge, an install is a first install again and enables.
func TestDebDisableKeptAcrossRemove(t *testing.T) {
	_, newDeb := oldAndNew(t, "deb")
	c := newChroot(t, systemdImage, newDeb)
	cur := "/pkgs/" + filepath.Base(newDeb)
	enabled := func() string {
		// systemctl works on the files without a running systemd.
		return strings.TrimSpace(c.sh("systemctl is-enabled stigmer.service").Stdout())
	}

	c.ok("dpkg -i " + cur)
	assert.Equal(t, enabled(), "enabled")
	c.ok("systemctl disable stigmer.service")
	assert.Equal(t, enabled(), "disabled")

	c.ok("dpkg -r stigmer")
	c.assertModes(map[string]string{wantsLink: "absent", maskLink: "777 root:root"})
	c.ok("dpkg -i " + cur)
	assert.Check(t, is.Equal(enabled(), "disabled"), "an admin's disable came back enabled after remove + install")
	c.assertModes(map[string]string{wantsLink: "absent", maskLink: "absent"})

	c.ok("dpkg --purge stigmer")
	c.assertModes(map[string]string{wantsLink: "absent", maskLink: "absent"})
	c.ok("dpkg -i " + cur)
	assert.Check(t, is.Equal(enabled(), "enabled"), "a first install after purge must enable")
}
