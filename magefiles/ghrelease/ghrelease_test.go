package ghrelease

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
)

const token = "test-token"

// standIn starts the API stand-in with two releases to a page.
func standIn(t *testing.T) *fakegithub.Server {
	t.Helper()
	s := fakegithub.New("stigmer/stigmer", token, t.TempDir())
	s.MaxPerPage = 2
	t.Cleanup(s.Close)
	return s
}

// client talks to s and records the rate-limit waits instead of waiting.
func client(s *httptest.Server, waits *[]time.Duration) *Client {
	return &Client{API: s.URL, Repo: "stigmer/stigmer", Token: token, Log: os.Stderr,
		Wait: func(_ context.Context, d time.Duration) error { *waits = append(*waits, d); return nil }}
}

// files writes small files named names into a new directory and returns
// their paths.
func files(t *testing.T, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		assert.NilError(t, os.WriteFile(p, []byte("contents of "+n), 0o644))
		out = append(out, p)
	}
	return out
}

func isPackage(name string) bool {
	return strings.HasSuffix(name, ".deb") || strings.HasSuffix(name, ".rpm")
}

// earlierReleases fills s with what a project has after a few releases:
// one without packages, two with, a pre-release and a draft, and the
// release being made.
func earlierReleases(t *testing.T, s *fakegithub.Server) {
	t.Helper()
	for _, r := range []struct {
		tag         string
		draft, pre  bool
		assetsNamed []string
	}{
		{tag: "v0.9.0", assetsNamed: []string{"stigmer_0.9.0_linux_amd64.tar.gz"}},
		{tag: "v1.0.0", assetsNamed: []string{"stigmer_1.0.0_amd64.deb", "stigmer-1.0.0-1.x86_64.rpm", "checksums.txt"}},
		{tag: "v1.1.0-rc.1", pre: true, assetsNamed: []string{"stigmer_1.1.0.rc.1_amd64.deb"}},
		{tag: "v1.1.0", assetsNamed: []string{"stigmer_1.1.0_amd64.deb", "stigmer-1.1.0-1.x86_64.rpm"}},
		{tag: "v1.2.0", draft: true, assetsNamed: []string{"stigmer_1.2.0_amd64.deb"}},
		{tag: "v1.3.0", assetsNamed: []string{"stigmer_1.3.0_amd64.deb"}},
	} {
		assert.NilError(t, s.AddRelease(r.tag, r.draft, r.pre, files(t, r.assetsNamed...)...))
	}
}

// TestDownloadEarlier: every page is read, drafts, pre-releases and the
// release being made are skipped, a release without packages is passed
// over, and each package is downloaded with the token, byte for byte,
// after a rate-limit answer waited out.
func TestDownloadEarlier(t *testing.T) {
	s := standIn(t)
	earlierReleases(t, s)
	var waits []time.Duration
	s.RateLimit(1)
	dir := t.TempDir()
	got, err := client(s.Server, &waits).DownloadEarlier(context.Background(), "v1.3.0", dir, isPackage)
	assert.NilError(t, err)
	var rel []string
	for _, f := range got {
		r, err := filepath.Rel(dir, f)
		assert.NilError(t, err)
		rel = append(rel, r)
		name := filepath.Base(f)
		assert.Equal(t, read(t, f), "contents of "+name)
	}
	assert.DeepEqual(t, rel, []string{
		"v1.1.0/stigmer-1.1.0-1.x86_64.rpm", "v1.1.0/stigmer_1.1.0_amd64.deb",
		"v1.0.0/stigmer-1.0.0-1.x86_64.rpm", "v1.0.0/stigmer_1.0.0_amd64.deb",
	})
	assert.DeepEqual(t, waits, []time.Duration{time.Second})
	// Six releases at two a page: three pages, plus the one rate-limited try.
	assert.Assert(t, s.Requests() >= 4+4, "%d requests", s.Requests())
}

