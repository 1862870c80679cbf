package repo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// TestKeyringPackages builds the keyring packages from packaging/keyring.yaml
// with two keys (the current and the next) and reads them back: the .deb
// carries both keys in its Signed-By keyring and the source as a conffile;
// the .rpm both keys armored and the repository file as %config.
func TestKeyringPackages(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	current, next := newKey(t, "Current <current@example.invalid>"), newKey(t, "Next <next@example.invalid>")
	var keys [][]byte
	for _, k := range []interface {
		Public(context.Context, bool) ([]byte, error)
	}{current, next} {
		pub, err := k.Public(ctx, true)
		assert.NilError(t, err)
		keys = append(keys, pub)
	}
	files := filepath.Join(t.TempDir(), "files")
	assert.NilError(t, KeyringFiles(ctx, files, "https://example.invalid/stigmer", current, keys))
	b, err := pkgbuild.New(ctx, "../..", os.Stderr, pkgbuild.Options{Version: "1.2.3", Dist: t.TempDir()})
	assert.NilError(t, err)
	pkgs, err := b.KeyringPackages(files)
	assert.NilError(t, err)
	assert.DeepEqual(t, []string{filepath.Base(pkgs[0]), filepath.Base(pkgs[1])}, []string{"stigmer-archive-keyring_1.2.3_all.deb", "stigmer-release-1.2.3-1.noarch.rpm"})
	found, err := FindPackages(filepath.Dir(pkgs[0]))
	assert.NilError(t, err)
	assert.Equal(t, len(found), 2, "the pool takes the keyring packages: %v", found)

	out := func(name string, args ...string) string {
		o, err := exec.Command(name, args...).Output()
		assert.NilError(t, err, "%s %v", name, args)
		return string(o)
	}
	list := out("dpkg-deb", "-c", pkgs[0])
	assert.Assert(t, is.Contains(list, "./usr/share/keyrings/stigmer-archive-keyring.gpg"))
	assert.Assert(t, is.Contains(out("dpkg-deb", "-I", pkgs[0], "conffiles"), "/etc/apt/sources.list.d/stigmer.sources"))
	keyring := out("sh", "-c", "dpkg-deb --fsys-tarfile "+pkgs[0]+" | tar -xO ./usr/share/keyrings/stigmer-archive-keyring.gpg")
	fprs, err := current.Fingerprints(ctx, []byte(keyring))
	assert.NilError(t, err)
	assert.DeepEqual(t, fprs, []string{current.Fingerprint, next.Fingerprint})
	source := out("sh", "-c", "dpkg-deb --fsys-tarfile "+pkgs[0]+" | tar -xO ./etc/apt/sources.list.d/stigmer.sources")
	assert.Equal(t, source, string(sources("https://example.invalid/stigmer")))

	assert.Assert(t, is.Contains(out("rpm", "-qpc", pkgs[1]), "/etc/yum.repos.d/stigmer.repo"))
	assert.Assert(t, is.Contains(out("rpm", "-qpl", pkgs[1]), "/etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer"))
	armored, err := os.ReadFile(filepath.Join(files, KeyringArmored))
	assert.NilError(t, err)
	assert.Equal(t, bytes.Count(armored, []byte("BEGIN PGP PUBLIC KEY BLOCK")), 2)
	assert.Assert(t, strings.HasSuffix(out("rpm", "-qp", "--qf", "%{ARCH}", pkgs[1]), "noarch"))
}
