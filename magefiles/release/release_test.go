package release

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
)

func TestDecide(t *testing.T) {
	for _, c := range []struct {
		name      string
		tag       string
		ci, token bool
		want      Mode
		why       string
	}{
		// publish
		{name: "tag in CI with token", tag: "v1.2.3", ci: true, token: true, want: Publish},
		// snapshot
		{name: "nothing", want: Snapshot, why: "no v* tag at HEAD, not in CI (CI=true), GITHUB_TOKEN unset"},
		{name: "tag on a laptop with token", tag: "v1.2.3", token: true, want: Snapshot, why: "not in CI (CI=true)"},
		{name: "CI without token", tag: "v1.2.3", ci: true, want: Snapshot, why: "GITHUB_TOKEN unset"},
		{name: "CI branch build with token", ci: true, token: true, want: Snapshot, why: "no v* tag at HEAD"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, why := Decide(c.tag, c.ci, c.token)
			assert.Equal(t, got, c.want)
			assert.Equal(t, why, c.why)
		})
	}
}

// TestNew runs New on a scratch repository: a dirty tree is refused only
// when the run would publish.
func TestNew(t *testing.T) {
	dir := tagged(t, "v1.2.3")
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "new"), nil, 0o644))
	env := func(m map[string]string) Env { return ReadEnv(func(k string) string { return m[k] }) }
	ctx := context.Background()

	// success
	p, err := New(ctx, dir, env(map[string]string{"CI": "true"}), os.Stdout)
	assert.NilError(t, err)
	assert.Equal(t, p.Mode, Snapshot)
	assert.Equal(t, p.Tag, "v1.2.3")
	assert.NilError(t, p.CheckVersion("0.0.0-anything"))

	// failure
	_, err = New(ctx, dir, env(map[string]string{"CI": "true", EnvToken: "t"}), os.Stdout)
	assert.Assert(t, is.ErrorContains(err, "refusing to publish v1.2.3 from a dirty tree"))
	assert.Assert(t, is.ErrorContains(err, "?? new"))
	_, err = New(ctx, dir, env(map[string]string{EnvSignKey: filepath.Join(dir, "missing.asc")}), os.Stdout)
	assert.Assert(t, is.ErrorContains(err, "reading "+EnvSignKey))
	assert.Assert(t, is.ErrorContains((&Plan{Mode: Publish, Tag: "v1.2.3"}).CheckVersion("1.2.4"), "does not match tag v1.2.3"))
	assert.Assert(t, is.ErrorContains((&Plan{Mode: Publish, Tag: "v1.2.3"}).CheckVersion("1.2.3+dirty"), "is a build of uncommitted changes"))
	// A snapshot of a dirty tree is allowed, and says so in its version.
	assert.NilError(t, (&Plan{Mode: Snapshot}).CheckVersion("1.2.3+dirty"))
}

// TestNewRefusesAnUnsignedPublish: a tag in CI with a token and no key
// fails in New, before anything is built, naming the variable; the same
// without a token is a snapshot, unsigned as before.
func TestNewRefusesAnUnsignedPublish(t *testing.T) {
	dir := tagged(t, "v1.2.3")
	env := func(m map[string]string) Env { return ReadEnv(func(k string) string { return m[k] }) }
	p, err := New(context.Background(), dir, env(map[string]string{"CI": "true", EnvToken: "t"}), os.Stdout)
	assert.NilError(t, err)
	assert.ErrorContains(t, p.RequireKey(), "refusing to publish v1.2.3 unsigned: STIGMER_SIGN_KEY_FILE is unset")
	p, err = New(context.Background(), dir, env(map[string]string{"CI": "true"}), os.Stdout)
	assert.NilError(t, err)
	assert.Equal(t, p.Mode, Snapshot)
	assert.Equal(t, p.SignKey, "")
	assert.NilError(t, p.RequireKey())

	// The key as text (a CI secret) is written to a private file, removed by Close.
	p, err = New(context.Background(), dir, env(map[string]string{"CI": "true", EnvToken: "t", EnvSignKeyData: "-----BEGIN PGP PRIVATE KEY BLOCK-----"}), os.Stdout)
	assert.NilError(t, err)
	assert.NilError(t, p.RequireKey())
	fi, err := os.Stat(p.SignKey)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o600))
	assert.NilError(t, p.Close())
	_, err = os.Stat(p.SignKey)
	assert.Assert(t, os.IsNotExist(err))
}

