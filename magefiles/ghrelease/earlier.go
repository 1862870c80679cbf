package ghrelease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DownloadEarlier downloads into dir/TAG/ the assets that want accepts of
// every published release (no draft, no pre-release) but the one of tag
// except, and returns their paths. A release with no such asset is
// skipped and said so (deleting the assets of an old release is how it
// leaves the repository); but when the API lists earlier releases and not
// one has such an asset, something is wrong with the listing or with want,
// and that is an error: a repository of this release alone would drop every
// older version without a word. An asset the API lists but does not serve
// is an error that names it.
func (c *Client) DownloadEarlier(ctx context.Context, except, dir string, want func(name string) bool) ([]string, error) {
	rels, err := c.Releases(ctx)
	if err != nil {
		return nil, err
	}
	var files []string
	listed, skipped := 0, 0
	for _, r := range rels {
		switch {
		case r.Draft, r.Prerelease, r.TagName == except:
			continue
		}
		listed++
		var assets []Asset
		for _, a := range r.Assets {
			if want(a.Name) {
				assets = append(assets, a)
			}
		}
		if len(assets) == 0 {
			fmt.Fprintf(c.log(), "release %s has no package assets: not in the repository\n", r.TagName)
			skipped++
			continue
		}
		for _, a := range assets {
			f, err := c.DownloadTo(ctx, a, filepath.Join(dir, r.TagName))
			if errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("release %s lists the asset %s, but GitHub does not serve it: %w; re-upload it from that release's build or delete it from the release", r.TagName, a.Name, err)
			}
			if err != nil {
				return nil, fmt.Errorf("release %s: %w", r.TagName, err)
			}
			files = append(files, f)
		}
	}
	if listed > 0 && listed == skipped {
		return nil, fmt.Errorf("GitHub lists %d earlier releases of %s but none has a package asset: the new repository would hold this release alone; check the releases' assets", listed, c.Repo)
	}
	fmt.Fprintf(c.log(), "downloaded %d package assets of %d earlier releases (%d without packages) into %s\n", len(files), listed-skipped, skipped, dir)
	return files, nil
}

// DownloadTo downloads a into dir under its name, through a temporary file
// so that a failed download leaves nothing under the name.
func (c *Client) DownloadTo(ctx context.Context, a Asset, dir string) (string, error) {
	if filepath.Base(a.Name) != a.Name || a.Name == "." || a.Name == ".." {
		return "", fmt.Errorf("asset name %q is not a file name", a.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := c.Download(ctx, a, f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, a.Name)
	return dst, os.Rename(f.Name(), dst)
}
