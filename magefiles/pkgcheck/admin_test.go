//go:build pkgcheck

package pkgcheck

import (
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// The tests here put an administrator's decision on the system before the
// package arrives (a pinned UID, a tmpfiles override, a preset) and check
// that the package follows it, with and without systemd's tools.

// uidGID is "UID GID" of the user and group stigmer.
func (c chroot) uidGID() string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("echo $(id -u stigmer) $(getent group stigmer | cut -d: -f3)"))
}

// TestDebPurgeKeepsUser: purge deletes data, logs and the env file but
// keeps the user and group, so that files of stigmer's left elsewhere (a
// backup) stay stigmer's even when another system user is made meanwhile;
// a reinstall reuses the same UID.
func TestDebPurgeKeepsUser(t *testing.T) {
	_, newDeb := oldAndNew(t, "deb")
	for _, img := range []image{plainImage, systemdImage} {
		t.Run(img.name, func(t *testing.T) {
			c := newChroot(t, img, newDeb)
			cur := "/pkgs/" + filepath.Base(newDeb)
			c.ok("dpkg -i " + cur)
			ids := c.uidGID()
			c.ok("mkdir /srv/stigmer-backup && echo old >/srv/stigmer-backup/data && chown -R stigmer:stigmer /srv/stigmer-backup")

			c.ok("dpkg --purge stigmer")
			assert.Check(t, is.Equal(c.uidGID(), ids), "purge must keep the user and group")
			c.assertModes(map[string]string{"/var/lib/stigmer": "absent", "/var/log/stigmer": "absent", "/etc/default/stigmer": "absent"})
			// Another package's system user, made after the purge.
			c.ok("useradd --system --no-create-home other")

			c.ok("dpkg -i " + cur)
			assert.Check(t, is.Equal(c.uidGID(), ids), "the reinstall must reuse the user")
			assert.Check(t, is.Equal(c.mode("/srv/stigmer-backup/data"), "644 stigmer:stigmer"))
		})
	}
}
