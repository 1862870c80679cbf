package release

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/stigmer/stigmer/magefiles/ghrelease"
)

// RescanDir is where Rescan keeps what it downloads, under the tag.
const RescanDir = "dist/rescan"

// linuxArchive matches the release's Linux archives, whose binary is the
// packages' one (the release tests check that they are the same bytes).
var linuxArchive = regexp.MustCompile(`^stigmer_[^_]+_linux_([a-z0-9]+)\.tar\.gz$`)

// LatestBinaries downloads the Linux archives and checksums.txt of the
// newest published release (no draft, no pre-release: what hosts run)
// into RescanDir/TAG, checks each archive against checksums.txt, and
// extracts its stigmer binary to RescanDir/TAG/linux_ARCH/stigmer. It
// returns the tag and the binaries' paths.
func (p *Plan) LatestBinaries(ctx context.Context) (string, []string, error) {
	gh, err := p.GitHub()
	if err != nil {
		return "", nil, err
	}
	rels, err := gh.Releases(ctx)
	if err != nil {
		return "", nil, err
	}
	var latest *ghrelease.Release
	for i, r := range rels {
		if !r.Draft && !r.Prerelease {
			latest = &rels[i]
			break
		}
	}
	if latest == nil {
		return "", nil, fmt.Errorf("%s has no published release (drafts and pre-releases aside): nothing to re-scan", p.Repository)
	}
	dir := filepath.Join(p.Root, RescanDir, latest.TagName)
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	var sums string
	archives := map[string]string{} // arch: downloaded archive
	for _, a := range latest.Assets {
		m := linuxArchive.FindStringSubmatch(a.Name)
		if a.Name != "checksums.txt" && m == nil {
			continue
		}
		f, err := gh.DownloadTo(ctx, a, dir)
		if err != nil {
			return "", nil, fmt.Errorf("release %s: %w", latest.TagName, err)
		}
		if m == nil {
			sums = f
		} else {
			archives[m[1]] = f
		}
	}
	if sums == "" || len(archives) == 0 {
		return "", nil, fmt.Errorf("release %s has no checksums.txt or no Linux archive (stigmer_VERSION_linux_ARCH.tar.gz) among its assets", latest.TagName)
	}
	want, err := readChecksums(sums)
	if err != nil {
		return "", nil, err
	}
	var bins []string
	for _, arch := range slices.Sorted(maps.Keys(archives)) {
		archive := archives[arch]
		if err := checkSum(archive, want); err != nil {
			return "", nil, fmt.Errorf("release %s: %w", latest.TagName, err)
		}
		bin := filepath.Join(dir, "linux_"+arch, "stigmer")
		if err := extractBinary(archive, bin); err != nil {
			return "", nil, fmt.Errorf("release %s: %w", latest.TagName, err)
		}
		bins = append(bins, bin)
	}
	fmt.Fprintf(p.Log, "re-scanning release %s: %d Linux binaries from %s\n", latest.TagName, len(bins), latest.HTMLURL)
	return latest.TagName, bins, nil
}

// readChecksums reads a sha256sum listing: name -> hex digest.
func readChecksums(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if ok {
			sums[name] = sum
		}
	}
	return sums, sc.Err()
}

// checkSum checks file against its line in sums.
func checkSum(file string, sums map[string]string) error {
	name := filepath.Base(file)
	want, ok := sums[name]
	if !ok {
		return fmt.Errorf("checksums.txt does not list %s", name)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s has SHA-256 %s, checksums.txt says %s: the asset was replaced after the release", name, got, want)
	}
	return nil
}

// extractBinary writes the archive's stigmer (at its top or in the one
// directory GoReleaser wraps it in) to out.
func extractBinary(archive, out string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("reading %s: %w", filepath.Base(archive), err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s holds no stigmer binary", filepath.Base(archive))
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Base(archive), err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.Base(name) != "stigmer" || strings.Count(name, "/") > 1 {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, tr); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}
}
