//go:build mage

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/pkgsig"
	"github.com/stigmer/stigmer/magefiles/release"
	"github.com/stigmer/stigmer/magefiles/repo"
)

// Release groups the release and its checks.
type Release mg.Namespace

// Run builds the release: packages, archives, checksums, signatures, notes and the signed apt and dnf repository, into dist/; on a v* tag in CI with GITHUB_TOKEN as the release to publish, else as a snapshot.
//
// The .deb and .rpm come from packaging/nfpm.yaml through pkgbuild, as with
// the package target, into dist/release-packages; GoReleaser then builds the
// archives and checksums.txt and signs. STIGMER_SIGN_KEY_FILE (an armored
// OpenPGP private key; in CI, STIGMER_SIGN_KEY holding it) and
// STIGMER_SIGN_PASSPHRASE sign the packages, checksums.txt and the
// repository (dist/repo), which an unsigned snapshot has none of. A release
// to publish refuses a dirty tree and a missing key, and takes the earlier
// releases' packages from GitHub. Release.Publish uploads what it made.
func (Release) Run(ctx context.Context) error {
	return makeRelease(ctx, true)
}

// Publish creates the GitHub release of the tag at HEAD from what the release target made, through GitHub's API: a draft, every asset, then published.
func (Release) Publish(ctx context.Context) error {
	plan, err := newPlan(ctx)
	if err != nil {
		return err
	}
	defer plan.Close()
	_, err = plan.Publish(ctx)
	return err
}

// newPlan reads the release's plan from the repository and the user's
// environment; the caller closes it.
func newPlan(ctx context.Context) (*release.Plan, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	return release.New(ctx, root, release.ReadEnv(os.Getenv), os.Stdout)
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
// release and its notes, then the repository when there is a key to sign
// it with.
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
	plan, err := newPlan(ctx)
	if err != nil {
		return err
	}
	defer plan.Close()
	if plan.SignKey == "" && !withAssets {
		return fmt.Errorf("the repository needs a signing key: apt and dnf trust a repository only through its signature; set %s (docs/releasing.md)", release.EnvSignKey)
	}
	key, trusted, earlier, err := checkBeforeBuilding(ctx, plan)
	if key != nil {
		defer key.Close()
	}
	if err != nil {
		return err
	}
	var url string
	if key != nil {
		if url, err = plan.RepoLocation(ctx); err != nil {
			return err
		}
	}
	b, pkgs, err := buildPackages(ctx, plan, withAssets, url)
	if err != nil {
		return err
	}
	// The binaries as built, with this toolchain's standard library,
	// before any of them is published.
	if err := checkVulns(ctx, root, vulnBinaries(b)...); err != nil {
		return err
	}
	if key != nil {
		keyring, err := keyringPackages(ctx, b, url, key, trusted)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, keyring...)
	}
	if withAssets {
		if err := plan.Run(ctx, b, pkgs, key); err != nil {
			return err
		}
		if key != nil {
			fprs, err := key.Fingerprints(ctx, bytes.Join(trusted, []byte("\n")))
			if err != nil {
				return err
			}
			if err := plan.WriteNotes(ctx, b.Version, b.GoVersion, key.Fingerprint, fprs); err != nil {
				return err
			}
		}
	}
	if key == nil {
		return nil
	}
	if err := writeRepo(ctx, plan, b, pkgs, earlier, key, url); err != nil {
		return err
	}
	return plan.WriteOutputs(os.Getenv("GITHUB_OUTPUT"))
}

// checkBeforeBuilding runs, in order, the checks that must pass before
// anything is built or published, and returns the imported signing key
// (nil when unsigned; the caller closes it, also on error), the keys the
// repository trusts (trustedKeys) and the directory of the earlier
// releases' packages, each verified against them. A new check of the
// release's inputs belongs here.
func checkBeforeBuilding(ctx context.Context, plan *release.Plan) (*gpgkey.Home, [][]byte, string, error) {
	if err := plan.RequireKey(); err != nil {
		return nil, nil, "", err
	}
	key, err := importKey(ctx, plan)
	if err != nil || key == nil {
		return key, nil, plan.RepoEarlier, err
	}
	if plan.Mode == release.Publish {
		readme, err := os.ReadFile(filepath.Join(plan.Root, "README.md"))
		if err != nil {
			return key, nil, "", err
		}
		if err := repo.CheckReadmeFingerprint(readme, key.Fingerprint); err != nil {
			return key, nil, "", err
		}
	}
	trusted, err := trustedKeys(ctx, plan.Root, key)
	if err != nil {
		return key, nil, "", err
	}
	earlier, err := plan.EarlierPackages(ctx)
	if err != nil {
		return key, nil, "", err
	}
	return key, trusted, earlier, verifyEarlier(ctx, earlier, trusted)
}

