//go:build mage

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// repoRoot is the repository mage runs in (mage runs in its root).
func repoRoot() (string, error) {
	root, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	return root, nil
}

// userOptions reads the user's overrides from the environment, the one
// place the build reads them: STIGMER_VERSION (the version, instead of git
// describe) and STIGMER_DIST (the output directory, instead of dist/).
func userOptions() pkgbuild.Options {
	return pkgbuild.Options{Version: os.Getenv("STIGMER_VERSION"), Dist: os.Getenv("STIGMER_DIST")}
}

// newBuild reads the repository with opts.
func newBuild(ctx context.Context, opts pkgbuild.Options) (*pkgbuild.Build, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	return pkgbuild.New(ctx, root, os.Stdout, opts)
}

// olderVersion stamps the older build that the upgrade tests (chroot and
// VM) start from: the current source under a version that dpkg, rpm and
// semver all order before any snapshot (0.0.0-git.N.gHASH with N >= 1) and
// any release.
const olderVersion = "0.0.0-git.0.g0000000"

// olderOptions are the options of the older build that the upgrade tests
// start from, into dist: this commit stamped olderVersion, shipping another
// default env file (pkgbuild.OlderEnv), so that the upgrade meets dpkg's and
// rpm's conffile choice, and the .deb's unit in /lib/systemd/system, as debs
// had it before the move to /usr/lib, so that the upgrade moves it.
func olderOptions(dist string) pkgbuild.Options {
	return pkgbuild.Options{Version: olderVersion, Dist: dist, OlderEnvFile: true, OlderUnitDir: true}
}

// olderPackages builds the older build (olderOptions) into dist/.old, in
// process, and returns the directory. The chroot and VM tests share it, so
// it is built once.
func olderPackages(ctx context.Context, cur *pkgbuild.Build) (string, error) {
	dir := filepath.Join(cur.Dist, ".old")
	b, err := pkgbuild.New(ctx, cur.Root, cur.Log, olderOptions(dir))
	if err == nil {
		fmt.Printf("stigmer %s into %s\n", b.Version, b.Dist)
		_, err = b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	}
	if err != nil {
		return "", fmt.Errorf("building the %s packages for the upgrade tests into %s: %w", olderVersion, dir, err)
	}
	return dir, nil
}

// darwinArches are the macOS platforms the module must build for:
// developers run the dev server on their Macs, and the release ships
// darwin archives.
var darwinArches = []string{"amd64", "arm64"}

// checkDarwin builds and vets the whole module for each darwin arch, so
// that Linux-only code outside _linux.go files fails the Go checks here
// rather than on a developer's Mac.
func checkDarwin(ctx context.Context) error {
	for _, arch := range darwinArches {
		env := map[string]string{"GOOS": "darwin", "GOARCH": arch, "CGO_ENABLED": "0"}
		for _, step := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
			if err := sh.RunWithV(env, "go", step...); err != nil {
				return fmt.Errorf("checking darwin/%s with go %s: %w", arch, step[0], err)
			}
		}
	}
	return nil
}

// allTags are the build tags that hide files from a plain build: the
// magefiles' root package (mage) and the suites that need built packages
// (pkgcheck, releasecheck). Vet and staticcheck read them too.
const allTags = "mage,pkgcheck,releasecheck"

// staticcheck runs go vet and the pinned staticcheck (a go.mod tool) over
// the module with every build tag, so that unused code, like a helper nobody
// calls, fails the checks wherever it lives.
func staticcheck() error {
	for _, args := range [][]string{
		{"vet", "-tags", allTags, "./..."},
		{"tool", "staticcheck", "-tags", allTags, "./..."},
	} {
		if err := sh.RunV("go", args...); err != nil {
			return fmt.Errorf("running go %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// tool is a command a check runs and the Debian package that has it.
type tool struct{ cmd, pkg string }

// installTools runs apt-get install for the packages whose command is not on
// PATH; with all present it does nothing, so a second run installs nothing.
func installTools(ctx context.Context, tools []tool) error {
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