// TestDownloadEarlierFailures: each way the earlier releases cannot be had
// stops the release with what to do.
func TestDownloadEarlierFailures(t *testing.T) {
	ctx := context.Background()
	var waits []time.Duration

	t.Run("an asset listed but not served", func(t *testing.T) {
		s := standIn(t)
		earlierReleases(t, s)
		assert.NilError(t, os.Remove(s.AssetPath("v1.0.0", "stigmer-1.0.0-1.x86_64.rpm")))
		_, err := client(s.Server, &waits).DownloadEarlier(ctx, "v1.3.0", t.TempDir(), isPackage)
		assert.ErrorContains(t, err, "release v1.0.0 lists the asset stigmer-1.0.0-1.x86_64.rpm, but GitHub does not serve it")
		assert.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("releases listed, none with packages", func(t *testing.T) {
		s := standIn(t)
		for _, tag := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
			assert.NilError(t, s.AddRelease(tag, false, false, files(t, "stigmer_"+tag+"_linux_amd64.tar.gz")...))
		}
		_, err := client(s.Server, &waits).DownloadEarlier(ctx, "v1.2.0", t.TempDir(), isPackage)
		assert.ErrorContains(t, err, "GitHub lists 2 earlier releases of stigmer/stigmer but none has a package asset")
	})
	t.Run("no earlier release at all", func(t *testing.T) {
		s := standIn(t)
		assert.NilError(t, s.AddRelease("v1.0.0-rc.1", false, true, files(t, "stigmer_1.0.0.rc.1_amd64.deb")...))
		got, err := client(s.Server, &waits).DownloadEarlier(ctx, "v1.0.0", t.TempDir(), isPackage)
		assert.NilError(t, err)
		assert.Equal(t, len(got), 0)
	})
	t.Run("a bad token", func(t *testing.T) {
		s := standIn(t)
		c := client(s.Server, &waits)
		c.Token = "wrong"
		_, err := c.DownloadEarlier(ctx, "v1.0.0", t.TempDir(), isPackage)
		assert.ErrorContains(t, err, "GitHub's API answered 401 Unauthorized: Bad credentials")
	})
	t.Run("the hourly rate limit used up", func(t *testing.T) {
		reset := time.Now().Add(time.Hour).Unix()
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"API rate limit exceeded for installation ID 1."}`))
		}))
		defer api.Close()
		var waited []time.Duration
		_, err := client(api, &waited).DownloadEarlier(ctx, "v1.0.0", t.TempDir(), isPackage)
		assert.ErrorContains(t, err, "rate limit for this token is used up (403 Forbidden, API rate limit exceeded for installation ID 1.)")
		assert.ErrorContains(t, err, "re-run the workflow then")
		assert.ErrorContains(t, err, time.Unix(reset, 0).UTC().Format("15:04"))
		assert.Equal(t, len(waited), 0, "waited %v for an hourly limit", waited)
	})
}

// TestPublish: a release is made as a draft, gets every asset, and is
// published; a second publish of the tag is refused; a draft left by a
// failed run is replaced.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	s := standIn(t)
	var waits []time.Duration
	c := client(s.Server, &waits)
	assets := files(t, "stigmer_1.0.0_amd64.deb", "checksums.txt")
	assert.NilError(t, s.AddRelease("v1.0.0", true, false, files(t, "half-uploaded.deb")...))

	r, err := c.Publish(ctx, NewRelease{Tag: "v1.0.0", Name: "stigmer 1.0.0", Notes: "notes", Files: assets})
	assert.NilError(t, err)
	assert.Assert(t, !r.Draft)
	got, err := c.ReleaseByTag(ctx, "v1.0.0")
	assert.NilError(t, err)
	var names []string
	for _, a := range got.Assets {
		names = append(names, a.Name)
		var buf bytes.Buffer
		assert.NilError(t, c.Download(ctx, a, &buf))
		assert.Equal(t, buf.String(), "contents of "+a.Name)
	}
	assert.DeepEqual(t, names, []string{"checksums.txt", "stigmer_1.0.0_amd64.deb"})
	assert.Equal(t, read(t, filepath.Join(s.Dir, "v1.0.0", fakegithub.NotesFile)), "notes")
	all, err := c.Releases(ctx)
	assert.NilError(t, err)
	assert.Equal(t, len(all), 1, "the failed run's draft is gone")

	_, err = c.Publish(ctx, NewRelease{Tag: "v1.0.0", Files: assets})
	assert.ErrorContains(t, err, "v1.0.0 is released already")
	_, err = c.ReleaseByTag(ctx, "v9.9.9")
	assert.Assert(t, is.ErrorIs(err, ErrNotFound))
}

func TestPagesURL(t *testing.T) {
	s := standIn(t)
	var waits []time.Duration
	_, err := client(s.Server, &waits).PagesURL(context.Background())
	assert.Assert(t, is.ErrorIs(err, ErrNotFound))
	s.PagesURL = "https://stigmer.example.invalid/stigmer/"
	got, err := client(s.Server, &waits).PagesURL(context.Background())
	assert.NilError(t, err)
	assert.Equal(t, got, "https://stigmer.example.invalid/stigmer")
}

func TestNextPage(t *testing.T) {
	assert.Equal(t, nextPage(`<https://api.example.invalid/r?page=3>; rel="next", <https://api.example.invalid/r?page=9>; rel="last"`), "https://api.example.invalid/r?page=3")
	assert.Equal(t, nextPage(`<https://api.example.invalid/r?page=1>; rel="prev"`), "")
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	assert.NilError(t, err)
	return string(b)
}
