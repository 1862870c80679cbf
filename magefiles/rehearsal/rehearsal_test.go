//go:build rehearsal

package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
	"github.com/stigmer/stigmer/magefiles/repo"
)

// played is the rehearsal the tests read; TestMain plays it once.
var played *Rehearsal

func TestMain(m *testing.M) {
	out := Out(repoRoot(), os.Getenv)
	start := time.Now()
	r, err := Play(context.Background(), Options{Root: repoRoot(), Out: out, Workflow: ".github/workflows/release.yml", Log: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rehearsal:", err)
		var se *StepError
		if errors.As(err, &se) {
			fmt.Fprintln(os.Stderr, se.Output)
		}
		os.Exit(1)
	}
	fmt.Printf("FIGURE rehearsal of %s: %s in all\n", strings.Join(Tags, ", "), time.Since(start).Round(time.Second))
	played = r
	code := m.Run()
	r.Close()
	os.Exit(code)
}

// repoRoot is the repository root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func site() string { return filepath.Join(played.Out, PagesDir) }

// TestEachTagReleasedWhatItMade: every tag is a GitHub release with its
// packages, checksums.txt, its signature and notes that name the key; the
// pre-release is marked so and deployed nothing.
func TestEachTagReleasedWhatItMade(t *testing.T) {
	for _, tag := range Tags {
		dir := filepath.Join(played.Out, ReleasesDir, tag)
		for _, f := range []string{"checksums.txt", "checksums.txt.sig", fakegithub.NotesFile} {
			_, err := os.Stat(filepath.Join(dir, f))
			assert.Check(t, err, "%s: %s", tag, f)
		}
		debs, err := filepath.Glob(filepath.Join(dir, "stigmer_*_amd64.deb"))
		assert.NilError(t, err)
		assert.Check(t, is.Len(debs, 1), "%s: %v", tag, debs)
		notes, err := os.ReadFile(filepath.Join(dir, fakegithub.NotesFile))
		assert.NilError(t, err)
		assert.Check(t, is.Contains(string(notes), "Signed with the release key `"+played.SignedBy(tag).Fingerprint+"`"), "%s's notes", tag)
	}
	_, err := os.Stat(filepath.Join(played.Out, ArtifactsDir, "v1.2.0-rc.1"))
	assert.Assert(t, os.IsNotExist(err), "the pre-release uploaded a Pages artifact")
	entries, err := os.ReadDir(filepath.Join(site(), repo.Pool))
	assert.NilError(t, err)
	for _, e := range entries {
		assert.Check(t, !strings.Contains(e.Name(), "rc.1"), "the site's pool has %s", e.Name())
	}
}

// TestAptOffersEveryRelease: apt, with private state and the site's key as
// Signed-By, offers 1.1.0 and 1.0.0 and not the pre-release.
func TestAptOffersEveryRelease(t *testing.T) {
	madison, update, err := aptMadison(t, filepath.Join(site(), repo.AptKeyring))
	assert.NilError(t, err, update)
	assert.Assert(t, !strings.Contains(update, "W:"), update)
	assert.Equal(t, versions(madison, 1), "1.1.0 1.0.0", madison)
}

// TestRotatedKeyUpdates: a host that trusts what the first release's
// keyring package installed reads the repository the next key signs, with
// apt and with dnf; a host that took only the first release's key file
// from the site does not, so it is the keyring package that carried the
// rotation.
func TestRotatedKeyUpdates(t *testing.T) {
	first := filepath.Join(played.Out, ReleasesDir, Tags[0])
	deb := filepath.Join(first, "stigmer-archive-keyring_1.0.0_all.deb")
	keyring := filepath.Join(t.TempDir(), "stigmer-archive-keyring.gpg")
	out, err := exec.Command("sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -xO ./usr/share/keyrings/stigmer-archive-keyring.gpg > \"$2\"", "sh", deb, keyring).CombinedOutput()
	assert.NilError(t, err, string(out))
	madison, update, err := aptMadison(t, keyring)
	assert.NilError(t, err, update)
	assert.Equal(t, versions(madison, 1), "1.1.0 1.0.0", madison)

	_, update, _ = aptMadison(t, filepath.Join(played.Out, ArtifactsDir, Tags[0], repo.AptKeyring))
	assert.Assert(t, is.Contains(update, "NO_PUBKEY"), "the first release's key alone reads the rotated repository:\n%s", update)

	rpm := filepath.Join(first, "stigmer-release-1.0.0-1.noarch.rpm")
	dir := t.TempDir()
	out, err = exec.Command("sh", "-c", "rpm2archive - < \"$1\" | tar -xzf - -C \"$2\" ./etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer", "sh", rpm, dir).CombinedOutput()
	assert.NilError(t, err, string(out))
	got, err := dnfVersions(t, filepath.Join(dir, "etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer"))
	assert.NilError(t, err, got)
	assert.Equal(t, got, "1.0.0 1.1.0")
}

// aptMadison runs apt-get update in a private apt root that trusts only
// keyring, then apt-cache madison stigmer.
func aptMadison(t *testing.T, keyring string) (madison, update string, err error) {
	t.Helper()
	apt, err := repo.NewAptProbe(t.TempDir(), "file://"+site(), keyring)
	assert.NilError(t, err)
	if update, err = apt.Run("apt-get", "update"); err != nil {
		return "", update, err
	}
	madison, err = apt.Run("apt-cache", "madison", "stigmer")
	return madison, update, err
}

// TestDnfOffersEveryRelease: dnf, with gpgcheck and repo_gpgcheck and the
// site's key, offers 1.0.0 and 1.1.0 and not the pre-release.
func TestDnfOffersEveryRelease(t *testing.T) {
	got, err := dnfVersions(t, filepath.Join(site(), repo.DnfKey))
	assert.NilError(t, err, got)
	assert.Equal(t, got, "1.0.0 1.1.0")
}

// dnfVersions lists the stigmer versions dnf offers from the site, in a
// private install root, with gpgcheck and repo_gpgcheck against key.
func dnfVersions(t *testing.T, key string) (string, error) {
	t.Helper()
	root := t.TempDir()
	repoFile := fmt.Sprintf("[stigmer]\nname=Stigmer\nbaseurl=file://%s/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=0\ngpgkey=file://%s\n", site(), key)
	reposdir := filepath.Join(root, "repos")
	assert.NilError(t, os.MkdirAll(reposdir, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(reposdir, "stigmer.repo"), []byte(repoFile), 0o644))
	out, err := exec.Command("dnf", "-y", "-q", "--installroot", filepath.Join(root, "root"), "--setopt=reposdir="+reposdir,
		"--releasever=8", "--forcearch=x86_64", "repoquery", "--showduplicates", "--qf", "version=%{version}", "stigmer").CombinedOutput()
	if err != nil {
		return string(out), err
	}
	// dnf also says which key it imports: keep the answer's lines.
	var v []string
	for _, line := range strings.Split(string(out), "\n") {
		if after, ok := strings.CutPrefix(line, "version="); ok {
			v = append(v, after)
		}
	}
	return strings.Join(v, " "), nil
}

// TestPreviousGenerationIsServed: every index the first release's
// InRelease names is still served, by hash, by the site two releases on.
func TestPreviousGenerationIsServed(t *testing.T) {
	first := filepath.Join(played.Out, ArtifactsDir, "v1.0.0")
	rel, err := os.ReadFile(filepath.Join(first, "dists/stable/Release"))
	assert.NilError(t, err)
	n := 0
	for _, line := range strings.Split(string(rel), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasPrefix(line, " ") || len(f[0]) != 128 {
			continue // the SHA512 lines: apt asks by the strongest
		}
		byHash := filepath.Join(site(), "dists/stable", filepath.Dir(f[2]), "by-hash/SHA512", f[0])
		want, err := os.ReadFile(filepath.Join(first, "dists/stable", f[2]))
		assert.NilError(t, err)
		got, err := os.ReadFile(byHash)
		assert.Check(t, err, "v1.0.0's %s is gone from the site", f[2])
		assert.Check(t, string(got) == string(want), "%s", byHash)
		n++
	}
	assert.Assert(t, n >= 6, "v1.0.0's Release lists %d files", n)
}

// TestTamperedEarlierAssetStopsTheRelease: an earlier release's rpm
// replaced on GitHub (one byte flipped) stops the next release before it
// builds anything, naming the file, and nothing is released.
func TestTamperedEarlierAssetStopsTheRelease(t *testing.T) {
	asset := played.API.AssetPath("v1.0.0", "stigmer-1.0.0-1.x86_64.rpm")
	orig, err := os.ReadFile(asset)
	assert.NilError(t, err)
	t.Cleanup(func() { assert.Check(t, os.WriteFile(asset, orig, 0o644)) })
	bad := append([]byte{}, orig...)
	bad[len(bad)-100] ^= 0xff
	assert.NilError(t, os.WriteFile(asset, bad, 0o644))

	err = played.Release(context.Background(), "v1.2.0")
	var se *StepError
	assert.Assert(t, errors.As(err, &se), "the release with a tampered earlier asset did not stop: %v", err)
	assert.Equal(t, se.Target, "release")
	assert.Assert(t, is.Contains(se.Output, "must be signed by the release key, so nothing is built or published"))
	assert.Assert(t, is.Contains(se.Output, "v1.0.0/stigmer-1.0.0-1.x86_64.rpm: rpm -K does not pass it"))
	assert.Assert(t, !strings.Contains(se.Output, "built in") && !strings.Contains(se.Output, "up to date"), "it built before checking")
	_, err = os.Stat(filepath.Join(played.Out, ReleasesDir, "v1.2.0"))
	assert.Assert(t, os.IsNotExist(err), "v1.2.0 was released")
}

// versions picks the field'th column of each line, joined by spaces.
func versions(out string, field int) string {
	var v []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) > field {
			v = append(v, strings.TrimSpace(f[field]))
		}
	}
	return strings.Join(v, " ")
}
