package repo

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
)

// BenchmarkWrite times Write for one release (four packages) and for
// twenty releases' worth (eighty), with packages the size of stigmer's
// (a 3 MiB incompressible payload; gzip, which leaves it that size), and reports the
// size of the indexes apt and dnf download: Packages.xz for one arch plus
// InRelease, and repomd.xml plus primary, filelists and other. It prints
// figures; nothing asserts on them.
func BenchmarkWrite(b *testing.B) {
	needTools(b)
	ctx := context.Background()
	key, err := gpgkey.Generate(ctx, "Bench <bench@example.invalid>", "", io.Discard)
	assert.NilError(b, err)
	defer key.Close()
	dir := b.TempDir()
	payload := filepath.Join(dir, "payload")
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	assert.NilError(b, os.WriteFile(payload, data, 0o755))
	var all []string
	for i := 0; i < 20; i++ {
		all = append(all, packages(b, filepath.Join(dir, "in"), fmt.Sprintf("1.%d.0", i), payload, "gzip")...)
	}
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("releases=%d", n), func(b *testing.B) {
			tree := filepath.Join(b.TempDir(), "repo")
			for i := 0; i < b.N; i++ {
				err := Write(ctx, Options{Dir: tree, URL: "https://example.invalid", Packages: all[:4*n], Key: key, Date: date, Log: io.Discard})
				assert.NilError(b, err)
			}
			b.ReportMetric(float64(indexBytes(b, tree, "dists/stable/InRelease", "dists/stable/main/binary-amd64/Packages.xz")), "apt-index-bytes")
			b.ReportMetric(float64(indexBytes(b, tree, "repodata/repomd.xml", "repodata/*.xml.gz")), "dnf-index-bytes")
		})
	}
}

// indexBytes sums the sizes of the files that the patterns match in tree.
func indexBytes(b *testing.B, tree string, patterns ...string) int64 {
	var n int64
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(tree, p))
		assert.NilError(b, err)
		for _, f := range m {
			if strings.Contains(f, "by-hash") {
				continue
			}
			fi, err := os.Stat(f)
			assert.NilError(b, err)
			n += fi.Size()
		}
	}
	return n
}
