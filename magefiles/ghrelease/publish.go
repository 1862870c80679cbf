package ghrelease

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// NewRelease is what Publish makes.
type NewRelease struct {
	Tag        string   // the existing tag to release
	Name       string   // the release's title
	Notes      string   // its body (Markdown)
	Prerelease bool     // marked as a pre-release
	Files      []string // the assets, uploaded under their base names
}

// Publish creates the release as a draft, uploads every file, then
// publishes it, so that no one sees a release with half its assets. A
// draft of the same tag left by an earlier, failed run is deleted first; a
// published release of the tag is an error (a version is released once).
func (c *Client) Publish(ctx context.Context, n NewRelease) (Release, error) {
	rels, err := c.Releases(ctx)
	if err != nil {
		return Release{}, err
	}
	for _, r := range rels {
		if r.TagName != n.Tag {
			continue
		}
		if !r.Draft {
			return Release{}, fmt.Errorf("%s is released already (%s): a version is released once; tag a new version", n.Tag, r.HTMLURL)
		}
		fmt.Fprintf(c.log(), "deleting the draft of %s an earlier run left (%d assets)\n", n.Tag, len(r.Assets))
		if err := c.deleteRelease(ctx, r); err != nil {
			return Release{}, err
		}
	}
	var draft Release
	body := map[string]any{"tag_name": n.Tag, "name": n.Name, "body": n.Notes, "draft": true, "prerelease": n.Prerelease}
	if err := c.sendJSON(ctx, "creating the release "+n.Tag, http.MethodPost, c.repoURL("/releases"), body, &draft); err != nil {
		return Release{}, err
	}
	for _, f := range n.Files {
		if err := c.upload(ctx, draft, f); err != nil {
			return Release{}, fmt.Errorf("%w; the draft %s stays for a look, and the next run replaces it", err, n.Tag)
		}
	}
	var published Release
	if err := c.sendJSON(ctx, "publishing the release "+n.Tag, http.MethodPatch, c.repoURL(fmt.Sprintf("/releases/%d", draft.ID)), map[string]any{"draft": false}, &published); err != nil {
		return Release{}, err
	}
	fmt.Fprintf(c.log(), "released %s with %d assets: %s\n", n.Tag, len(n.Files), published.HTMLURL)
	return published, nil
}

// upload sends the file as an asset of r, to the address the API gave for
// it (its {?name,label} template dropped).
func (c *Client) upload(ctx context.Context, r Release, file string) error {
	name := filepath.Base(file)
	base, _, _ := strings.Cut(r.UploadURL, "{")
	target := base + "?name=" + url.QueryEscape(name)
	info, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	resp, err := c.do(ctx, "uploading "+name, func() (*http.Request, error) {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodPost, target, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		req.ContentLength = info.Size()
		req.Header.Set("Content-Type", "application/octet-stream")
		return req, nil
	})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func (c *Client) deleteRelease(ctx context.Context, r Release) error {
	resp, err := c.do(ctx, "deleting the draft "+r.TagName, func() (*http.Request, error) {
		return http.NewRequest(http.MethodDelete, c.repoURL(fmt.Sprintf("/releases/%d", r.ID)), nil)
	})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
