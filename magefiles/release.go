//go:build mage

package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/release"
)

// Release groups the release and its checks.
type Release mg.Namespace

// Run makes the release with GoReleaser: published on a v* tag in CI with GITHUB_TOKEN, else a snapshot into dist/release.
//
// The .deb and .rpm come from packaging/nfpm.yaml through pkgbuild, as with
// the package target, into dist/release-packages; GoReleaser then builds the
// archives and checksums.txt, signs, and publishes. STIGMER_SIGN_KEY_FILE
// (an armored OpenPGP private key) and STIGMER_SIGN_PASSPHRASE sign the
// packages and checksums.txt. A published release refuses a dirty tree.
func (Release) Run(ctx context.Context) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	plan, err := release.New(ctx, root, release.ReadEnv(os.Getenv), os.Stdout)
	if err != nil {
		return err
	}
	opts := userOptions()
	opts.Dist = filepath.Join(root, release.PackageDir)
	opts.SignKey, opts.SignPassphrase = plan.SignKey, plan.SignPassphrase
	b, err := newBuild(ctx, opts)
	if err != nil {
		return err
	}
	if err := plan.CheckVersion(b.Version); err != nil {
		return err
	}
	plan.Announce(b.Version)
	if err := plan.ClearSigned(b.Dist); err != nil {
		return err
	}
	pkgs, err := b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	if err != nil {
		return err
	}
	return plan.Run(ctx, b, pkgs)
}

// Check checks the release: goreleaser check, actionlint, and snapshot releases in fresh clones (reproducible, signed, same packages as the package target).
func (Release) Check(ctx context.Context) error {
	if err := installTools(ctx, releaseTools); err != nil {
		return err
	}
	return sh.RunWithV(map[string]string{"STIGMER_GORELEASER": release.GoReleaser},
		"go", "test", "-count=1", "-v", "-tags", "releasecheck", "-timeout", "45m", "./magefiles/releasecheck")
}

// releaseTools maps each command the release checks run to its Debian package.
var releaseTools = []tool{
	{"gpg", "gpg"},
	{"gpg-agent", "gpg-agent"},
	{"rpm", "rpm"},
	{"rpm2cpio", "rpm2cpio"},
	{"cpio", "cpio"},
	{"dpkg-deb", "dpkg"},
	{"debsig-verify", "debsig-verify"},
	{"ar", "binutils"},
	{"git", "git"},
}
