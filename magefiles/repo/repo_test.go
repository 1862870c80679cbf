package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/testpkg"
)

var date = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// needTools fails (not skips) when a tool is missing: go tool mage test
// installs them first.
func needTools(t testing.TB) {
	t.Helper()
	for _, tl := range Tools {
		if _, err := exec.LookPath(tl[0]); err != nil {
			t.Fatalf("%s is missing: apt-get install %s (go tool mage test installs it)", tl[0], tl[1])
		}
	}
}

// smallPackages writes a small stigmer .deb and .rpm for amd64 and arm64
// at version into dir, and returns their paths. They are real packages
// (nfpm, as the release's), with a file so that filelists has an entry.
func smallPackages(t testing.TB, dir, version string) []string {
	t.Helper()
	payload := filepath.Join(t.TempDir(), "stigmer")
	assert.NilError(t, os.WriteFile(payload, []byte("#!/bin/sh\necho "+version+"\n"), 0o755))
	return packages(t, dir, version, payload, "")
}

// packages writes stigmer .deb and .rpm for amd64 and arm64 at version
// into dir, with payload as /usr/bin/stigmer, compressed with compression
// ("" for nfpm's default), and returns their paths.
func packages(t testing.TB, dir, version, payload, compression string) []string {
	t.Helper()
	var out []string
	for _, format := range []string{"deb", "rpm"} {
		for _, arch := range []string{"amd64", "arm64"} {
			path, err := testpkg.Write(dir, testpkg.Spec{Format: format, Arch: arch, Version: version, Payload: payload, Compression: compression, MTime: date})
			assert.NilError(t, err)
			out = append(out, path)
		}
	}
	return out
}

func newKey(t *testing.T, uid string) *gpgkey.Home {
	t.Helper()
	k, err := gpgkey.Generate(context.Background(), uid, "", os.Stderr)
	assert.NilError(t, err)
	t.Cleanup(k.Close)
	return k
}

// aptPolicy runs a real apt-get update against the tree, in a scratch
// apt root that trusts only the tree's keyring, and returns apt-cache
// policy stigmer and apt-get update's output.
func aptPolicy(t *testing.T, tree string) (string, string) {
	t.Helper()
	apt, err := NewAptProbe(t.TempDir(), "file://"+tree, filepath.Join(tree, AptKeyring))
	assert.NilError(t, err)
	update, _ := apt.Run("apt-get", "update")
	policy, err := apt.Run("apt-cache", "policy", "stigmer")
	assert.NilError(t, err, policy)
	return policy, update
}

// TestWriteServesEveryReleaseToApt: a tree of 1.1.0 over an earlier 1.0.0
// is signed, and apt (the host's, in a scratch root) reads it through its
// keyring only and offers both versions.
func TestWriteServesEveryReleaseToApt(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	smallPackages(t, filepath.Join(dir, "earlier"), "1.0.0")
	tree := filepath.Join(dir, "repo")
	key := newKey(t, "Repo Test <repo@example.invalid>")
	assert.NilError(t, Write(ctx, Options{Dir: tree, URL: "https://example.invalid/stigmer", Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Earlier: filepath.Join(dir, "earlier"), Key: key, Date: date, Log: os.Stderr}))

	policy, update := aptPolicy(t, tree)
	assert.Assert(t, is.Contains(policy, "Candidate: 1.1.0"), update)
	assert.Assert(t, is.Contains(policy, "1.0.0 500"), policy)

	rel := read(t, tree, "dists/stable/Release")
	assert.Assert(t, is.Contains(rel, "SHA256:\n"))
	assert.Assert(t, is.Contains(rel, "Acquire-By-Hash: yes\n"))
	assert.Assert(t, is.Contains(rel, "Date: Sun, 01 Nov 2026 12:00:00 UTC\n"))
	assert.Assert(t, !strings.Contains(rel, "MD5Sum:") && !strings.Contains(rel, "SHA1:"), rel)
	for _, f := range []string{"InRelease", "Release.gpg"} {
		out, err := exec.Command("gpgv", "--keyring", filepath.Join(tree, AptKeyring), filepath.Join(tree, "dists/stable", f), filepath.Join(tree, "dists/stable/Release")).CombinedOutput()
		if f == "InRelease" {
			out, err = exec.Command("gpgv", "--keyring", filepath.Join(tree, AptKeyring), filepath.Join(tree, "dists/stable", f)).CombinedOutput()
		}
		assert.NilError(t, err, "%s: %s", f, out)
	}
	assert.Equal(t, read(t, tree, SourcesFile), "Types: deb\nURIs: https://example.invalid/stigmer/\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/stigmer-archive-keyring.gpg\n")
	assert.Equal(t, read(t, tree, RepoFile), "[stigmer]\nname=Stigmer\nbaseurl=https://example.invalid/stigmer/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=0\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer\n")
}

