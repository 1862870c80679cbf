package pkgbuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// unitDsts lists, per format, the destinations of the unit entries (the
// ones whose source is the unit file) and every destination under an
// aliased top directory (/lib, /bin, /sbin), which DEP17 forbids.
func unitDsts(t *testing.T, b *Build) (units, aliased map[string][]string) {
	t.Helper()
	// The man pages the docs step writes (the declaration globs them).
	assert.NilError(t, os.MkdirAll(b.manDir(), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(b.manDir(), "stigmer.1.gz"), nil, 0o644))
	cfg, err := b.Config("amd64")
	assert.NilError(t, err)
	units, aliased = map[string][]string{}, map[string][]string{}
	for _, format := range Formats {
		info, err := cfg.Get(format)
		assert.NilError(t, err)
		for _, f := range info.Contents {
			if f.Source == "packaging/stigmer.service" {
				units[format] = append(units[format], f.Destination)
			}
			for _, top := range []string{"/lib/", "/bin/", "/sbin/", "/lib64/"} {
				if strings.HasPrefix(f.Destination, top) {
					aliased[format] = append(aliased[format], f.Destination)
				}
			}
		}
	}
	return units, aliased
}

// The current build installs the unit in /usr/lib in both formats and
// nothing under an aliased directory; the older build's deb has the
// earlier layout (the unit in /lib), its rpm is unchanged.
func TestOlderUnitDir(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	assert.NilError(t, err)

	units, aliased := unitDsts(t, &Build{Root: root, Dist: t.TempDir(), Version: "1.0.0"})
	assert.Check(t, is.DeepEqual(units, map[string][]string{"deb": {UnitPath}, "rpm": {UnitPath}}))
	assert.Check(t, is.Len(aliased, 0), "under /lib, /bin or /sbin: %v", aliased)

	units, aliased = unitDsts(t, &Build{Root: root, Dist: t.TempDir(), Version: "1.0.0", OlderUnitDir: true})
	assert.Check(t, is.DeepEqual(units, map[string][]string{"deb": {OlderDebUnitPath}, "rpm": {UnitPath}}))
	assert.Check(t, is.DeepEqual(aliased, map[string][]string{"deb": {OlderDebUnitPath}}))
}
