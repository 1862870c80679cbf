package rehearsal

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestPublishedLeavesOutThePreRelease(t *testing.T) {
	assert.DeepEqual(t, Published(), []string{"v1.0.0", "v1.1.0"})
}

// TestPlayed: a finished play names the commit it rehearsed; a play that
// stopped before its last tag, lost a site or never ran names none.
func TestPlayed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, out string)
		want  bool
	}{
		// success
		{"finished", func(*testing.T, string) {}, true},
		// none
		{"stopped before the last tag", func(t *testing.T, out string) {
			assert.NilError(t, os.RemoveAll(filepath.Join(out, ReleasesDir, Tags[len(Tags)-1])))
		}, false},
		{"a site missing", func(t *testing.T, out string) {
			assert.NilError(t, os.RemoveAll(SiteOf(out, Tags[1])))
		}, false},
		{"no first tag in the clone", func(t *testing.T, out string) {
			git(t, filepath.Join(out, CloneDir), "tag", "-d", Tags[0])
		}, false},
		{"nothing played", func(t *testing.T, out string) {
			assert.NilError(t, os.RemoveAll(out))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, head := fakePlay(t)
			tc.spoil(t, out)
			got, err := Played(ctx, out)
			assert.NilError(t, err)
			if tc.want {
				assert.Equal(t, got, head)
			} else {
				assert.Equal(t, got, "")
			}
		})
	}
}

func TestFileAtReadsTheTagsCommit(t *testing.T) {
	out, _ := fakePlay(t)
	got, err := FileAt(context.Background(), out, Tags[0], "README.md")
	assert.NilError(t, err)
	assert.Equal(t, string(got), "FPR=first\n")
	_, err = FileAt(context.Background(), out, Tags[0], "nothing")
	assert.Assert(t, is.ErrorContains(err, "reading nothing of the rehearsal's v1.0.0"))
}

// fakePlay lays out what a finished play leaves: a clone whose first tag
// sits on a commit of its own over the rehearsed one (whose id it returns),
// every tag's release and every published tag's site.
func fakePlay(t *testing.T) (out, head string) {
	out = t.TempDir()
	clone := filepath.Join(out, CloneDir)
	assert.NilError(t, os.MkdirAll(clone, 0o755))
	git(t, clone, "init", "--quiet")
	assert.NilError(t, os.WriteFile(filepath.Join(clone, "README.md"), []byte("FPR=0000\n"), 0o644))
	git(t, clone, "add", "README.md")
	git(t, clone, "commit", "--quiet", "-m", "rehearsed")
	head = strings.TrimSpace(git(t, clone, "rev-parse", "HEAD"))
	assert.NilError(t, os.WriteFile(filepath.Join(clone, "README.md"), []byte("FPR=first\n"), 0o644))
	git(t, clone, "commit", "--quiet", "-am", "Prepare "+Tags[0])
	git(t, clone, "tag", Tags[0])
	for _, tag := range Tags {
		assert.NilError(t, os.MkdirAll(filepath.Join(out, ReleasesDir, tag), 0o755))
	}
	for _, tag := range Published() {
		assert.NilError(t, os.MkdirAll(SiteOf(out, tag), 0o755))
	}
	return out, head
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	assert.NilError(t, err, string(out))
	return string(out)
}
