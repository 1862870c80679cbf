package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// Check groups the test suites that Test runs.
type Check mg.Namespace

// Go runs the Go tests of the whole module (go test ./...).
func (Check) Go(ctx context.Context) error {
	return sh.RunV("go", "test", "./...")
}

// Tools installs with apt-get the tools the package checks need, if missing.
func (Check) Tools(ctx context.Context) error {
	return installTools(ctx, checkTools)
}

// Packages checks the built packages: contents, lintian, rpmlint, scripts, unit, chroot lifecycle.
func (Check) Packages(ctx context.Context) error {
	mg.CtxDeps(ctx, Package, Check.Tools)
	b, err := newBuild(ctx)
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
var checkTools = []struct{ cmd, pkg string }{
	{"lintian", "lintian"},
	{"rpmlint", "rpmlint"},
	{"rpm", "rpm"},
	{"shellcheck", "shellcheck"},
	{"mmdebstrap", "mmdebstrap"},
	{"dash", "dash"},
	{"dpkg-deb", "dpkg"},
	{"systemd-analyze", "systemd"},
}

// installTools runs apt-get install for the packages whose command is not on
// PATH; with all present it does nothing, so a second run installs nothing.
func installTools(ctx context.Context, tools []struct{ cmd, pkg string }) error {
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.cmd); err != nil {
			missing = append(missing, t.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Printf("installing %v with apt-get\n", missing)
	env := map[string]string{"DEBIAN_FRONTEND": "noninteractive"}
	if err := sh.RunWithV(env, "apt-get", "update"); err != nil {
		return fmt.Errorf("running apt-get update (needs root): %w", err)
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if err := sh.RunWithV(env, "apt-get", args...); err != nil {
		return fmt.Errorf("installing %v (needs root): %w", missing, err)
	}
	return nil
}

// olderVersion stamps the older build that the upgrade tests (chroot and
// VM) start from: the current source under a version that dpkg, rpm and
// semver all order before any snapshot (0.0.0-git.N.gHASH with N >= 1) and
// any release.
const olderVersion = "0.0.0-git.0.g0000000"

// olderPackages builds this commit again as olderVersion into dist/.old,
// through the STIGMER_VERSION and STIGMER_DIST overrides, and returns the
// directory. The chroot and VM tests share it, so it is built once. It
// ships a different default env file (STIGMER_OLDER_ENV, see
// pkgbuild.OlderEnv), so that the upgrade tests meet the conffile choice.
func olderPackages(ctx context.Context, cur *pkgbuild.Build) (string, error) {
	dir := filepath.Join(cur.Dist, ".old")
	err := sh.RunWithV(map[string]string{
		"STIGMER_VERSION":   olderVersion,
		"STIGMER_DIST":      dir,
		"STIGMER_OLDER_ENV": "1",
	}, os.Args[0], "package")
	if err != nil {
		return "", fmt.Errorf("building the %s packages for the upgrade tests into %s: %w", olderVersion, dir, err)
	}
	return dir, nil
}
