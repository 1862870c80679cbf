//go:build mage

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/release"
	"github.com/stigmer/stigmer/magefiles/repo"
)

// Release groups the release and its checks.
type Release mg.Namespace

// Run makes the release with GoReleaser, and its signed apt and dnf repository: published on a v* tag in CI with GITHUB_TOKEN, else a snapshot into dist/release and dist/repo.
//
// The .deb and .rpm come from packaging/nfpm.yaml through pkgbuild, as with
// the package target, into dist/release-packages; GoReleaser then builds the
// archives and checksums.txt, signs, and publishes. STIGMER_SIGN_KEY_FILE
// (an armored OpenPGP private key) and STIGMER_SIGN_PASSPHRASE sign the
// packages, checksums.txt and the repository (Release.Repo), which an
// unsigned release has none of. A published release refuses a dirty tree.
func (Release) Run(ctx context.Context) error {
	return makeRelease(ctx, true)
}

// Repo writes the signed apt and dnf repository of this version's packages, and of earlier releases' (STIGMER_REPO_EARLIER), into dist/repo.
//
// It builds and signs the packages as Release.Run does, without GoReleaser.
// STIGMER_SIGN_KEY_FILE is required; STIGMER_REPO_URL says where the tree
// will be served (default: dist/repo itself, as a file: URL).
func (Release) Repo(ctx context.Context) error {
	return makeRelease(ctx, false)
}

// makeRelease builds the signed packages and, withAssets, the GoReleaser
// release, then the repository when there is a key to sign it with.
func makeRelease(ctx context.Context, withAssets bool) error {
	if err := installTools(ctx, repoTools()); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	// Before anything is built: a known vulnerability in code stigmer
	// reaches stops the release.
	if err := checkVulns(ctx, root, vulnSource(root)); err != nil {
		return err
	}
	plan, err := release.New(ctx, root, release.ReadEnv(os.Getenv), os.Stdout)
	if err != nil {
		return err
	}
	if plan.SignKey == "" && !withAssets {
		return fmt.Errorf("the repository needs a signing key: apt and dnf trust a repository only through its signature; set %s (README: Releasing)", release.EnvSignKey)
	}
	var key *gpgkey.Home
	if plan.SignKey != "" {
		if key, err = gpgkey.Import(ctx, plan.SignKey, plan.SignPassphrase, os.Stdout); err != nil {
			return fmt.Errorf("reading %s: %w", release.EnvSignKey, err)
		}
		defer key.Close()
		// Before anything is built: a key apt or rpm would refuse fails now.
		if err := key.Check(ctx); err != nil {
			return err
		}
	}
	url, err := plan.RepoLocation()
	if key != nil && err != nil {
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
	if withAssets {
		plan.Announce(b.Version)
	} else {
		fmt.Printf("repository of stigmer %s into %s, served at %s\n", b.Version, release.RepoDir, url)
	}
	if err := plan.ClearSigned(b.Dist); err != nil {
		return err
	}
	pkgs, err := b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	if err != nil {
		return err
	}
	// The binaries as built, with this toolchain's standard library,
	// before any of them is published.
	if err := checkVulns(ctx, root, vulnBinaries(b)...); err != nil {
		return err
	}
	if withAssets {
		if err := plan.Run(ctx, b, pkgs, key); err != nil {
			return err
		}
	}
	if key == nil {
		return nil
	}
	return repo.Write(ctx, repo.Options{
		Dir: filepath.Join(root, release.RepoDir), URL: url, Packages: pkgs,
		Earlier: plan.RepoEarlier, Key: key, Date: b.Date, Log: os.Stdout,
	})
}

// repoTools are the commands Release.Repo runs, with their Debian packages.
func repoTools() []tool {
	var tools []tool
	for _, t := range repo.Tools {
		tools = append(tools, tool{t[0], t[1]})
	}
	return tools
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
