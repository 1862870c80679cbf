package pkgbuild

import (
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// The older build's env file differs from the current one and is the one
// both formats ship; the current build ships packaging/stigmer.env.
func TestOlderEnvFile(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	assert.NilError(t, err)
	cur, err := os.ReadFile(filepath.Join(root, EnvFile))
	assert.NilError(t, err)
	older := OlderEnv(cur)
	assert.Assert(t, string(older) != string(cur))
	assert.Assert(t, is.Contains(string(older), string(cur)))

	for _, c := range []struct {
		name      string
		older     bool
		wantSrc   func(b *Build) string
		wantCount int
	}{
		{"current build", false, func(*Build) string { return EnvFile }, 2},
		{"older build", true, (*Build).olderEnvPath, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := &Build{Root: root, Dist: t.TempDir(), Version: "1.0.0", OlderEnvFile: c.older}
			// The man pages the docs step writes (the declaration globs them).
			assert.NilError(t, os.MkdirAll(b.manDir(), 0o755))
			assert.NilError(t, os.WriteFile(filepath.Join(b.manDir(), "stigmer.1.gz"), nil, 0o644))
			cfg, err := b.Config("amd64")
			assert.NilError(t, err)
			n := 0
			for _, format := range Formats {
				info, err := cfg.Get(format)
				assert.NilError(t, err)
				for _, f := range info.Contents {
					if f.Source == c.wantSrc(b) {
						n++
					}
				}
			}
			assert.Equal(t, n, c.wantCount, "env file entries (deb + rpm) with source %s", c.wantSrc(b))
		})
	}
}
