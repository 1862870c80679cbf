//go:build mage

package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"
)

// Build groups the targets that build the binary for this machine.
type Build mg.Namespace

// Binary builds the stigmer binary for this machine into dist/stigmer.
func (Build) Binary(ctx context.Context) error {
	b, err := newBuild(ctx, userOptions())
	if err != nil {
		return err
	}
	return b.Binary(ctx, "", b.HostBinary())
}

// Clean removes dist/ (the chroot cache in the user cache dir stays).
func (Build) Clean() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(root, "dist"))
}
