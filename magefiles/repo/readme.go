package repo

import (
	"fmt"
	"regexp"
	"strings"
)

// ReadmeBlocks are the README's command blocks for operators that the VM
// test runs word for word: each follows a "<!-- vmtest: NAME -->" line.
var ReadmeBlocks = []string{"apt-install", "apt-upgrade", "dnf-install", "dnf-upgrade"}

var readmeBlock = regexp.MustCompile("(?m)^<!-- vmtest: ([a-z-]+) -->\n```sh\n((?s:.*?))```\n")

// Readme returns the blocks named in ReadmeBlocks from readme, with the
// lines that set REPO and FPR in each install block changed to serve (the
// test's file: URL) and fpr (the test key's fingerprint). It fails when a
// block is missing or an install block sets either other than once, so
// that the docs cannot drift from what the test runs.
func Readme(readme []byte, serve, fpr string) (map[string]string, error) {
	found := map[string]string{}
	for _, m := range readmeBlock.FindAllSubmatch(readme, -1) {
		found[string(m[1])] = string(m[2])
	}
	out := map[string]string{}
	for _, name := range ReadmeBlocks {
		block, ok := found[name]
		if !ok {
			return nil, fmt.Errorf("README.md has no block \"<!-- vmtest: %s -->\" followed by a ```sh fence: the VM test runs it as an operator would", name)
		}
		if strings.HasSuffix(name, "-install") {
			var err error
			for _, set := range [][2]string{{"REPO", serve}, {"FPR", fpr}} {
				if block, err = setOnce(block, name, set[0], set[1]); err != nil {
					return nil, err
				}
			}
		}
		out[name] = block
	}
	return out, nil
}

// setOnce changes the one line of block that sets variable to set it to
// value.
func setOnce(block, name, variable, value string) (string, error) {
	lines := strings.Split(block, "\n")
	n := 0
	for i, l := range lines {
		if strings.HasPrefix(l, variable+"=") {
			lines[i] = variable + "=" + value
			n++
		}
	}
	if n != 1 {
		return "", fmt.Errorf("README.md's %s block sets %s= %d times; it must set it once", name, variable, n)
	}
	return strings.Join(lines, "\n"), nil
}

// ReadmeFingerprint is the release key's fingerprint as the README's
// install blocks check it (their FPR= lines, which must agree).
func ReadmeFingerprint(readme []byte) (string, error) {
	fpr := ""
	for _, m := range readmeBlock.FindAllSubmatch(readme, -1) {
		for _, l := range strings.Split(string(m[2]), "\n") {
			v, ok := strings.CutPrefix(l, "FPR=")
			if !ok {
				continue
			}
			if fpr != "" && v != fpr {
				return "", fmt.Errorf("README.md's install blocks check two fingerprints, %s and %s: make them one", fpr, v)
			}
			fpr = v
		}
	}
	if fpr == "" {
		return "", fmt.Errorf("README.md's install blocks set no FPR=: they must check the release key's fingerprint")
	}
	return fpr, nil
}

// CheckReadmeFingerprint fails when the README's install blocks would
// refuse the key that signs the release: hosts that follow them would
// install nothing. It says what to change.
func CheckReadmeFingerprint(readme []byte, signing string) error {
	fpr, err := ReadmeFingerprint(readme)
	if err != nil {
		return err
	}
	if fpr != signing {
		return fmt.Errorf("README.md's install blocks check the key %s, but this release is signed by %s: hosts that follow them would trust nothing; set FPR=%s in README.md (every install block), commit and tag again", fpr, signing, signing)
	}
	return nil
}
