package repo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/release"
)

// The tree's layout, relative to its root. apt and dnf share one pool: the
// .deb and .rpm of a release sit side by side, apt's indexes under dists/,
// dnf's under repodata/.
const (
	Suite       = "stable"
	Component   = "main"
	Pool        = "pool/main/s/stigmer"
	AptKeyring  = "stigmer-archive-keyring.gpg" // binary public key, for Signed-By
	DnfKey      = "stigmer-archive-keyring.asc" // armored public key, for rpm
	SourcesFile = "stigmer.sources"             // apt's deb822 source
	RepoFile    = "stigmer.repo"                // dnf's repository file
	// KeyringPath is where the README has operators put AptKeyring, and so
	// what SourcesFile's Signed-By names.
	KeyringPath = "/usr/share/keyrings/" + AptKeyring
	// DnfKeyPath is where the README has operators put DnfKey, and so what
	// RepoFile's gpgkey= names. A local file, not a URL on the server: dnf
	// -y imports whatever key gpgkey= names when a package's key is not
	// yet trusted, so a server that swapped the key file would be believed.
	DnfKeyPath = "/etc/pki/rpm-gpg/RPM-GPG-KEY-stigmer"
)

// Tools maps the commands Write runs to the Debian packages that have them.
var Tools = [][2]string{{"apt-ftparchive", "apt-utils"}, {"createrepo_c", "createrepo-c"}, {"gpg", "gpg"}}

// Options is what Write makes a tree of.
type Options struct {
	Dir      string   // the tree to write; replaced as a whole when Write succeeds
	URL      string   // where the tree is served (https://..., file:///...), for SourcesFile and RepoFile
	Packages []string // this release's .deb and .rpm files
	Earlier  string   // earlier releases' packages: a directory searched recursively (their assets, or the previous tree); "" for none
	// Published is the tree clients read now (the last release's), whose
	// indexes the new tree keeps (keepPrevious); nil for none.
	Published Site
	Key       *gpgkey.Home // signs InRelease, Release.gpg and repomd.xml.asc
	Date      time.Time    // Release's Date, repomd.xml's timestamps, the pool files' mtimes
	Log       io.Writer
}

// Write writes the signed tree: the pool with the packages of this release
// and every earlier one, apt's and dnf's signed indexes, the public key in
// both forms, and the two files an operator adds. It refuses a key that RHEL
// 8's rpm or current apt would refuse, and an earlier package whose name is
// taken by a different file.
func Write(ctx context.Context, o Options) error {
	start := time.Now()
	if o.Key == nil {
		return fmt.Errorf("no signing key for the repository in %s: apt and dnf trust a repository only through its signature", o.Dir)
	}
	if err := o.Key.Check(ctx); err != nil {
		return err
	}
	tmp := strings.TrimSuffix(o.Dir, "/") + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("clearing %s: %w", tmp, err)
	}
	pool, err := fillPool(tmp, o)
	if err != nil {
		return err
	}
	steps := []func(context.Context, string, Options) error{writeApt, writeDnf, keepPrevious, writeOperatorFiles}
	for _, step := range steps {
		if err := step(ctx, tmp, o); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		return fmt.Errorf("replacing %s: %w", o.Dir, err)
	}
	if err := os.Rename(tmp, o.Dir); err != nil {
		return fmt.Errorf("replacing %s: %w", o.Dir, err)
	}
	fmt.Fprintf(o.Log, "repository of %d packages signed by %s written in %s: %s\n", len(pool), o.Key.Fingerprint, time.Since(start).Round(time.Millisecond), o.Dir)
	return nil
}

// fillPool copies the earlier and the current packages into the pool under
// their release asset names, with Date as their mtime (createrepo_c records
// it), and returns the pool's file names.
func fillPool(root string, o Options) ([]string, error) {
	dir := filepath.Join(root, Pool)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the pool: %w", err)
	}
	earlier, err := FindPackages(o.Earlier)
	if err != nil {
		return nil, err
	}
	from := map[string]string{}
	for _, src := range append(earlier, o.Packages...) {
		name := release.AssetName(filepath.Base(src))
		if prev, ok := from[name]; ok {
			same, err := sameBytes(prev, src)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, fmt.Errorf("%s and %s are both %s but differ: a version is released once; bump the version or drop the stale copy", prev, src, name)
			}
			continue
		}
		from[name] = src
		if err := copyFile(src, filepath.Join(dir, name), o.Date); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(from))
	for name := range from {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// FindPackages lists the stigmer .deb and .rpm files under dir, the
// keyring packages' included, in order.
func FindPackages(dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && ((strings.HasPrefix(name, "stigmer_") || strings.HasPrefix(name, "stigmer-archive-keyring_")) && strings.HasSuffix(name, ".deb") ||
			strings.HasPrefix(name, "stigmer-") && strings.HasSuffix(name, ".rpm") && !strings.HasPrefix(name, "stigmer-test-")) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the earlier releases' packages in %s: %w", dir, err)
	}
	return found, nil
}

