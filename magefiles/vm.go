package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/magefile/mage/mg"
)

// vmOldVersion stamps the older build that the upgrade scenarios start from:
// the current source under a version that dpkg, rpm and semver all order
// before any snapshot (0.0.0-git.N.gHASH with N >= 1) and any release.
const vmOldVersion = "0.0.0-git.0.g0000000"

// Vmtest boots Debian 12 and 11 guests under QEMU, installs the current packages and runs the lifecycle scenarios of issue 4.
//
// Scenarios: install, kill -9 and the other restart triggers, what must not
// restart, runner kills, reboot, upgrade, remove, purge, and the rpm path.
// It builds the packages (the package target) and an older build for the
// upgrade into the VM cache, then runs scripts/vm/vmtest.sh. Environment:
// STIGMER_VM_KEEP=1 keeps the guests' disks and logs (the script prints how
// to get a shell in one), STIGMER_VM_GUESTS picks guests ("deb12 deb11
// rpm12"), STIGMER_VM_CACHE moves the image cache.
func Vmtest(ctx context.Context) error {
	mg.CtxDeps(ctx, Package)
	cache, err := vmCacheDir()
	if err != nil {
		return err
	}
	old := filepath.Join(cache, "old-dist")
	if err := vmBuildOld(ctx, old); err != nil {
		return err
	}
	args := []string{"scripts/vm/vmtest.sh"}
	if os.Getenv("STIGMER_VM_KEEP") == "1" {
		args = append(args, "-k")
	}
	if g := os.Getenv("STIGMER_VM_GUESTS"); g != "" {
		args = append(args, "-g", g)
	}
	args = append(args, vmDistDir(), old)
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = append(os.Environ(), "STIGMER_VM_CACHE="+cache)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running the VM scenarios (scripts/vm/vmtest.sh): %w", err)
	}
	return nil
}

// vmBuildOld builds the packages again as vmOldVersion into dir, through the
// package target's own STIGMER_VERSION and STIGMER_DIST, in a child mage so
// that this process's environment stays as it is.
func vmBuildOld(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "tool", "mage", "package")
	cmd.Env = append(os.Environ(), "STIGMER_VERSION="+vmOldVersion, "STIGMER_DIST="+dir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the %s packages for the upgrade scenarios into %s: %w", vmOldVersion, dir, err)
	}
	return nil
}

// vmDistDir is where the package target wrote the current packages.
func vmDistDir() string {
	if d := os.Getenv("STIGMER_DIST"); d != "" {
		return d
	}
	return "dist"
}

// vmCacheDir is the VM image cache: STIGMER_VM_CACHE, else the user cache
// dir, outside the repository so that a fresh clone reuses it.
func vmCacheDir() (string, error) {
	if d := os.Getenv("STIGMER_VM_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir for the VM images (set STIGMER_VM_CACHE): %w", err)
	}
	return filepath.Join(base, "stigmer", "vm"), nil
}
