//go:build releasecheck

package releasecheck

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// asset is one release asset file.
type asset struct {
	kind string // tar.gz, deb or rpm
	arch string // GOARCH (linux), or darwin/GOARCH
	path string
}

func (a asset) String() string { return a.kind + "/" + a.arch }

// kinds are the release assets of each arch, as glob patterns.
var kinds = []struct{ kind, arch, pattern string }{
	{"tar.gz", "amd64", "stigmer_*_linux_amd64.tar.gz"},
	{"tar.gz", "arm64", "stigmer_*_linux_arm64.tar.gz"},
	{"deb", "amd64", "stigmer_*_amd64.deb"},
	{"deb", "arm64", "stigmer_*_arm64.deb"},
	{"rpm", "amd64", "stigmer-*.x86_64.rpm"},
	{"rpm", "arm64", "stigmer-*.aarch64.rpm"},
	// macOS gets archives only (the dev server on developers' Macs).
	{"tar.gz", "darwin/amd64", "stigmer_*_darwin_amd64.tar.gz"},
	{"tar.gz", "darwin/arm64", "stigmer_*_darwin_arm64.tar.gz"},
}

// assets finds the archive, .deb and .rpm of each arch in dir, one each,
// and the darwin archives.
func assets(t *testing.T, dir string) []asset {
	t.Helper()
	var out []asset
	for _, k := range kinds {
		out = append(out, asset{k.kind, k.arch, pick(t, dir, k.kind, k.arch)})
	}
	return out
}

// pick returns the one asset of kind and arch in dir.
func pick(t *testing.T, dir, kind, arch string) string {
	t.Helper()
	for _, k := range kinds {
		if k.kind == kind && k.arch == arch {
			m, err := filepath.Glob(filepath.Join(dir, k.pattern))
			assert.NilError(t, err)
			assert.Assert(t, len(m) == 1, "want one %s in %s, found %v", k.pattern, dir, m)
			return m[0]
		}
	}
	t.Fatalf("no asset kind %s/%s", kind, arch)
	return ""
}

// run runs a command that must succeed and returns its stdout.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	res := icmd.RunCmd(icmd.Command(name, args...), icmd.WithTimeout(10*time.Minute))
	res.Assert(t, icmd.Success)
	return res.Stdout()
}

// runEnv runs a command with extra environment and returns the result.
func runEnv(env []string, name string, args ...string) *icmd.Result {
	return icmd.RunCmd(icmd.Command(name, args...), icmd.WithEnv(append(os.Environ(), env...)...), icmd.WithTimeout(10*time.Minute))
}

// publicKeyring returns the environment of a new GNUPGHOME that holds k's
// public key alone: what a user who verifies a release has.
func publicKeyring(t *testing.T, k *key) []string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "g")
	assert.NilError(t, os.Mkdir(home, 0o700))
	env := []string{"GNUPGHOME=" + home}
	runEnv(env, "gpg", "--batch", "--import", k.public).Assert(t, icmd.Success)
	t.Cleanup(func() { runEnv(env, "gpgconf", "--kill", "gpg-agent") })
	return env
}

func sha(t *testing.T, data []byte) string {
	t.Helper()
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	return sha(t, data)
}

// entry is one tar member, as a listing line and its content.
type entry struct {
	hdr  tar.Header
	data []byte
}

// readTar reads every member of a tar stream.
func readTar(t *testing.T, r io.Reader) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		assert.NilError(t, err)
		data, err := io.ReadAll(tr)
		assert.NilError(t, err)
		out[h.Name] = entry{*h, data}
	}
}

// readTarGz reads every member of a .tar.gz file.
func readTarGz(t *testing.T, path string) map[string]entry {
	t.Helper()
	f, err := os.Open(path)
	assert.NilError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	assert.NilError(t, err)
	return readTar(t, zr)
}