func sameBytes(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}

// copyFile copies src to dst (mode 0644) and sets its mtime.
func copyFile(src, dst string, mtime time.Time) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading package: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("writing package into the pool: %w", err)
	}
	return os.Chtimes(dst, mtime, mtime)
}

// writeOperatorFiles writes the public key in both forms, the deb822
// source (Signed-By, no apt-key, no trusted=yes) and the dnf repository
// file (gpgcheck and repo_gpgcheck).
func writeOperatorFiles(ctx context.Context, root string, o Options) error {
	bin, err := o.Key.Public(ctx, false)
	if err != nil {
		return err
	}
	armored, err := o.Key.Public(ctx, true)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		AptKeyring:  bin,
		DnfKey:      armored,
		SourcesFile: sources(o.URL),
		RepoFile:    dnfRepo(o.URL),
	}
	for name, data := range files {
		if err := writeFile(filepath.Join(root, name), data, o.Date); err != nil {
			return err
		}
	}
	return nil
}

// sources is apt's deb822 source for the tree at url: Signed-By, no
// apt-key, no trusted=yes.
func sources(url string) []byte {
	return []byte(fmt.Sprintf("Types: deb\nURIs: %s/\nSuites: %s\nComponents: %s\nSigned-By: %s\n",
		strings.TrimSuffix(url, "/"), Suite, Component, KeyringPath))
}

// dnfRepo is dnf's repository file for the tree at url. skip_if_unavailable=0:
// Fedora's and Debian's dnf.conf skip a repository whose metadata fails,
// signature included, and exit 0; RHEL's default, and the safe one, is to
// stop with the error.
func dnfRepo(url string) []byte {
	return []byte(fmt.Sprintf("[stigmer]\nname=Stigmer\nbaseurl=%s/\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\nskip_if_unavailable=0\ngpgkey=file://%s\n",
		strings.TrimSuffix(url, "/"), DnfKeyPath))
}

// The files KeyringFiles writes, as packaging/keyring.yaml names them.
const (
	KeyringBinary  = "stigmer-archive-keyring.gpg" // every key, binary: the deb's /usr/share/keyrings file
	KeyringArmored = "RPM-GPG-KEY-stigmer"         // every key, armored: the rpm's /etc/pki/rpm-gpg file
)

// KeyringFiles writes into dir what the keyring packages carry: every key
// of keys (armored blocks; the signing key first) in both forms, and the
// same stigmer.sources and stigmer.repo the tree at url serves.
func KeyringFiles(ctx context.Context, dir, url string, key *gpgkey.Home, keys [][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var bin, armored []byte
	for _, k := range keys {
		b, err := key.Dearmor(ctx, k)
		if err != nil {
			return err
		}
		bin = append(bin, b...)
		armored = append(append(armored, bytes.TrimSpace(k)...), '\n')
	}
	for name, data := range map[string][]byte{KeyringBinary: bin, KeyringArmored: armored, SourcesFile: sources(url), RepoFile: dnfRepo(url)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing the keyring packages' %s: %w", name, err)
		}
	}
	return nil
}

// writeFile writes data to path (mode 0644, parents made) with mtime.
func writeFile(path string, data []byte, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Chtimes(path, mtime, mtime)
}

// run runs a tool in dir and returns its standard output.
func run(ctx context.Context, dir, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("running %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// PagesLimit is GitHub Pages' limit on a published site, in bytes (1 GB),
// and PagesMargin the share of it CheckSize allows: a release adds about
// 16 MB (four packages and their indexes), so the margin
// leaves room for the releases that follow while the maintainers act.
const (
	PagesLimit  = 1_000_000_000
	PagesMargin = 0.9
)

// CheckSize fails when the tree in dir takes more than PagesMargin of
// PagesLimit, saying what to do: an earlier release leaves the repository
// when its package assets are deleted from its GitHub release (hosts can no
// longer install or downgrade to it), or the tree moves to a host without
// the limit. It returns the tree's size.
func CheckSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			size += fi.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("measuring %s: %w", dir, err)
	}
	if float64(size) > PagesMargin*PagesLimit {
		return size, fmt.Errorf("the repository is %d MB, more than %.0f%% of GitHub Pages' %d MB limit, so it is not published: delete the .deb and .rpm assets of the oldest releases from their GitHub releases (they leave the repository; hosts can no longer install those versions from it), or serve dist/repo from a host without the limit (docs/releasing.md), then re-run",
			size/1_000_000, PagesMargin*100, PagesLimit/1_000_000)
	}
	return size, nil
}
