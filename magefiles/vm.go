//go:build mage

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/magefile/mage/mg"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/repo"
)

// VM groups the VM test: the packages installed and run under real systemd in QEMU guests (scripts/vm).
type VM mg.Namespace

// vmGuests are the guests VM.All boots, in order.
const vmGuests = "deb12 deb11 rpm12"

// All runs the VM test on every guest: it installs, restarts, upgrades and removes the packages under real systemd and prints a row per check.
//
// The rows and the guests are in scripts/vm/README.md. VM.Run picks guests
// and keeps their disks and logs.
func (VM) All(ctx context.Context) error {
	return VM{}.Run(ctx, vmGuests, false)
}

// Run runs the VM test on the guests named in guests ("deb12 deb11 rpm12") and, with keep, keeps their disks and logs.
//
// It builds the packages (the package target), the older build the chroot
// test uses too (dist/.old), the rpm guest's stand-in for a RHEL base
// (dist/.standin) and the signed repositories to install from
// (dist/.vmrepo, vmRepos), then runs scripts/vm/vmtest.sh (which prints how to get
// a shell in a kept guest). STIGMER_VM_CACHE moves the image cache.
func (VM) Run(ctx context.Context, guests string, keep bool) error {
	mg.CtxDeps(ctx, Pkg.All)
	cache, err := vmCacheDir()
	if err != nil {
		return err
	}
	b, err := newBuild(ctx, userOptions())
	if err != nil {
		return err
	}
	old, err := olderPackages(ctx, b)
	if err != nil {
		return err
	}
	// The rpm guest's rpm database is empty (Debian's rpm tool): the
	// stand-in provides what the stigmer rpm requires, instead of --nodeps.
	standIn, err := b.StandIn(filepath.Join(b.Dist, ".standin"))
	if err != nil {
		return fmt.Errorf("building the rpm stand-in %s: %w", pkgbuild.StandInName, err)
	}
	repos, err := vmRepos(ctx, b)
	if err != nil {
		return fmt.Errorf("building the VM test's repositories: %w", err)
	}
	fakes, err := fakeAlertSinks(ctx, b)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "bash", vmtestArgs(standIn, repos, fakes, guests, keep, b.Dist, old)...)
	cmd.Env = append(os.Environ(), "STIGMER_VM_CACHE="+cache)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running the VM test (scripts/vm/vmtest.sh): %w", err)
	}
	return nil
}

// vmtestArgs is the command line of scripts/vm/vmtest.sh.
func vmtestArgs(standIn, repos, fakes, guests string, keep bool, dist, old string) []string {
	args := []string{"scripts/vm/vmtest.sh", "-s", standIn, "-r", repos, "-a", fakes}
	if keep {
		args = append(args, "-k")
	}
	if g := strings.TrimSpace(guests); g != "" {
		args = append(args, "-g", g)
	}
	return append(args, dist, old)
}

// fakeAlertSinks builds the alerts row's stand-in for a webhook receiver
// and a mail relay (scripts/vm/fake-alert-sinks), static, for the guest.
func fakeAlertSinks(ctx context.Context, b *pkgbuild.Build) (string, error) {
	out := filepath.Join(b.Dist, ".vmfakes", "fake-alert-sinks")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./scripts/vm/fake-alert-sinks")
	cmd.Dir = b.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the fake alert sinks: %w", err)
	}
	return out, nil
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

// vmRepos writes the trees the VM test installs and upgrades from, and the
// README blocks it runs, into dist/.vmrepo/trees (repo.TestTrees), and
// returns that directory. The older and the current build are built again,
// amd64 only and signed with a throwaway release key, since dnf's gpgcheck
// needs signed rpms, with their keyring packages; a second throwaway key
// signs the tree nobody trusts.
func vmRepos(ctx context.Context, cur *pkgbuild.Build) (string, error) {
	dir := filepath.Join(cur.Dist, ".vmrepo")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := installTools(ctx, repoTools()); err != nil {
		return "", err
	}
	const passphrase = "vm test release key"
	good, err := gpgkey.Generate(ctx, "Stigmer VM Test Release <vmtest@example.invalid>", passphrase, cur.Log)
	if err != nil {
		return "", err
	}
	defer good.Close()
	other, err := gpgkey.Generate(ctx, "Stigmer VM Test Other Key <other@example.invalid>", "", cur.Log)
	if err != nil {
		return "", err
	}
	defer other.Close()
	keyFile := filepath.Join(dir, "release-key.asc")
	if err := good.ExportSecret(ctx, keyFile); err != nil {
		return "", err
	}
	goodPub, err := good.Public(ctx, true)
	if err != nil {
		return "", err
	}
	var signed [2][]string
	for i, opts := range []pkgbuild.Options{olderOptions(""), {Version: cur.Version}} {
		opts.Dist = filepath.Join(dir, fmt.Sprint("packages-", i))
		opts.SignKey, opts.SignPassphrase = keyFile, passphrase
		b, err := pkgbuild.New(ctx, cur.Root, cur.Log, opts)
		if err != nil {
			return "", err
		}
		if signed[i], err = b.Packages(ctx, []string{"amd64"}, pkgbuild.Formats); err != nil {
			return "", err
		}
		keyring, err := keyringPackages(ctx, b, "file://"+repo.TestServeAt, good, [][]byte{goodPub})
		if err != nil {
			return "", err
		}
		signed[i] = append(signed[i], keyring...)
	}
	readme, err := os.ReadFile(filepath.Join(cur.Root, "README.md"))
	if err != nil {
		return "", err
	}
	trees := filepath.Join(dir, "trees")
	return trees, repo.TestTrees(ctx, trees, signed[0], signed[1], good, other, readme, cur.Date, cur.Log)
}