// TestWriteRefusesATamperedPackagesToApt: apt rejects a Packages file
// that no longer matches the signed Release (the check the tree exists for).
func TestWriteRefusesATamperedPackagesToApt(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "repo")
	assert.NilError(t, Write(context.Background(), Options{Dir: tree, URL: "file://" + tree, Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Key: newKey(t, "Repo Test <repo@example.invalid>"), Date: date, Log: os.Stderr}))
	// A mirror that serves an edited Packages, and no other copy of it.
	bin := filepath.Join(tree, "dists/stable/main/binary-amd64")
	for _, f := range []string{"Packages.gz", "Packages.xz", "by-hash"} {
		assert.NilError(t, os.RemoveAll(filepath.Join(bin, f)))
	}
	assert.NilError(t, os.WriteFile(filepath.Join(bin, "Packages"), []byte("Package: stigmer\nVersion: 9.9.9\nArchitecture: amd64\nFilename: pool/x.deb\nSize: 1\nSHA256: 00\n"), 0o644))
	policy, update := aptPolicy(t, tree)
	assert.Assert(t, is.Contains(update, "Hash Sum mismatch"), update)
	assert.Assert(t, !strings.Contains(policy, "9.9.9"), policy)
}

// TestWriteListsEveryRPM: repomd.xml indexes primary, filelists and other,
// its signature verifies, and primary lists both releases' rpms.
func TestWriteListsEveryRPM(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	smallPackages(t, filepath.Join(dir, "earlier"), "1.0.0")
	tree := filepath.Join(dir, "repo")
	key := newKey(t, "Repo Test <repo@example.invalid>")
	assert.NilError(t, Write(context.Background(), Options{Dir: tree, URL: "file://" + tree, Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Earlier: filepath.Join(dir, "earlier"), Key: key, Date: date, Log: os.Stderr}))
	repomd := read(t, tree, "repodata/repomd.xml")
	for _, typ := range []string{"primary", "filelists", "other"} {
		assert.Assert(t, is.Contains(repomd, `<data type="`+typ+`">`))
	}
	assert.Assert(t, !strings.Contains(repomd, "sqlite"), "no databases: %s", repomd)
	out, err := exec.Command("gpg", "--homedir", key.Dir, "--verify", filepath.Join(tree, "repodata/repomd.xml.asc"), filepath.Join(tree, "repodata/repomd.xml")).CombinedOutput()
	assert.NilError(t, err, string(out))
	primary, err := filepath.Glob(filepath.Join(tree, "repodata/*-primary.xml.gz"))
	assert.NilError(t, err)
	assert.Equal(t, len(primary), 1)
	xml, err := exec.Command("zcat", primary[0]).Output()
	assert.NilError(t, err)
	for _, want := range []string{`ver="1.0.0"`, `ver="1.1.0"`, `<arch>x86_64</arch>`, `<arch>aarch64</arch>`, `<location href="pool/main/s/stigmer/stigmer-1.1.0-1.x86_64.rpm"/>`} {
		assert.Assert(t, is.Contains(string(xml), want))
	}
}

