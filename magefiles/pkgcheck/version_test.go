//go:build pkgcheck

package pkgcheck

import (
	"fmt"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// TestVersionOrder checks that dpkg and rpm both order the package versions
// of a history of describes as the history goes: snapshots before any tag,
// pre-releases before their release, snapshots between tags, and a dirty
// build (uncommitted changes) after its commit's clean build and before the
// next commit's.
func TestVersionOrder(t *testing.T) {
	history := []struct {
		describe string
		dirty    bool
	}{
		{"", false}, // no tag, 2 commits
		{"", true},
		{"", false}, // no tag, 10 commits
		{"v0.1.0-rc.1-0-gabc1234", false},
		{"v0.1.0-rc.1-0-gabc1234", true},
		{"v0.1.0-rc.1-3-gabc1234", false},
		{"v0.1.0-rc.2-0-gabc1234", false},
		{"v0.1.0-0-gabc1234", false},
		{"v0.1.0-0-gabc1234", true},
		{"v0.1.0-1-gabc1234", false},
		{"v0.1.0-1-gabc1234", true},
		{"v0.1.0-12-gabc1234", false},
		{"v0.1.1-rc.1-0-gabc1234", false},
		{"v0.1.1-0-gabc1234", false},
		{"v1.0.0-0-gabc1234", false},
	}
	var versions []string
	for i, h := range history {
		v, err := pkgbuild.VersionFromDescribe(h.describe, []int{2, 2, 10}[min(i, 2)], "abc1234")
		assert.NilError(t, err)
		if h.dirty {
			v = pkgbuild.MarkDirty(v)
		}
		versions = append(versions, pkgbuild.PackageVersion(v))
	}
	for i := 1; i < len(versions); i++ {
		a, b := versions[i-1], versions[i]
		t.Run(a+"<"+b, func(t *testing.T) {
			needTool(t, "dpkg")
			icmd.RunCommand("dpkg", "--compare-versions", a, "lt", b).Assert(t, icmd.Success)
			got := run(t, "rpm", "--eval", fmt.Sprintf(`%%{lua: print(rpm.vercmp(%q, %q))}`, a, b))
			assert.Equal(t, strings.TrimSpace(got), "-1", "rpm orders %s after %s", a, b)
		})
	}
}
