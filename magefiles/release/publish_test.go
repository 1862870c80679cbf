package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
)

// tagged makes a repository with commits and the tags, HEAD at the last.
func tagged(t *testing.T, tags ...string) string {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...).CombinedOutput()
		assert.NilError(t, err, string(out))
	}
	run("init", "-q")
	for _, tag := range tags {
		run("commit", "-q", "--allow-empty", "-m", "change before "+tag)
		run("tag", tag)
	}
	return dir
}

// TestPublishUploadsWhatTheReleaseMade: the notes carry the fingerprint and
// the changes since the previous tag; every file checksums.txt names is
// uploaded with it and its signature; a pre-release is marked and keeps
// Pages off.
func TestPublishUploadsWhatTheReleaseMade(t *testing.T) {
	ctx := context.Background()
	root := tagged(t, "v1.0.0", "v1.1.0-rc.1")
	s := fakegithub.New("stigmer/stigmer", "tok", t.TempDir())
	defer s.Close()
	p := &Plan{Root: root, Mode: Publish, Tag: "v1.1.0-rc.1", API: s.URL, Repository: "stigmer/stigmer", Token: "tok", Log: os.Stderr}

	_, err := p.Publish(ctx)
	assert.ErrorContains(t, err, "reading the release's checksums (run go tool mage release first)")
	dir := filepath.Join(root, Dir)
	assert.NilError(t, os.MkdirAll(dir, 0o755))
	for name, data := range map[string]string{
		"checksums.txt":                "aa  stigmer_1.1.0.rc.1_amd64.deb\n",
		"checksums.txt.sig":            "sig",
		"stigmer_1.1.0.rc.1_amd64.deb": "deb",
		"artifacts.json":               "goreleaser's own",
	} {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	assert.NilError(t, p.WriteNotes(ctx, "1.1.0-rc.1", "go1.27.3", "ABCDEF0123456789ABCDEF0123456789ABCDEF01", []string{"ABCDEF0123456789ABCDEF0123456789ABCDEF01"}))
	r, err := p.Publish(ctx)
	assert.NilError(t, err)
	assert.Assert(t, r.Prerelease && !r.Draft)
	var names []string
	for _, a := range r.Assets {
		names = append(names, a.Name)
	}
	assert.DeepEqual(t, names, []string{"checksums.txt", "checksums.txt.sig", "stigmer_1.1.0.rc.1_amd64.deb"})
	notes, err := os.ReadFile(filepath.Join(s.Dir, "v1.1.0-rc.1", fakegithub.NotesFile))
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(string(notes), "Signed with the release key `ABCDEF0123456789ABCDEF0123456789ABCDEF01`"))
	assert.Assert(t, is.Contains(string(notes), "Built with Go 1.27.3"))
	assert.Assert(t, is.Contains(string(notes), "- change before v1.1.0-rc.1 ("))
	assert.Assert(t, !strings.Contains(string(notes), "change before v1.0.0"), "the notes list only the changes since v1.0.0:\n%s", notes)
	assert.Assert(t, is.Contains(string(notes), "the apt and dnf repository does not offer it"))
	assert.Equal(t, p.PagesOutput(), "pages=false\n")

	_, err = (&Plan{Mode: Snapshot, Why: "not in CI (CI=true)"}).Publish(ctx)
	assert.ErrorContains(t, err, "nothing to publish: this is a snapshot (not in CI (CI=true))")
}

// TestWriteOutputs: the Pages decision goes to GITHUB_OUTPUT.
func TestWriteOutputs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "output")
	assert.NilError(t, os.WriteFile(out, []byte("other=1\n"), 0o644))
	assert.NilError(t, (&Plan{Mode: Publish, Tag: "v1.1.0"}).WriteOutputs(out))
	got, err := os.ReadFile(out)
	assert.NilError(t, err)
	assert.Equal(t, string(got), "other=1\npages=true\n")
	assert.Equal(t, (&Plan{Mode: Snapshot, Tag: "v1.1.0"}).PagesOutput(), "pages=false\n")
	assert.NilError(t, (&Plan{}).WriteOutputs(""))
}
