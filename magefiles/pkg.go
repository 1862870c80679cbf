//go:build mage

package main

import (
	"context"
	"fmt"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// Pkg groups the targets that build and check the .deb and .rpm packages.
type Pkg mg.Namespace

// All builds the .deb and .rpm packages for amd64 and arm64 into dist/.
func (Pkg) All(ctx context.Context) error {
	b, err := newBuild(ctx, userOptions())
	if err != nil {
		return err
	}
	fmt.Printf("stigmer %s into %s\n", b.Version, b.Dist)
	_, err = b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	return err
}

// Tools installs with apt-get the tools the package checks need, if missing.
func (Pkg) Tools(ctx context.Context) error {
	return installTools(ctx, checkTools)
}

// Check checks the built packages: contents, lintian, rpmlint, scripts, unit, chroot lifecycle.
func (Pkg) Check(ctx context.Context) error {
	mg.CtxDeps(ctx, Pkg.All, Pkg.Tools)
	b, err := newBuild(ctx, userOptions())
	if err != nil {
		return err
	}
	old, err := olderPackages(ctx, b)
	if err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{
		"STIGMER_DIST":         b.Dist,
		"STIGMER_OLD_DIST":     old,
		"STIGMER_TEST_VERSION": b.Version,
	}, "go", "test", "-count=1", "-tags", "pkgcheck", "-timeout", "30m", "./magefiles/pkgcheck")
}

// checkTools maps each command the package checks run to its Debian package.
var checkTools = []tool{
	{"lintian", "lintian"},
	{"rpmlint", "rpmlint"},
	{"rpm", "rpm"},
	{"shellcheck", "shellcheck"},
	{"mmdebstrap", "mmdebstrap"},
	{"dash", "dash"},
	{"dpkg-deb", "dpkg"},
	{"systemd-analyze", "systemd"},
}
