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
