//go:build mage

package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/magefile/mage/mg"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/vulncheck"
)

// Vuln checks for known vulnerabilities with govulncheck, in the module's source and in the binaries the packages ship.
//
// The database is govulncheck's default when it can be reached, else an
// offline copy made from the pinned golang.org/x/vulndb module; the output
// says which. A reachable vulnerability fails the check unless
// govulncheck-excused.json excuses it, with a reason and an expiry.
func (Test) Vuln(ctx context.Context) error {
	mg.CtxDeps(ctx, Pkg.All)
	b, err := newBuild(ctx, userOptions())
	if err != nil {
		return err
	}
	targets := []vulncheck.Target{vulnSource(b.Root)}
	return checkVulns(ctx, b.Root, append(targets, vulnBinaries(b)...)...)
}

// vulnSource is the whole module, with every build tag.
func vulnSource(root string) vulncheck.Target {
	return vulncheck.Source(root, allTags, "./...")
}

// vulnBinaries are the binaries the packages of b carry, one per arch.
func vulnBinaries(b *pkgbuild.Build) []vulncheck.Target {
	var targets []vulncheck.Target
	for _, arch := range pkgbuild.Arches {
		targets = append(targets, vulncheck.Binary(b.Root, b.ArchBinary(arch)))
	}
	return targets
}

// checkVulns runs govulncheck on targets against the database it can
// reach, with the repository's excusals.
func checkVulns(ctx context.Context, root string, targets ...vulncheck.Target) error {
	cache, err := vulncheck.CacheDir()
	if err != nil {
		return err
	}
	db, err := vulncheck.Choose(ctx, cache)
	if err != nil {
		return err
	}
	excused, err := vulncheck.ReadExcusals(filepath.Join(root, vulncheck.ExcusedFile), time.Now())
	if err != nil {
		return err
	}
	return vulncheck.Check(ctx, os.Stdout, root, db, excused, targets...)
}

// Rescan checks the binaries of the newest published release for known vulnerabilities against today's database: the weekly scan of the release-scan workflow.
//
// It finds the release through GitHub's API (GITHUB_REPOSITORY,
// GITHUB_TOKEN, GITHUB_API_URL as Actions sets them), checks its Linux
// archives against its checksums.txt, and scans the binaries in them. A
// finding fails the run with the entry, the module and the fixed version;
// it opens nothing and publishes nothing: the fix is a new release.
func (Release) Rescan(ctx context.Context) error {
	plan, err := newPlan(ctx)
	if err != nil {
		return err
	}
	defer plan.Close()
	_, bins, err := plan.LatestBinaries(ctx)
	if err != nil {
		return err
	}
	var targets []vulncheck.Target
	for _, bin := range bins {
		targets = append(targets, vulncheck.Binary(plan.Root, bin))
	}
	return checkVulns(ctx, plan.Root, targets...)
}
