//go:build pkgcheck

package pkgcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// TestManifest compares every path, mode, owner and flag (c conffile,
// n noreplace, d doc, l license) of each
// package with testdata/<format>.manifest (the same for both arches),
// sorted by path so that a change shows as one line in a diff, whatever
// order the packager writes.
// Refresh with: go test -tags pkgcheck ./magefiles/pkgcheck -update
func TestManifest(t *testing.T) {
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		t.Run(p.String(), func(t *testing.T) {
			var got []string
			switch p.format {
			case "deb":
				got = debManifest(t, p.path)
			case "rpm":
				got = lines(run(t, "rpm", "-qp", "--qf",
					`[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`, p.path))
			}
			slices.Sort(got) // each line starts with its path
			golden.Assert(t, strings.Join(got, "\n")+"\n", p.format+".manifest")
		})
	}
}

// debManifest lists the data tar like the rpm query: path, perms, owner,
// and "c" for a dpkg conffile.
func debManifest(t *testing.T, path string) []string {
	conffiles := map[string]bool{}
	for _, f := range lines(debControlFile(t, path, "conffiles")) {
		conffiles[f] = true
	}
	var out []string
	for _, l := range lines(run(t, "dpkg-deb", "-c", path)) {
		f := strings.Fields(l) // perms owner/group size date time path
		assert.Assert(t, len(f) == 6, "unexpected dpkg-deb -c line %q", l)
		name := strings.TrimPrefix(f[5], ".")
		flag := ""
		if conffiles[name] {
			flag = "c"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", name, f[0], strings.Replace(f[1], "/", ":", 1), flag))
	}
	return out
}

// debControlFile returns one member of the control archive, "" if absent.
func debControlFile(t *testing.T, path, name string) string {
	dir := t.TempDir()
	run(t, "dpkg-deb", "--control", path, dir)
	b, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return ""
	}
	assert.NilError(t, err)
	return string(b)
}

// TestMetadata checks name, version, arch and the other fields; the deb
// pre-depends on passwd (the scripts' useradd, groupadd fallback), and the
// rpm's dependencies are TestRpmRequires'.
func TestMetadata(t *testing.T) {
	version := os.Getenv("STIGMER_TEST_VERSION")
	assert.Assert(t, version != "", "STIGMER_TEST_VERSION is not set; run `go tool mage check:packages`")
	want := pkgbuild.PackageVersion(version)
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		t.Run(p.String(), func(t *testing.T) {
			switch p.format {
			case "deb":
				got := run(t, "dpkg-deb", "-f", p.path, "Package", "Version", "Architecture", "Section", "Priority", "Maintainer", "Homepage", "Depends", "Pre-Depends")
				assert.Equal(t, got, fmt.Sprintf("Package: stigmer\nVersion: %s\nArchitecture: %s\nSection: admin\nPriority: optional\nMaintainer: Stigmer maintainers <maintainers@stigmer.ai>\nHomepage: https://github.com/stigmer/stigmer\nPre-Depends: passwd\n", want, p.arch))
			case "rpm":
				arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[p.arch]
				got := run(t, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE} %{GROUP} %{URL}\n", p.path)
				assert.Equal(t, got, fmt.Sprintf("stigmer %s 1 %s Apache-2.0 System Environment/Daemons https://github.com/stigmer/stigmer\n", want, arch))
			}
		})
	}
}

// TestCompression reads back the compressors and digests: dpkg 1.19 and
// rpm 4.14 must read them (no zstd anywhere).
func TestCompression(t *testing.T) {
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		t.Run(p.String(), func(t *testing.T) {
			switch p.format {
			case "deb":
				assert.DeepEqual(t, arMembers(t, p.path), []string{"debian-binary", "control.tar.gz", "data.tar.xz"})
			case "rpm":
				// FILEDIGESTALGO 8 is SHA-256.
				got := run(t, "rpm", "-qp", "--qf", "%{PAYLOADCOMPRESSOR} %{PAYLOADFORMAT} %{FILEDIGESTALGO}\n", p.path)
				assert.Equal(t, got, "xz cpio 8\n")
				assert.Assert(t, is.Contains(run(t, "rpm", "-K", "--nosignature", p.path), "digests OK"))
			}
		})
	}
}

// arMembers lists the members of an ar archive (a .deb) in order.
func arMembers(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	assert.Assert(t, bytes.HasPrefix(b, []byte("!<arch>\n")), "%s is not an ar archive", path)
	var names []string
	for off := 8; off+60 <= len(b); {
		hdr := b[off : off+60]
		var size int
		_, err := fmt.Sscanf(strings.TrimSpace(string(hdr[48:58])), "%d", &size)
		assert.NilError(t, err)
		names = append(names, strings.TrimSuffix(strings.TrimSpace(string(hdr[:16])), "/"))
		off += 60 + size + size%2
	}
	return names
}

// TestScripts checks that each package carries exactly the scripts in
// packaging/scripts, executable, and that rpm runs them with /bin/sh.
func TestScripts(t *testing.T) {
	root := repoRoot(t)
	for _, p := range packages(t, distDir(t, "STIGMER_DIST")) {
		t.Run(p.String(), func(t *testing.T) {
			switch p.format {
			case "deb":
				dir := t.TempDir()
				run(t, "dpkg-deb", "--control", p.path, dir)
				for _, name := range []string{"preinst", "postinst", "prerm", "postrm"} {
					assert.Equal(t, readFile(t, filepath.Join(dir, name)), readFile(t, filepath.Join(root, "packaging/scripts/deb", name)))
					st, err := os.Stat(filepath.Join(dir, name))
					assert.NilError(t, err)
					assert.Equal(t, st.Mode().Perm(), os.FileMode(0o755))
				}
			case "rpm":
				for tag, name := range map[string]string{"PREIN": "pre", "POSTIN": "post", "PREUN": "preun", "POSTUN": "postun"} {
					got := run(t, "rpm", "-qp", "--qf", "%{"+tag+"PROG}\n%{"+tag+"}", p.path)
					assert.Equal(t, got, "/bin/sh\n"+readFile(t, filepath.Join(root, "packaging/scripts/rpm", name)), "%%%s", name)
				}
			}
		})
	}
}
