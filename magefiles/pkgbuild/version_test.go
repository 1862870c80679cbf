package pkgbuild

import (
	"testing"

	"gotest.tools/v3/assert"
)

func TestVersionFromDescribe(t *testing.T) {
	for _, c := range []struct {
		name, describe string
		commits        int
		want, pkg      string
	}{
		// success
		{"release tag", "v1.2.3-0-gabc1234", 9, "1.2.3", "1.2.3"},
		{"pre-release tag", "v1.2.3-rc.1-0-gabc1234", 9, "1.2.3-rc.1", "1.2.3~rc.1"},
		{"after a release", "v1.2.3-4-gabc1234", 9, "1.2.3+git.4.gabc1234", "1.2.3+git.4.gabc1234"},
		{"after a pre-release", "v1.2.3-rc.1-4-gabc1234", 9, "1.2.3-rc.1+git.4.gabc1234", "1.2.3~rc.1+git.4.gabc1234"},
		{"no tag yet", "", 7, "0.0.0-git.7.gabc1234", "0.0.0~git.7.gabc1234"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := VersionFromDescribe(c.describe, c.commits, "abc1234")
			assert.NilError(t, err)
			assert.Equal(t, got, c.want)
			assert.Equal(t, PackageVersion(got), c.pkg)
		})
	}
	// failure
	_, err := VersionFromDescribe("release-1-2-gabc", 1, "abc1234")
	assert.ErrorContains(t, err, "tag releases like v1.2.3")
}

func TestCheckVersion(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "v0.9.0", want: "0.9.0"},
		{in: "0.0.0-git.0.g0000000", want: "0.0.0-git.0.g0000000"},
		{in: "1.0", err: "is not semver"},
		{in: "1.0.0-rc-1", err: "is not semver"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := CheckVersion(c.in)
			if c.err != "" {
				assert.ErrorContains(t, err, c.err)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, got, c.want)
		})
	}
}
