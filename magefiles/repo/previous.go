package repo

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Site is a repository as clients see it: the files under its root.
// ReadFile returns an error wrapping fs.ErrNotExist for a missing file.
type Site interface {
	ReadFile(ctx context.Context, name string) ([]byte, error)
	String() string
}

// OpenSite returns the site at location: an http(s) URL, a file: URL or a
// directory; "" gives nil (no site).
func OpenSite(location string) (Site, error) {
	switch {
	case location == "":
		return nil, nil
	case strings.HasPrefix(location, "https://"), strings.HasPrefix(location, "http://"):
		return httpSite{base: strings.TrimSuffix(location, "/"), client: &http.Client{Timeout: 2 * time.Minute}}, nil
	case strings.HasPrefix(location, "file://"):
		return dirSite(strings.TrimPrefix(location, "file://")), nil
	case filepath.IsAbs(location):
		return dirSite(location), nil
	}
	return nil, fmt.Errorf("published repository %q is neither an http(s) or file: URL nor an absolute directory", location)
}

// dirSite is a site on disk.
type dirSite string

func (d dirSite) ReadFile(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(name)))
}

func (d dirSite) String() string { return string(d) }

// httpSite is a site served over HTTP, as GitHub Pages serves the tree.
type httpSite struct {
	base   string
	client *http.Client
}

func (h httpSite) ReadFile(ctx context.Context, name string) ([]byte, error) {
	url := h.base + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("fetching %s: %s: %w", url, resp.Status, fs.ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", url, err)
	}
	return data, nil
}

func (h httpSite) String() string { return h.base }

// keepPrevious copies the index files that the published tree's Release
// and repomd.xml list into the new tree at root: apt's under by-hash (every
// hash), dnf's under their own hash-named paths in repodata/. A client
// that read the previous InRelease or repomd.xml just before the new tree
// went up (GitHub Pages caches for minutes) then still finds every index
// it asks for. Only that one generation is kept: the previous tree's own
// by-hash copies of older ones are not carried on. A site with no Release
// yet (the first release) has nothing to keep.
func keepPrevious(ctx context.Context, root string, o Options) error {
	if o.Published == nil {
		return nil
	}
	rel, err := o.Published.ReadFile(ctx, "dists/"+Suite+"/Release")
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(o.Log, "no repository published at %s yet: no previous generation to keep\n", o.Published)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the published repository's Release: %w", err)
	}
	kept, err := keepPreviousApt(ctx, root, rel, o)
	if err != nil {
		return err
	}
	n, err := keepPreviousDnf(ctx, root, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Log, "kept the previous generation from %s: %d apt indexes (by-hash), %d dnf metadata files\n", o.Published, kept, n)
	return nil
}

// keepPreviousApt writes each index the previous Release lists under the
// new tree's by-hash directories, after checking its size and every sum.
func keepPreviousApt(ctx context.Context, root string, rel []byte, o Options) (int, error) {
	entries, _, err := parseRelease(rel)
	if err != nil {
		return 0, fmt.Errorf("reading the published Release: %w", err)
	}
	suite := "dists/" + Suite
	kept := 0
	for _, e := range entries {
		data, err := fetchListed(ctx, o.Published, suite, e)
		if err != nil {
			return kept, err
		}
		if data == nil {
			fmt.Fprintf(o.Log, "the published Release lists %s/%s, which the site does not serve: not kept\n", suite, e.path)
			continue
		}
		dir := filepath.Join(root, filepath.FromSlash(suite), filepath.FromSlash(path.Dir(e.path)))
		if err := writeByHash(dir, data, o.Date); err != nil {
			return kept, err
		}
		kept++
	}
	return kept, nil
}

// fetchListed reads the file e of a Release under suite, by one of its
// by-hash names first, else by its name, and checks it against every sum
// listed. It returns nil, nil when the site has neither.
func fetchListed(ctx context.Context, site Site, suite string, e releaseEntry) ([]byte, error) {
	var names []string
	for _, h := range byHash {
		if sum, ok := e.sums[h.name]; ok {
			names = append(names, path.Join(suite, path.Dir(e.path), "by-hash", h.name, sum))
		}
	}
	names = append(names, path.Join(suite, e.path))
	for _, name := range names {
		data, err := site.ReadFile(ctx, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := checkListed(e, data); err != nil {
			return nil, fmt.Errorf("the published %s: %w", name, err)
		}
		return data, nil
	}
	return nil, nil
}

// checkListed checks data against e's size and every sum Release gives
// for it that this package can compute.
func checkListed(e releaseEntry, data []byte) error {
	if int64(len(data)) != e.size {
		return fmt.Errorf("%d bytes, Release says %d", len(data), e.size)
	}
	for _, h := range byHash {
		if want, ok := e.sums[h.name]; ok && h.sum(data) != want {
			return fmt.Errorf("%s %s, Release says %s", h.name, h.sum(data), want)
		}
	}
	return nil
}

// repomd is what keepPreviousDnf reads of a repomd.xml.
type repomd struct {
	Data []struct {
		Type     string `xml:"type,attr"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

// keepPreviousDnf copies the metadata files the published repomd.xml
// lists into the new repodata/, where createrepo_c's hash-prefixed names
// keep them apart from the new ones. It returns how many it kept.
func keepPreviousDnf(ctx context.Context, root string, o Options) (int, error) {
	data, err := o.Published.ReadFile(ctx, "repodata/repomd.xml")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the published repomd.xml: %w", err)
	}
	var md repomd
	if err := xml.Unmarshal(data, &md); err != nil {
		return 0, fmt.Errorf("reading the published repomd.xml: %w", err)
	}
	kept := 0
	for _, d := range md.Data {
		href := path.Clean(d.Location.Href)
		if !strings.HasPrefix(href, "repodata/") || strings.Contains(href, "..") {
			return kept, fmt.Errorf("the published repomd.xml lists %q, outside repodata/", d.Location.Href)
		}
		dst := filepath.Join(root, filepath.FromSlash(href))
		if _, err := os.Stat(dst); err == nil {
			continue // the same file again: this release's metadata has it
		}
		body, err := o.Published.ReadFile(ctx, href)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(o.Log, "the published repomd.xml lists %s, which the site does not serve: not kept\n", href)
			continue
		}
		if err != nil {
			return kept, err
		}
		if d.Checksum.Type != "sha256" || byHash[0].sum(body) != strings.TrimSpace(d.Checksum.Value) {
			return kept, fmt.Errorf("the published %s does not match the %s sum its repomd.xml gives", href, d.Checksum.Type)
		}
		if err := writeFile(dst, body, o.Date); err != nil {
			return kept, err
		}
		kept++
	}
	return kept, nil
}