func TestAssetName(t *testing.T) {
	for in, want := range map[string]string{
		"stigmer_1.2.3_amd64.deb":                "stigmer_1.2.3_amd64.deb",
		"stigmer-1.2.3-1.x86_64.rpm":             "stigmer-1.2.3-1.x86_64.rpm",
		"stigmer_1.2.3~rc.1_arm64.deb":           "stigmer_1.2.3.rc.1_arm64.deb",
		"stigmer-1.2.3~rc.1-1.aarch64.rpm":       "stigmer-1.2.3.rc.1-1.aarch64.rpm",
		"stigmer_1.2.3+git.4.gabc1234_amd64.deb": "stigmer_1.2.3.git.4.gabc1234_amd64.deb",
		"stigmer_0.0.0~git.9.gabc1234_amd64.deb": "stigmer_0.0.0.git.9.gabc1234_amd64.deb",
	} {
		assert.Equal(t, AssetName(in), want)
	}
}

func TestClearSigned(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.deb", "a.rpm", "keep.txt"} {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	// no-op: unsigned runs keep the packages and their stamps
	assert.NilError(t, (&Plan{}).ClearSigned(dir))
	assert.Equal(t, len(mustGlob(t, filepath.Join(dir, "*"))), 3)
	// signed runs remove the packages only
	assert.NilError(t, (&Plan{SignKey: "/k.asc"}).ClearSigned(dir))
	assert.DeepEqual(t, mustGlob(t, filepath.Join(dir, "*")), []string{filepath.Join(dir, "keep.txt")})
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	assert.NilError(t, err)
	return m
}

// TestPublishedLocation: which repository the new tree keeps the indexes of.
func TestPublishedLocation(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct {
		name string
		p    Plan
		want string
	}{
		{"set", Plan{RepoPublished: "https://cache.example.invalid/x", RepoURL: "https://example.invalid"}, "https://cache.example.invalid/x"},
		{"none", Plan{RepoPublished: "none", Mode: Publish, RepoURL: "https://example.invalid"}, ""},
		{"published release: where it is served", Plan{Mode: Publish, RepoURL: "https://example.invalid"}, "https://example.invalid"},
		{"snapshot without a tree", Plan{Root: root}, ""},
	} {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.p.PublishedLocation(), c.want) })
	}
	assert.NilError(t, os.MkdirAll(filepath.Join(root, RepoDir, "dists"), 0o755))
	assert.Equal(t, (&Plan{Root: root}).PublishedLocation(), filepath.Join(root, RepoDir))
}

// TestEarlierPackages: a published release downloads the earlier releases'
// packages through the API; a snapshot takes STIGMER_REPO_EARLIER.
func TestEarlierPackages(t *testing.T) {
	ctx := context.Background()
	s := fakegithub.New("stigmer/stigmer", "tok", t.TempDir())
	defer s.Close()
	// The first release: nothing earlier, an empty directory.
	first := &Plan{Mode: Publish, Root: t.TempDir(), Tag: "v1.0.0", API: s.URL, Repository: "stigmer/stigmer", Token: "tok", Log: os.Stderr}
	dir, err := first.EarlierPackages(ctx)
	assert.NilError(t, err)
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 0)

	src := t.TempDir()
	var assets []string
	for _, n := range []string{"stigmer_1.0.0_amd64.deb", "stigmer-1.0.0-1.x86_64.rpm", "stigmer_1.0.0_linux_amd64.tar.gz"} {
		assert.NilError(t, os.WriteFile(filepath.Join(src, n), []byte(n), 0o644))
		assets = append(assets, filepath.Join(src, n))
	}
	assert.NilError(t, s.AddRelease("v1.0.0", false, false, assets...))

	p := &Plan{Mode: Publish, Root: t.TempDir(), Tag: "v1.1.0", API: s.URL, Repository: "stigmer/stigmer", Token: "tok", Log: os.Stderr}
	dir, err = p.EarlierPackages(ctx)
	assert.NilError(t, err)
	assert.Equal(t, dir, filepath.Join(p.Root, EarlierDir))
	assert.DeepEqual(t, mustGlob(t, filepath.Join(dir, "*", "*")), []string{
		filepath.Join(dir, "v1.0.0", "stigmer-1.0.0-1.x86_64.rpm"), filepath.Join(dir, "v1.0.0", "stigmer_1.0.0_amd64.deb")})

	p.RepoEarlier = src
	_, err = p.EarlierPackages(ctx)
	assert.ErrorContains(t, err, "STIGMER_REPO_EARLIER is set, but a published release takes the earlier releases from GitHub itself")
	p.RepoEarlier, p.Repository = "", ""
	_, err = p.EarlierPackages(ctx)
	assert.ErrorContains(t, err, `GITHUB_REPOSITORY="" is not owner/name`)

	dir, err = (&Plan{Mode: Snapshot, RepoEarlier: src}).EarlierPackages(ctx)
	assert.NilError(t, err)
	assert.Equal(t, dir, src)
}
