package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stigmer/stigmer/magefiles/ghrelease"
)

// GitHub is the client of this release's repository on GitHub's API; it
// fails when a published release lacks what the API needs.
func (p *Plan) GitHub() (*ghrelease.Client, error) {
	if p.Repository == "" || !strings.Contains(p.Repository, "/") {
		return nil, fmt.Errorf("%s=%q is not owner/name: Actions sets it; set it by hand elsewhere", EnvRepository, p.Repository)
	}
	return &ghrelease.Client{API: p.API, Repo: p.Repository, Token: p.Token, Log: p.Log}, nil
}

// EarlierPackages returns the directory that holds the earlier releases'
// packages for the repository, "" for none. A published release downloads
// them through GitHub's API into EarlierDir (anew: a re-run must not keep
// a file the API no longer serves); a snapshot takes EnvRepoEarlier.
func (p *Plan) EarlierPackages(ctx context.Context) (string, error) {
	if p.Mode != Publish {
		return p.RepoEarlier, nil
	}
	if p.RepoEarlier != "" {
		return "", fmt.Errorf("%s is set, but a published release takes the earlier releases from GitHub itself; unset it", EnvRepoEarlier)
	}
	gh, err := p.GitHub()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(p.Root, EarlierDir)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clearing %s: %w", EarlierDir, err)
	}
	// Made even when empty: the first release has no earlier one.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", EarlierDir, err)
	}
	if _, err := gh.DownloadEarlier(ctx, p.Tag, dir, IsPackage); err != nil {
		return "", fmt.Errorf("downloading the earlier releases' packages for the repository: %w", err)
	}
	return dir, nil
}

// IsPackage says whether a release asset is a package the repository
// serves: a .deb or an .rpm.
func IsPackage(name string) bool {
	return strings.HasSuffix(name, ".deb") || strings.HasSuffix(name, ".rpm")
}
