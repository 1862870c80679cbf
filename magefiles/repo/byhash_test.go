package repo

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestWriteByHashForEveryListedHash: every file Release lists is under
// by-hash for every hash Release lists, and apt, served a tree whose
// plain-named indexes are gone, gets them by hash (it asks by the
// strongest, SHA512).
func TestWriteByHashForEveryListedHash(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "repo")
	assert.NilError(t, Write(context.Background(), Options{Dir: tree, URL: "file://" + tree, Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Key: newKey(t, "Repo Test <repo@example.invalid>"), Date: date, Log: os.Stderr}))
	entries, sections, err := parseRelease([]byte(read(t, tree, "dists/stable/Release")))
	assert.NilError(t, err)
	assert.DeepEqual(t, sections, []string{"SHA256", "SHA512"})
	assert.Assert(t, len(entries) >= 6, "Release lists %d files", len(entries))
	for _, e := range entries {
		for _, h := range sections {
			byHash := path.Join("dists/stable", path.Dir(e.path), "by-hash", h, e.sums[h])
			assert.Check(t, is.Equal(read(t, tree, byHash), read(t, tree, "dists/stable/"+e.path)), "%s of %s", h, e.path)
		}
	}

	bin := filepath.Join(tree, "dists/stable/main/binary-amd64")
	for _, f := range []string{"Packages", "Packages.gz", "Packages.xz"} {
		assert.NilError(t, os.Remove(filepath.Join(bin, f)))
	}
	policy, update := aptPolicy(t, tree)
	assert.Assert(t, is.Contains(policy, "Candidate: 1.1.0"), update)
}

// TestWriteKeepsThePreviousGeneration: a client that read the previous
// release's InRelease (a cache still serves it) while the new tree is up
// finds every index it names, by hash, and sees the previous release's
// packages; dnf's previous metadata files stay beside the new ones.
func TestWriteKeepsThePreviousGeneration(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	key := newKey(t, "Repo Test <repo@example.invalid>")
	prev, tree := filepath.Join(dir, "published"), filepath.Join(dir, "repo")
	old := smallPackages(t, filepath.Join(dir, "old"), "1.0.0")
	assert.NilError(t, Write(ctx, Options{Dir: prev, URL: "file://" + tree, Packages: old, Key: key, Date: date, Log: os.Stderr}))
	site, err := OpenSite("file://" + prev)
	assert.NilError(t, err)
	assert.NilError(t, Write(ctx, Options{Dir: tree, URL: "file://" + tree, Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Earlier: filepath.Join(dir, "old"), Published: site, Key: key, Date: date, Log: os.Stderr}))

	repomd := read(t, prev, "repodata/repomd.xml")
	for _, line := range strings.Split(repomd, "\n") {
		if _, href, ok := strings.Cut(line, `<location href="`); ok {
			href, _, _ = strings.Cut(href, `"`)
			assert.Check(t, is.Equal(read(t, tree, href), read(t, prev, href)), "dnf's previous %s", href)
		}
	}

	// The cache serves the old InRelease; the plain-named indexes are
	// the new ones, which do not match it.
	for _, f := range []string{"InRelease", "Release", "Release.gpg"} {
		assert.NilError(t, os.WriteFile(filepath.Join(tree, "dists/stable", f), []byte(read(t, prev, "dists/stable/"+f)), 0o644))
	}
	policy, update := aptPolicy(t, tree)
	assert.Assert(t, is.Contains(policy, "Candidate: 1.0.0"), update)
	assert.Assert(t, !strings.Contains(update, "Hash Sum mismatch") && !strings.Contains(update, "404"), update)
}

// TestWriteRefusesADamagedPreviousGeneration: an index the published tree
// serves that does not match its Release stops the release: copying it
// would put a file under a hash it does not have.
func TestWriteRefusesADamagedPreviousGeneration(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	key := newKey(t, "Repo Test <repo@example.invalid>")
	prev := filepath.Join(dir, "published")
	assert.NilError(t, Write(ctx, Options{Dir: prev, URL: "file://" + prev, Packages: smallPackages(t, filepath.Join(dir, "old"), "1.0.0"), Key: key, Date: date, Log: os.Stderr}))
	bin := filepath.Join(prev, "dists/stable/main/binary-amd64")
	assert.NilError(t, os.RemoveAll(filepath.Join(bin, "by-hash")))
	assert.NilError(t, os.WriteFile(filepath.Join(bin, "Packages"), []byte("Package: other\n"), 0o644))
	site, err := OpenSite(prev)
	assert.NilError(t, err)
	err = Write(ctx, Options{Dir: filepath.Join(dir, "repo"), URL: "https://example.invalid", Packages: smallPackages(t, filepath.Join(dir, "new"), "1.1.0"),
		Published: site, Key: key, Date: date, Log: os.Stderr})
	assert.ErrorContains(t, err, "the published dists/stable/main/binary-amd64/Packages: 15 bytes, Release says")
}

// TestParseRelease reads the file lists of a Release.
func TestParseRelease(t *testing.T) {
	entries, sections, err := parseRelease([]byte("Origin: x\nDate: y\nSHA256:\n aa 3 main/p\n bb 4 main/p.gz\nSHA512:\n cc 3 main/p\nDescription: z\n"))
	assert.NilError(t, err)
	assert.DeepEqual(t, sections, []string{"SHA256", "SHA512"})
	assert.DeepEqual(t, entries, []releaseEntry{
		{path: "main/p", size: 3, sums: map[string]string{"SHA256": "aa", "SHA512": "cc"}},
		{path: "main/p.gz", size: 4, sums: map[string]string{"SHA256": "bb"}},
	}, gocmp.AllowUnexported(releaseEntry{}))
	_, _, err = parseRelease([]byte("SHA256:\n aa main/p\n"))
	assert.ErrorContains(t, err, "is not 'sum size path'")
	assert.ErrorContains(t, checkByHash([]byte("SHA256:\n aa 3 main/p\n")), "lists the hashes [SHA256], but by-hash copies are written for [SHA256 SHA512]")
}
