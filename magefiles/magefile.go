//go:build mage

// Stigmer's build, packaging and test targets: `go tool mage package` builds
// the .deb and .rpm packages into dist/, `go tool mage test` runs every test.
// STIGMER_VERSION overrides the version from git describe and STIGMER_DIST
// the output directory.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// Build builds the stigmer binary for this machine into dist/stigmer.
func Build(ctx context.Context) error {
	b, err := newBuild(ctx)
	if err != nil {
		return err
	}
	return b.Binary(ctx, "", b.HostBinary())
}

// Package builds the .deb and .rpm packages for amd64 and arm64 into dist/.
func Package(ctx context.Context) error {
	b, err := newBuild(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("stigmer %s into %s\n", b.Version, b.Dist)
	_, err = b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	return err
}

// Test runs every test: the Go tests, the checks on the built packages, the release checks and the VM lifecycle test.
func Test(ctx context.Context) {
	// They run in this order; a failure stops the rest.
	mg.SerialCtxDeps(ctx, Check.Go, Check.Packages, Check.Release, Vmtest)
}

// Clean removes dist/ (the chroot cache in the user cache dir stays).
func Clean() error {
	root, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("finding repository root: %w", err)
	}
	return os.RemoveAll(filepath.Join(root, "dist"))
}

// newBuild reads the repository mage runs in (mage runs in its root).
func newBuild(ctx context.Context) (*pkgbuild.Build, error) {
	root, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding repository root: %w", err)
	}
	return pkgbuild.New(ctx, root, os.Stdout)
}