// archiveBinary is the stigmer binary at the top of an archive's directory
// (default/stigmer beside it is the env file).
func archiveBinary(t *testing.T, path string) []byte {
	t.Helper()
	top := strings.TrimSuffix(filepath.Base(path), ".tar.gz")
	e, ok := readTarGz(t, path)[top+"/stigmer"]
	assert.Assert(t, ok, "no %s/stigmer in %s", top, path)
	return e.data
}

// debBinary is /usr/bin/stigmer from a .deb.
func debBinary(t *testing.T, path string) []byte {
	t.Helper()
	files := readTar(t, strings.NewReader(run(t, "dpkg-deb", "--fsys-tarfile", path)))
	e, ok := files["./usr/bin/stigmer"]
	assert.Assert(t, ok, "no ./usr/bin/stigmer in %s", path)
	return e.data
}

// rpmBinary is /usr/bin/stigmer from an .rpm.
func rpmBinary(t *testing.T, path string) []byte {
	t.Helper()
	return []byte(run(t, "sh", "-c", `rpm2cpio "$1" | cpio --quiet -i --to-stdout '*usr/bin/stigmer'`, "sh", path))
}

// debReadBack is everything dpkg-deb tells about a .deb: control fields,
// the file list with modes, owners, sizes and times, and every control
// member (conffiles, md5sums, the maintainer scripts) with its mode.
func debReadBack(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("== dpkg-deb -f\n" + run(t, "dpkg-deb", "-f", path))
	b.WriteString("== dpkg-deb -c\n" + run(t, "dpkg-deb", "-c", path))
	dir := t.TempDir()
	run(t, "dpkg-deb", "--control", path, dir)
	names, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, n := range names {
		info, err := n.Info()
		assert.NilError(t, err)
		data, err := os.ReadFile(filepath.Join(dir, n.Name()))
		assert.NilError(t, err)
		b.WriteString("== control member " + n.Name() + " " + info.Mode().String() + "\n" + string(data))
	}
	return b.String()
}

// rpmReadBack is everything rpm -qp tells about an .rpm: header metadata,
// dependencies, scripts, and per file path, size, time, digest, mode,
// owner, config and doc flags (--dump), plus -l -v and --configfiles.
func rpmReadBack(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range [][]string{
		{"--qf", "%{NAME} %{EPOCH} %{VERSION} %{RELEASE} %{ARCH} %{OS}\n%{SUMMARY}\n%{DESCRIPTION}\n%{LICENSE}|%{GROUP}|%{URL}|%{VENDOR}|%{PACKAGER}|%{BUILDTIME}|%{BUILDHOST}|%{PAYLOADCOMPRESSOR}|%{PAYLOADFLAGS}\n"},
		{"--requires"}, {"--provides"}, {"--conflicts"}, {"--obsoletes"}, {"--recommends"}, {"--suggests"},
		{"--scripts"}, {"--triggers"}, {"--changelog"},
		{"--dump"}, {"-l", "-v"}, {"--configfiles"}, {"--docfiles"},
	} {
		b.WriteString("== rpm -qp " + strings.Join(q, " ") + "\n")
		b.WriteString(run(t, "rpm", append(append([]string{"-qp"}, q...), path)...))
	}
	return b.String()
}

// releaseFiles lists the names of the regular files directly in dir.
func releaseFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// copyTampered copies path into a temp dir with one byte flipped at off
// (negative: from the end) and returns the copy's path.
func copyTampered(t *testing.T, path string, off int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	if off < 0 {
		off += len(data)
	}
	data = bytes.Clone(data)
	data[off] ^= 0x01
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	assert.NilError(t, os.WriteFile(out, data, 0o644))
	return out
}

// lookPath fails the test, naming the fix, when cmd is missing.
func lookPath(t *testing.T, cmd string) {
	t.Helper()
	if _, err := exec.LookPath(cmd); err != nil {
		t.Fatalf("%s not found (%v): `go tool mage check:release` installs it with apt-get", cmd, err)
	}
}