// trustedKeys are the armored public keys the repository trusts: the
// signing key first, then those in packaging/keyring (the next key during
// a rotation, the previous one while its packages are offered).
func trustedKeys(ctx context.Context, root string, key *gpgkey.Home) ([][]byte, error) {
	pub, err := key.Public(ctx, true)
	if err != nil {
		return nil, err
	}
	extra, err := pkgbuild.KeyringKeys(root)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{pub}
	for _, k := range extra {
		fprs, err := key.Fingerprints(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("reading a key in %s: %w", pkgbuild.KeyringKeysDir, err)
		}
		if len(fprs) != 1 {
			return nil, fmt.Errorf("a file in %s holds %d keys, not one", pkgbuild.KeyringKeysDir, len(fprs))
		}
		if fprs[0] != key.Fingerprint {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// keyringPackages builds the signed keyring packages of this version,
// carrying the trusted keys and the sources of the tree at url.
func keyringPackages(ctx context.Context, b *pkgbuild.Build, url string, key *gpgkey.Home, trusted [][]byte) ([]string, error) {
	files := filepath.Join(b.Dist, ".keyring-files")
	if err := repo.KeyringFiles(ctx, files, url, key, trusted); err != nil {
		return nil, err
	}
	return b.KeyringPackages(files)
}

// buildPackages builds and signs the release's .deb and .rpm.
func buildPackages(ctx context.Context, plan *release.Plan, withAssets bool, url string) (*pkgbuild.Build, []string, error) {
	root := plan.Root
	opts := userOptions()
	opts.Dist = filepath.Join(root, release.PackageDir)
	opts.SignKey, opts.SignPassphrase = plan.SignKey, plan.SignPassphrase
	b, err := newBuild(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := plan.CheckVersion(b.Version); err != nil {
		return nil, nil, err
	}
	if withAssets {
		plan.Announce(b.Version)
	} else {
		fmt.Printf("repository of stigmer %s into %s, served at %s\n", b.Version, release.RepoDir, url)
	}
	if err := plan.ClearSigned(b.Dist); err != nil {
		return nil, nil, err
	}
	pkgs, err := b.Packages(ctx, pkgbuild.Arches, pkgbuild.Formats)
	return b, pkgs, err
}

// writeRepo writes the signed repository into dist/repo, keeping the
// published tree's indexes, and checks its size against the Pages limit.
func writeRepo(ctx context.Context, plan *release.Plan, b *pkgbuild.Build, pkgs []string, earlier string, key *gpgkey.Home, url string) error {
	published, err := repo.OpenSite(plan.PublishedLocation())
	if err != nil {
		return fmt.Errorf("reading %s: %w", release.EnvRepoPublished, err)
	}
	dir := filepath.Join(plan.Root, release.RepoDir)
	err = repo.Write(ctx, repo.Options{
		Dir: dir, URL: url, Packages: pkgs,
		Earlier: earlier, Published: published, Key: key, Date: b.Date, Log: os.Stdout,
	})
	if err != nil {
		return err
	}
	size, err := repo.CheckSize(dir)
	if err != nil {
		return err
	}
	fmt.Printf("the repository takes %d MB of GitHub Pages' %d MB\n", size/1_000_000, repo.PagesLimit/1_000_000)
	return nil
}

// importKey imports and checks the signing key the plan names: a key apt
// or rpm would refuse, or one that expires within a year, fails. It
// returns nil for an unsigned run.
func importKey(ctx context.Context, plan *release.Plan) (*gpgkey.Home, error) {
	if plan.SignKey == "" {
		return nil, nil
	}
	key, err := gpgkey.Import(ctx, plan.SignKey, plan.SignPassphrase, os.Stdout)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", release.EnvSignKey, err)
	}
	if err := key.Check(ctx); err != nil {
		key.Close()
		return nil, err
	}
	return key, nil
}

// verifyEarlier checks every earlier package in dir against the trusted
// keys before it can enter the repository: a replaced asset on an old
// release would otherwise be listed in the next signed InRelease. Any
// failure stops the release, naming each file.
func verifyEarlier(ctx context.Context, dir string, trusted [][]byte) error {
	pkgs, err := repo.FindPackages(dir)
	if err != nil || len(pkgs) == 0 {
		return err
	}
	v, err := pkgsig.New(ctx, trusted)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := v.VerifyAll(ctx, pkgs); err != nil {
		return fmt.Errorf("the earlier releases' packages in %s must be signed by the release key, so nothing is built or published: %w\nrestore each from the build of its release (or delete it from that GitHub release), then re-run", dir, err)
	}
	fmt.Printf("the %d earlier packages in %s are signed by the release keys\n", len(pkgs), dir)
	return nil
}

// repoTools are the commands Release.Repo runs, with their Debian packages.
func repoTools() []tool {
	var tools []tool
	for _, t := range append(append([][2]string{}, repo.Tools...), pkgsig.Tools...) {
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

// Rehearse plays v1.0.0, v1.1.0 and v1.2.0-rc.1 through the release workflow's steps offline, against a stand-in of GitHub's API, into dist/rehearsal, then checks the outcome with apt, dnf and a tampered asset.
//
// It runs the tests of magefiles/rehearsal (build tag rehearsal), which
// play the tags once in a scratch clone of HEAD: committed code only.
// dist/rehearsal keeps what each tag released (releases/TAG), each Pages
// artifact (artifacts/TAG) and the deployed site (pages/).
func (Release) Rehearse(ctx context.Context) error {
	if err := installTools(ctx, append(append(repoTools(), releaseTools...), tool{"dnf", "dnf"}, tool{"rpm2archive", "rpm2cpio"})); err != nil {
		return err
	}
	return sh.RunV("go", "test", "-count=1", "-v", "-tags", "rehearsal", "-timeout", "30m", "./magefiles/rehearsal")
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
