package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/internal/buildinfo"
)

// Every page that a SEE ALSO names is written, and no hidden internal-*
// command gets one.
func TestWriteManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	var out bytes.Buffer
	root := NewRoot(buildinfo.Info{}, &out, &out)
	assert.NilError(t, writeManPages(root, dir))

	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	written := map[string]bool{}
	for _, e := range entries {
		written[e.Name()] = true
		assert.Check(t, !strings.Contains(e.Name(), "internal"), "page for a hidden command: %s", e.Name())
	}
	assert.Check(t, written["stigmer.1"])
	assert.Check(t, written["stigmer-server.1"])

	// cobra's SEE ALSO lines: \fBstigmer-server(1)\fP
	ref := regexp.MustCompile(`\\fB([a-z0-9-]+)\(1\)\\fP`)
	var missing []string
	for name := range written {
		page, err := os.ReadFile(filepath.Join(dir, name))
		assert.NilError(t, err)
		_, seeAlso, ok := strings.Cut(string(page), ".SH SEE ALSO")
		if !ok {
			continue
		}
		for _, m := range ref.FindAllStringSubmatch(seeAlso, -1) {
			if !written[m[1]+".1"] {
				missing = append(missing, name+" -> "+m[1]+"(1)")
			}
		}
	}
	sort.Strings(missing)
	assert.Check(t, is.Len(missing, 0), "SEE ALSO names pages not written: %v", missing)
}