// TestWriteIsReproducible: two trees from the same packages (copied anew,
// so their mtimes differ) are byte for byte the same, signatures aside.
func TestWriteIsReproducible(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	pkgs := smallPackages(t, filepath.Join(dir, "new"), "1.1.0")
	key := newKey(t, "Repo Test <repo@example.invalid>")
	var trees []string
	for _, name := range []string{"a", "b"} {
		var copies []string
		for _, p := range pkgs {
			data, err := os.ReadFile(p)
			assert.NilError(t, err)
			c := filepath.Join(dir, "in-"+name, filepath.Base(p))
			assert.NilError(t, os.MkdirAll(filepath.Dir(c), 0o755))
			assert.NilError(t, os.WriteFile(c, data, 0o644))
			copies = append(copies, c)
		}
		tree := filepath.Join(dir, name)
		assert.NilError(t, Write(context.Background(), Options{Dir: tree, URL: "https://example.invalid", Packages: copies, Key: key, Date: date, Log: os.Stderr}))
		trees = append(trees, tree)
		time.Sleep(1100 * time.Millisecond) // a second later: a clock in the output would show
	}
	signatures := map[string]bool{"dists/stable/InRelease": true, "dists/stable/Release.gpg": true, "repodata/repomd.xml.asc": true}
	a, b := listTree(t, trees[0]), listTree(t, trees[1])
	assert.DeepEqual(t, keys(a), keys(b))
	for name := range a {
		if !signatures[name] {
			assert.Equal(t, a[name], b[name], "%s differs", name)
		}
	}
}

// TestWriteRefusesAReusedName: an earlier package with this release's name
// but other bytes is a version released twice.
func TestWriteRefusesAReusedName(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	pkgs := smallPackages(t, filepath.Join(dir, "new"), "1.1.0")
	earlier := filepath.Join(dir, "earlier")
	assert.NilError(t, os.MkdirAll(earlier, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(earlier, filepath.Base(pkgs[0])), []byte("other"), 0o644))
	err := Write(context.Background(), Options{Dir: filepath.Join(dir, "repo"), URL: "https://example.invalid", Packages: pkgs, Earlier: earlier,
		Key: newKey(t, "Repo Test <repo@example.invalid>"), Date: date, Log: os.Stderr})
	assert.ErrorContains(t, err, "a version is released once")
	_, statErr := os.Stat(filepath.Join(dir, "repo"))
	assert.Assert(t, os.IsNotExist(statErr), "no tree after a refusal")
}

// TestWriteRefusesNoKey: an unsigned tree is never written.
func TestWriteRefusesNoKey(t *testing.T) {
	dir := t.TempDir()
	err := Write(context.Background(), Options{Dir: filepath.Join(dir, "repo"), URL: "https://example.invalid", Date: date, Log: os.Stderr})
	assert.ErrorContains(t, err, "no signing key for the repository")
	_, statErr := os.Stat(filepath.Join(dir, "repo"))
	assert.Assert(t, os.IsNotExist(statErr))
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	assert.NilError(t, err)
	return string(b)
}

// listTree maps each file's path under root to its content.
func listTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	assert.NilError(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(root, p)
			b, rerr := os.ReadFile(p)
			out[rel] = string(b)
			return rerr
		}
		return err
	}))
	return out
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// TestCheckSize: a tree past the margin of the Pages limit fails with what
// to do; a small one passes with its size.
func TestCheckSize(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "small"), make([]byte, 1000), 0o644))
	size, err := CheckSize(dir)
	assert.NilError(t, err)
	assert.Equal(t, size, int64(1000))
	f, err := os.Create(filepath.Join(dir, "pool"))
	assert.NilError(t, err)
	assert.NilError(t, f.Truncate(950_000_000)) // sparse: no disk used
	assert.NilError(t, f.Close())
	_, err = CheckSize(dir)
	assert.ErrorContains(t, err, "the repository is 950 MB, more than 90% of GitHub Pages' 1000 MB limit, so it is not published: delete the .deb and .rpm assets of the oldest releases")
}
