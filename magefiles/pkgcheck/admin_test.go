//go:build pkgcheck

package pkgcheck

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// The tests here put an administrator's decision on the system before the
// package arrives (a pinned UID, a tmpfiles override, a preset) and check
// that the package follows it, with and without systemd's tools.

const (
	// pinnedUID is a system UID that an admin pins in sysusers.d (for NFS,
	// backups) and that neither Debian's nor the tools' allocation would
	// pick by itself (they count down from 999).
	pinnedUID = "950"
	// sysusersPin pins stigmer's UID, and so its GID, in /etc, which
	// replaces the package's /usr/lib/sysusers.d/stigmer.conf.
	sysusersPin = `u stigmer ` + pinnedUID + ` "Stigmer service user" /var/lib/stigmer`
	// tmpfilesOverride replaces the package's tmpfiles.d file: the state
	// directory closed to the group.
	tmpfilesOverride = "d /var/lib/stigmer 0700 stigmer stigmer -"
)

// uidGID is "UID GID" of the user and group stigmer.
func (c chroot) uidGID() string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("echo $(id -u stigmer) $(getent group stigmer | cut -d: -f3)"))
}

// writeFile writes text into path inside the chroot, making its directory.
func (c chroot) writeFile(path, text string) {
	c.t.Helper()
	c.ok(fmt.Sprintf("mkdir -p %s && printf '%%s\\n' '%s' >%s", filepath.Dir(path), text, path))
}

// installCase is one way of installing a package in a fresh chroot.
type installCase struct {
	name    string
	img     image
	format  string
	install string // the command, with PKG for the package file
	setup   string // run in the chroot first
}

var installCases = []installCase{
	{"deb/fallback", plainImage, "deb", "dpkg -i PKG", ""},
	{"deb/systemd", systemdImage, "deb", "dpkg -i PKG", ""},
	{"rpm/systemd", systemdImage, "rpm", "rpm -i PKG", ""},
	// The rpm's fallback: no systemd-sysusers, no systemd-tmpfiles.
	{"rpm/fallback", systemdImage, "rpm", "rpm -i PKG",
		"mv /usr/bin/systemd-sysusers /usr/bin/systemd-sysusers.hidden && mv /usr/bin/systemd-tmpfiles /usr/bin/systemd-tmpfiles.hidden"},
}

// newInstallChroot makes the case's chroot with the current package (and
// the rpm stand-in, installed) and returns it and the install command.
func newInstallChroot(t *testing.T, ic installCase) (chroot, string) {
	t.Helper()
	_, cur := oldAndNew(t, ic.format)
	pkgs := []string{cur}
	if ic.format == "rpm" {
		pkgs = append(pkgs, standIn(t))
	}
	c := newChroot(t, ic.img, pkgs...)
	if ic.format == "rpm" {
		c.ok("rpm -i /pkgs/" + filepath.Base(pkgs[1]))
	}
	if ic.setup != "" {
		c.ok(ic.setup)
	}
	return c, strings.ReplaceAll(ic.install, "PKG", "/pkgs/"+filepath.Base(cur))
}

// TestAdminUser: a UID pinned in /etc/sysusers.d/stigmer.conf is the one
// the package's user gets, from systemd-sysusers (which reads the admin's
// file only with --replace) and from the scripts' fallback alike; a user
// that exists already is kept as it is; and with systemd-tmpfiles an
// override in /etc/tmpfiles.d wins over the package's modes.
func TestAdminUser(t *testing.T) {
	for _, ic := range installCases {
		t.Run(ic.name, func(t *testing.T) {
			c, install := newInstallChroot(t, ic)
			tools := !strings.HasSuffix(ic.name, "/fallback")
			if tools {
				c.mountProc()
			}
			remove := map[string]string{"deb": "dpkg --purge stigmer", "rpm": "rpm -e stigmer"}[ic.format]

			// pinned
			c.writeFile("/etc/sysusers.d/stigmer.conf", sysusersPin)
			if tools {
				c.writeFile("/etc/tmpfiles.d/stigmer.conf", tmpfilesOverride)
			}
			c.ok(install)
			assert.Check(t, is.Equal(c.uidGID(), pinnedUID+" "+pinnedUID), "the UID pinned in /etc/sysusers.d")
			c.assertUser(true)
			if tools {
				c.assertModes(map[string]string{"/var/lib/stigmer": "700 stigmer:stigmer"})
			}
			c.ok(remove + " && userdel stigmer && rm -rf /var/lib/stigmer /etc/tmpfiles.d/stigmer.conf")

			// existing: made by the admin before, with another UID
			c.ok("groupadd --system --gid 951 stigmer && useradd --system --uid 951 --gid stigmer --home-dir /var/lib/stigmer --no-create-home --shell /usr/sbin/nologin stigmer")
			c.ok(install)
			assert.Check(t, is.Equal(c.uidGID(), "951 951"), "an existing user must stay as it is")
			c.ok(remove + " && userdel stigmer && rm -rf /var/lib/stigmer")

			// pinned, but the UID is taken: another one, and the install works
			c.ok("groupadd --system --gid " + pinnedUID + " other && useradd --system --uid " + pinnedUID + " --gid other other")
			res := c.sh(install)
			res.Assert(t, icmd.Success)
			got := c.uidGID()
			assert.Check(t, !strings.HasPrefix(got, pinnedUID+" "), "stigmer got the UID of user other: %s", got)
			c.assertUser(true)
			if !tools {
				assert.Check(t, is.Contains(res.Stderr(), "ID "+pinnedUID+" pinned in sysusers.d is taken"))
			}
		})
	}
}

// TestPreset: the rpm enables through the presets. Without an admin's
// preset, ours (50-stigmer.preset) enables; an admin's `disable *` in a
// file of /etc/systemd/system-preset that sorts before ours keeps it off,
// offline too (no running systemd here: the enablement links are what
// count). The deb does what debhelper's scripts do: deb-systemd-helper
// enables a first install through `systemctl preset` when systemctl is
// there, so the admin's `disable *` holds for it too.
func TestPreset(t *testing.T) {
	const adminPreset = "/etc/systemd/system-preset/00-site.preset"
	for _, format := range []string{"rpm", "deb"} {
		t.Run(format, func(t *testing.T) {
			c, install := newInstallChroot(t, installCase{img: systemdImage, format: format, install: map[string]string{"deb": "dpkg -i PKG", "rpm": "rpm -i PKG"}[format]})
			// Each case a first install: rpm -e disables, dpkg --purge
			// forgets the enablement.
			remove := map[string]string{"deb": "dpkg --purge stigmer", "rpm": "rpm -e stigmer"}[format]
			for _, tc := range []struct{ preset, want string }{
				{"disable *", "disabled"},
				{"disable stigmer.service", "disabled"},
				{"", "enabled"},
			} {
				c.ok("rm -f " + adminPreset)
				if tc.preset != "" {
					c.writeFile(adminPreset, tc.preset)
				}
				c.ok(install)
				assert.Check(t, is.Equal(strings.TrimSpace(c.sh("systemctl is-enabled stigmer.service").Stdout()), tc.want), "preset %q", tc.preset)
				link := map[string]string{"enabled": "777 root:root", "disabled": "absent"}[tc.want]
				c.assertModes(map[string]string{wantsLink: link})
				c.ok(remove)
			}
		})
	}
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
