package repo

import (
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestReadmeHasTheBlocksTheVMTestRuns: the README's "Install from the
// repository" blocks exist, set REPO once, and use the files Write makes.
func TestReadmeHasTheBlocksTheVMTestRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	assert.NilError(t, err)
	blocks, err := Readme(readme, "file:///srv/x")
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(blocks["apt-install"], "REPO=file:///srv/x\n"))
	for _, f := range []string{AptKeyring, SourcesFile, KeyringPath} {
		assert.Assert(t, is.Contains(blocks["apt-install"], f))
	}
	for _, f := range []string{DnfKey, DnfKeyPath, RepoFile} {
		assert.Assert(t, is.Contains(blocks["dnf-install"], f))
	}
	assert.Assert(t, !strings.Contains(blocks["apt-install"], "apt-key") && !strings.Contains(blocks["apt-install"], "trusted=yes"))
	// An upgrade of stigmer is not an upgrade of the whole host.
	assert.Assert(t, is.Contains(blocks["apt-upgrade"], "apt-get install --only-upgrade "))
	assert.Assert(t, !strings.Contains(blocks["apt-upgrade"], "apt-get upgrade"), blocks["apt-upgrade"])
}

func TestReadmeRefusesADriftedBlock(t *testing.T) {
	_, err := Readme([]byte("<!-- vmtest: apt-install -->\n```sh\nREPO=a\napt-get install stigmer\n```\n"), "file:///x")
	assert.ErrorContains(t, err, "no block \"<!-- vmtest: apt-upgrade -->\"")
	_, err = Readme([]byte("<!-- vmtest: apt-install -->\n```sh\napt-get install stigmer\n```\n"), "file:///x")
	assert.ErrorContains(t, err, "apt-install block sets REPO= 0 times")
	two := "<!-- vmtest: apt-install -->\n```sh\nREPO=a\nREPO=b\n```\n<!-- vmtest: apt-upgrade -->\n```sh\nx\n```\n<!-- vmtest: dnf-install -->\n```sh\nREPO=a\n```\n<!-- vmtest: dnf-upgrade -->\n```sh\nx\n```\n"
	_, err = Readme([]byte(two), "file:///x")
	assert.ErrorContains(t, err, "apt-install block sets REPO= 2 times")
}
