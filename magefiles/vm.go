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
	"github.com/stigmer/stigmer/magefiles/rehearsal"
	"github.com/stigmer/stigmer/magefiles/repo"
)

// VM groups the VM test: the packages installed and run under real systemd in QEMU guests (scripts/vm).
type VM mg.Namespace

// vmGuests are the guests VM.All boots, in order: those of scripts/vm/guests
// this machine can boot without network, with Debian 12 on the cloud path.
const vmGuests = "deb12-cloud deb11 rpm12 deb13"

// All runs the VM test on the guests built from Debian's packages: it installs, restarts, upgrades and removes the packages under real systemd and prints a row per check.
//
// The rows and the guests are in scripts/vm/README.md; deb12 runs there
// through cloud-init, as the published cloud images do in the distros
// workflow. VM.Run picks guests.
func (VM) All(ctx context.Context) error {
	return VM{}.Run(ctx, vmGuests)
}

// Run runs the VM test on the guests named in guests (scripts/vm/guests: "deb13", "deb12-cloud rpm12", "ubuntu2004"); its report and logs go to dist/vm.
//
// It builds the packages (the package target), the older build the chroot
// test uses too (dist/.old), the rpm guest's stand-in for a RHEL base
// (dist/.standin) and the signed repositories to install from
// (dist/.vmrepo, vmRepos), takes the site of the release rehearsal of HEAD
// (vmRehearsal: Release.Rehearse plays it when dist/rehearsal holds
// another), then runs scripts/vm/vmtest.sh (which prints how to get a
// shell in a kept guest). STIGMER_VM_CACHE moves the image cache;
// STIGMER_VM_KEEP=1 keeps the guests' disks and logs for a shell. A
// guest with a downloaded image needs network, and KVM to finish in time.
func (VM) Run(ctx context.Context, guests string) error {
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
	if err := vmRehearsal(ctx, b, filepath.Join(repos, "rehearsal")); err != nil {
		return fmt.Errorf("giving the VM test the release rehearsal's site: %w", err)
	}
	fakes, err := fakeAlertSinks(ctx, b)
	if err != nil {
		return err
	}
	keep := os.Getenv("STIGMER_VM_KEEP") == "1"
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
	args := []string{"scripts/vm/vmtest.sh", "-s", standIn, "-r", repos, "-a", fakes, "-o", filepath.Join(dist, "vm")}
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

// vmRehearsal puts the site the release rehearsal deployed where the
// guests serve it from (dir, beside the repository trees; guest/lib/
// rehearsal.sh reads it): each of the first two published tags' Pages
// site as it deployed it (vX.Y.Z/), the first tag's README blocks with
// REPO pointed at the guests' copy (NAME.sh) and rehearsal.env (FIRST and
// NEXT, the two releases; FIRST_KEY and NEXT_KEY, the fingerprints of the
// keys that sign them, as each tag's README checks them).
func vmRehearsal(ctx context.Context, b *pkgbuild.Build, dir string) error {
	out, err := rehearsalOfHead(ctx, b)
	if err != nil {
		return err
	}
	tags := rehearsal.Published()
	if len(tags) < 2 {
		return fmt.Errorf("the rehearsal publishes %v: the VM test wants a release and the next", tags)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var env strings.Builder
	for i, tag := range tags[:2] {
		fpr, err := copyRehearsedSite(ctx, out, tag, dir, i == 0)
		if err != nil {
			return fmt.Errorf("the rehearsal's %s: %w", tag, err)
		}
		name := [2]string{"FIRST", "NEXT"}[i]
		fmt.Fprintf(&env, "%s=%s\n%s_KEY=%s\n", name, strings.TrimPrefix(tag, "v"), name, fpr)
	}
	return os.WriteFile(filepath.Join(dir, "rehearsal.env"), []byte(env.String()), 0o644)
}

// rehearsalOfHead is the output directory of the release rehearsal of
// HEAD: dist/rehearsal as go tool mage test has just played it, else
// played now by Release.Rehearse (committed code only, as always).
func rehearsalOfHead(ctx context.Context, b *pkgbuild.Build) (string, error) {
	out := rehearsal.Out(b.Root, os.Getenv)
	played, err := rehearsal.Played(ctx, out)
	if err != nil || played == b.Commit {
		return out, err
	}
	fmt.Printf("the release rehearsal in %s is not of HEAD (%s): playing it\n", out, b.Commit)
	mg.CtxDeps(ctx, Release.Rehearse)
	if played, err = rehearsal.Played(ctx, out); err != nil {
		return "", err
	}
	if played != b.Commit {
		return "", fmt.Errorf("the release rehearsal in %s is of %q after Release.Rehearse, not of HEAD %s", out, played, b.Commit)
	}
	return out, nil
}

// copyRehearsedSite copies the site the rehearsal in out deployed for tag
// into dir/tag and, with blocks, writes the README blocks of tag into dir;
// it returns the fingerprint tag's README checks.
func copyRehearsedSite(ctx context.Context, out, tag, dir string, blocks bool) (string, error) {
	if msg, err := exec.CommandContext(ctx, "cp", "-a", rehearsal.SiteOf(out, tag), filepath.Join(dir, tag)).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying its site: %w: %s", err, msg)
	}
	readme, err := rehearsal.FileAt(ctx, out, tag, "README.md")
	if err != nil {
		return "", err
	}
	fpr, err := repo.ReadmeFingerprint(readme)
	if err != nil || !blocks {
		return fpr, err
	}
	found, err := repo.Readme(readme, rehearsal.ServeAt, fpr)
	if err != nil {
		return "", err
	}
	for name, block := range found {
		if err := os.WriteFile(filepath.Join(dir, name+".sh"), []byte(block), 0o644); err != nil {
			return "", err
		}
	}
	return fpr, nil
}
