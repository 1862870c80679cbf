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
// one line that sets REPO in each install block changed to serve (the
// test's file: URL). It fails when a block is missing or has no or two
// REPO= lines, so that the docs cannot drift from what the test runs.
func Readme(readme []byte, serve string) (map[string]string, error) {
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
			lines := strings.Split(block, "\n")
			n := 0
			for i, l := range lines {
				if strings.HasPrefix(l, "REPO=") {
					lines[i] = "REPO=" + serve
					n++
				}
			}
			if n != 1 {
				return nil, fmt.Errorf("README.md's %s block sets REPO= %d times; it must set it once, where the operator names the server", name, n)
			}
			block = strings.Join(lines, "\n")
		}
		out[name] = block
	}
	return out, nil
}
