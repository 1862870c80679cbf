package release

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
)

// releaseFiles writes what a release of version uploads that a re-scan
// reads: the Linux archives (wrapped in a directory, as GoReleaser does),
// a package, and checksums.txt over them; it returns their paths.
func releaseFiles(t *testing.T, version string) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	sums := ""
	add := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.WriteFile(p, data, 0o644))
		h := sha256.Sum256(data)
		sums += hex.EncodeToString(h[:]) + "  " + name + "\n"
		files = append(files, p)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		base := fmt.Sprintf("stigmer_%s_linux_%s", version, arch)
		add(base+".tar.gz", tarGz(t, map[string]string{
			base + "/README.md": "readme",
			base + "/stigmer":   "binary " + version + " " + arch,
		}))
	}
	add("stigmer_"+version+"_amd64.deb", []byte("deb"))
	p := filepath.Join(dir, "checksums.txt")
	assert.NilError(t, os.WriteFile(p, []byte(sums), 0o644))
	return append(files, p)
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar.gz")
	f, err := os.Create(p)
	assert.NilError(t, err)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(data))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	assert.NilError(t, gz.Close())
	assert.NilError(t, f.Close())
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	return b
}

// TestLatestBinaries: the re-scan takes the newest published release
// (past a newer pre-release and a draft), checks its archives against
// checksums.txt and extracts the binaries; a replaced archive stops it.
func TestLatestBinaries(t *testing.T) {
	ctx := context.Background()
	s := fakegithub.New("stigmer/stigmer", "tok", t.TempDir())
	defer s.Close()
	plan := func() *Plan {
		return &Plan{Root: t.TempDir(), API: s.URL, Repository: "stigmer/stigmer", Token: "tok", Log: os.Stderr}
	}

	_, _, err := plan().LatestBinaries(ctx)
	assert.ErrorContains(t, err, "stigmer/stigmer has no published release")

	assert.NilError(t, s.AddRelease("v1.0.0", false, false, releaseFiles(t, "1.0.0")...))
	assert.NilError(t, s.AddRelease("v1.1.0", false, false, releaseFiles(t, "1.1.0")...))
	assert.NilError(t, s.AddRelease("v1.2.0-rc.1", false, true, releaseFiles(t, "1.2.0-rc.1")...))
	assert.NilError(t, s.AddRelease("v1.2.0", true, false))

	p := plan()
	tag, bins, err := p.LatestBinaries(ctx)
	assert.NilError(t, err)
	assert.Equal(t, tag, "v1.1.0")
	dir := filepath.Join(p.Root, RescanDir, "v1.1.0")
	assert.DeepEqual(t, bins, []string{filepath.Join(dir, "linux_amd64", "stigmer"), filepath.Join(dir, "linux_arm64", "stigmer")})
	for i, arch := range []string{"amd64", "arm64"} {
		b, err := os.ReadFile(bins[i])
		assert.NilError(t, err)
		assert.Equal(t, string(b), "binary 1.1.0 "+arch)
	}

	// An archive changed after the release (one byte: the API lists the
	// same size) no longer matches checksums.txt.
	asset := s.AssetPath("v1.1.0", "stigmer_1.1.0_linux_arm64.tar.gz")
	b, err := os.ReadFile(asset)
	assert.NilError(t, err)
	b[len(b)/2] ^= 0xff
	assert.NilError(t, os.WriteFile(asset, b, 0o644))
	_, _, err = plan().LatestBinaries(ctx)
	assert.ErrorContains(t, err, "stigmer_1.1.0_linux_arm64.tar.gz has SHA-256")
	assert.ErrorContains(t, err, "the asset was replaced after the release")
}
