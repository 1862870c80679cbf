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
	blocks, err := Readme(readme, "file:///srv/x", "F00D")
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(blocks["apt-install"], "REPO=file:///srv/x\n"))
	for _, b := range []string{"apt-install", "dnf-install"} {
		assert.Assert(t, is.Contains(blocks[b], "FPR=F00D\n"))
		// The fingerprint is checked before the key is trusted, and the
		// keyring package comes first.
		check, trust := strings.Index(blocks[b], `f == fpr`), strings.Index(blocks[b], "sudo install ")
		assert.Assert(t, check > 0 && trust > check, "%s: the key is trusted before its fingerprint is checked:\n%s", b, blocks[b])
	}
	assert.Assert(t, is.Contains(blocks["apt-install"], "apt-get install -y stigmer-archive-keyring && sudo apt-get install -y stigmer"))
	assert.Assert(t, is.Contains(blocks["dnf-install"], "dnf install -y stigmer-release && sudo dnf install -y stigmer"))
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
	_, err := Readme([]byte("<!-- vmtest: apt-install -->\n```sh\nREPO=a\nFPR=b\napt-get install stigmer\n```\n"), "file:///x", "F")
	assert.ErrorContains(t, err, "no block \"<!-- vmtest: apt-upgrade -->\"")
	_, err = Readme([]byte("<!-- vmtest: apt-install -->\n```sh\napt-get install stigmer\n```\n"), "file:///x", "F")
	assert.ErrorContains(t, err, "apt-install block sets REPO= 0 times")
	two := "<!-- vmtest: apt-install -->\n```sh\nREPO=a\nREPO=b\n```\n<!-- vmtest: apt-upgrade -->\n```sh\nx\n```\n<!-- vmtest: dnf-install -->\n```sh\nREPO=a\n```\n<!-- vmtest: dnf-upgrade -->\n```sh\nx\n```\n"
	_, err = Readme([]byte(two), "file:///x", "F")
	assert.ErrorContains(t, err, "apt-install block sets REPO= 2 times")
	_, err = Readme([]byte(strings.ReplaceAll(two, "REPO=b\n", "")), "file:///x", "F")
	assert.ErrorContains(t, err, "apt-install block sets FPR= 0 times")
}

// TestCheckReadmeFingerprint: a release whose key the README's blocks
// would refuse stops, saying what to change.
func TestCheckReadmeFingerprint(t *testing.T) {
	readme := []byte("<!-- vmtest: apt-install -->\n```sh\nFPR=AAAA\n```\n<!-- vmtest: dnf-install -->\n```sh\nFPR=AAAA\n```\n")
	assert.NilError(t, CheckReadmeFingerprint(readme, "AAAA"))
	assert.ErrorContains(t, CheckReadmeFingerprint(readme, "BBBB"), "README.md's install blocks check the key AAAA, but this release is signed by BBBB")
	_, err := ReadmeFingerprint([]byte("<!-- vmtest: apt-install -->\n```sh\nFPR=AAAA\n```\n<!-- vmtest: dnf-install -->\n```sh\nFPR=CCCC\n```\n"))
	assert.ErrorContains(t, err, "check two fingerprints, AAAA and CCCC")
}
