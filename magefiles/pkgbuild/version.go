package pkgbuild

import (
	"fmt"
	"regexp"
	"strings"
)

// describeRE matches `git describe --tags --long` output for a v-prefixed
// semver tag: v1.2.3[-pre]-N-gHASH.
var describeRE = regexp.MustCompile(`^v(\d+\.\d+\.\d+)(-[0-9A-Za-z.]+)?-(\d+)-(g[0-9a-f]+)$`)

// versionRE is what STIGMER_VERSION may hold: semver with an optional v.
var versionRE = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)(-[0-9A-Za-z.]+)?(\+[0-9A-Za-z.]+)?$`)

// VersionFromDescribe maps `git describe --tags --long` output to the
// semver that the binary prints and nfpm turns into package versions
// (nfpm writes the pre-release after "~" and the build metadata after "+"):
//
//	v1.2.3-0-gabc           1.2.3              deb/rpm 1.2.3
//	v1.2.3-rc.1-0-gabc      1.2.3-rc.1         1.2.3~rc.1 (before 1.2.3)
//	v1.2.3-4-gabc           1.2.3+git.4.gabc   1.2.3+git.4.gabc (after 1.2.3, before 1.2.4)
//	v1.2.3-rc.1-4-gabc      1.2.3-rc.1+git.4.gabc
//
// commits and hash describe HEAD when there is no tag at all (describe is
// empty): 0.0.0-git.N.gHASH, which sorts before every release and orders
// snapshots by commit count, in dpkg and rpm alike.
func VersionFromDescribe(describe string, commits int, hash string) (string, error) {
	if describe == "" {
		return fmt.Sprintf("0.0.0-git.%d.g%s", commits, hash), nil
	}
	m := describeRE.FindStringSubmatch(describe)
	if m == nil {
		return "", fmt.Errorf("git describe gave %q, not vMAJOR.MINOR.PATCH[-PRE]-N-gHASH; tag releases like v1.2.3 or v1.2.3-rc.1, or set STIGMER_VERSION", describe)
	}
	v := m[1] + m[2]
	if m[3] != "0" {
		v += "+git." + m[3] + "." + m[4]
	}
	return v, nil
}

// MarkDirty marks the semver of a build from a tree with uncommitted
// changes, as `git describe --dirty` does: "dirty" becomes the last build
// metadata identifier (semver allows one "+" only):
//
//	1.2.3                  1.2.3+dirty
//	1.2.3+git.4.gabc       1.2.3+git.4.gabc.dirty
//	0.0.0-git.7.gabc       0.0.0-git.7.gabc+dirty   deb/rpm 0.0.0~git.7.gabc+dirty
//
// The form is valid semver, a valid dpkg upstream version and a valid rpm
// version ("+" and "." are allowed in all three). Semver precedence ignores
// build metadata; dpkg and rpm both sort a dirty build after the clean build
// of its commit and before the next commit's: the extra ".dirty" or "+dirty"
// is a trailing part that only the dirty one has, and "dirty" sorts before
// "git" where a tag's dirty build meets the next commit's +git. So an upgrade
// from a dirty build to the commit that follows still works.
func MarkDirty(semver string) string {
	if strings.Contains(semver, "+") {
		return semver + ".dirty"
	}
	return semver + "+dirty"
}

// CheckVersion validates a STIGMER_VERSION override and drops a leading v.
func CheckVersion(v string) (string, error) {
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("STIGMER_VERSION=%q is not semver like 1.2.3, 1.2.3-rc.1 or 0.0.0-git.1.gabc; fix or unset it", v)
	}
	return strings.TrimPrefix(v, "v"), nil
}

// PackageVersion is the version dpkg and rpm show for a semver, as nfpm
// writes it (without the deb/rpm release suffix).
func PackageVersion(semver string) string {
	v, meta, _ := strings.Cut(semver, "+")
	v = strings.Replace(v, "-", "~", 1)
	if meta != "" {
		v += "+" + meta
	}
	return v
}
