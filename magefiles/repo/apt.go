package repo

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
)

// noWeakHashes turns off the MD5 and SHA-1 fields that apt-ftparchive
// writes by default: apt ignores them since 1.2 and they only invite
// tools that still trust them.
var noWeakHashes = []string{"-o", "APT::FTPArchive::MD5=false", "-o", "APT::FTPArchive::SHA1=false"}

// writeApt writes dists/<Suite>: Packages, Packages.gz and Packages.xz for
// each architecture with a .deb in the pool, with by-hash copies, then
// Release, InRelease and Release.gpg.
func writeApt(ctx context.Context, root string, o Options) error {
	arches, err := debArches(filepath.Join(root, Pool))
	if err != nil {
		return err
	}
	suite := filepath.Join(root, "dists", Suite)
	for _, arch := range arches {
		out, err := run(ctx, root, "apt-ftparchive", append(append([]string{}, noWeakHashes...), "--arch", arch, "packages", Pool)...)
		if err != nil {
			return err
		}
		if err := writeIndex(filepath.Join(suite, Component, "binary-"+arch), "Packages", sortStanzas(out), o); err != nil {
			return err
		}
	}
	release, err := run(ctx, root, "apt-ftparchive", append(append(releaseFields(arches, o), noWeakHashes...), "release", filepath.Join("dists", Suite))...)
	if err != nil {
		return err
	}
	if err := checkByHash(release); err != nil {
		return err
	}
	rel := filepath.Join(suite, "Release")
	if err := writeFile(rel, release, o.Date); err != nil {
		return err
	}
	if err := o.Key.ClearSign(ctx, rel, filepath.Join(suite, "InRelease")); err != nil {
		return fmt.Errorf("signing InRelease: %w", err)
	}
	if err := o.Key.DetachSign(ctx, rel, filepath.Join(suite, "Release.gpg")); err != nil {
		return fmt.Errorf("signing Release.gpg: %w", err)
	}
	return nil
}

// checkByHash fails when Release lists a hash that writeIndex writes no
// by-hash copies for, or none: apt would ask for by-hash/<that hash>/...,
// get a 404 and fall back to the plain names.
func checkByHash(release []byte) error {
	_, sections, err := parseRelease(release)
	if err != nil {
		return err
	}
	var written []string
	for _, h := range byHash {
		written = append(written, h.name)
	}
	if strings.Join(sections, " ") != strings.Join(written, " ") {
		return fmt.Errorf("apt-ftparchive's Release lists the hashes %v, but by-hash copies are written for %v: make noWeakHashes and byHash agree", sections, written)
	}
	return nil
}

// releaseFields are the Release file's fields, as apt-ftparchive options.
// Date is the build's, not the clock's, so that Release is reproducible; no
// Valid-Until, because the tree changes only when a release is made.
func releaseFields(arches []string, o Options) []string {
	fields := [][2]string{
		{"Origin", "Stigmer"},
		{"Label", "Stigmer"},
		{"Suite", Suite},
		{"Codename", Suite},
		{"Date", o.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05 UTC")},
		{"Architectures", strings.Join(arches, " ")},
		{"Components", Component},
		{"Description", "Stigmer, an AI agent workflow platform, as a systemd service"},
		// apt then fetches indexes by their hash, so a client never mixes
		// a new Release with an old Packages while a sync is half done.
		{"Acquire-By-Hash", "yes"},
	}
	var args []string
	for _, f := range fields {
		args = append(args, "-o", "APT::FTPArchive::Release::"+f[0]+"="+f[1])
	}
	return args
}

// debArches lists the architectures of the .deb files in pool, from their
// names (stigmer_<version>_<arch>.deb).
func debArches(pool string) ([]string, error) {
	debs, err := filepath.Glob(filepath.Join(pool, "*.deb"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range debs {
		name := strings.TrimSuffix(filepath.Base(d), ".deb")
		seen[name[strings.LastIndex(name, "_")+1:]] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("no .deb in the pool %s: give Write the release's packages", pool)
	}
	arches := make([]string, 0, len(seen))
	for a := range seen {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	return arches, nil
}

// sortStanzas orders the Packages stanzas by their text, since
// apt-ftparchive lists them in the order the file system returns them.
func sortStanzas(packages []byte) []byte {
	var stanzas []string
	for _, s := range strings.Split(string(packages), "\n\n") {
		if s = strings.Trim(s, "\n"); s != "" {
			stanzas = append(stanzas, s)
		}
	}
	sort.Strings(stanzas)
	if len(stanzas) == 0 {
		return nil
	}
	return []byte(strings.Join(stanzas, "\n\n") + "\n")
}

// writeIndex writes name, name.gz and name.xz into dir, and a copy of each
// under by-hash/HASH/<its sum> for every hash Release lists (byHash).
func writeIndex(dir, name string, data []byte, o Options) error {
	gz, err := gzipped(data)
	if err != nil {
		return err
	}
	xzd, err := xzed(data)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{name, data}, {name + ".gz", gz}, {name + ".xz", xzd}} {
		if err := writeFile(filepath.Join(dir, f.name), f.data, o.Date); err != nil {
			return err
		}
		if err := writeByHash(dir, f.data, o.Date); err != nil {
			return err
		}
	}
	return nil
}

// writeByHash writes data into dir/by-hash/HASH/<sum> for each of byHash.
func writeByHash(dir string, data []byte, mtime time.Time) error {
	for _, h := range byHash {
		if err := writeFile(filepath.Join(dir, "by-hash", h.name, h.sum(data)), data, mtime); err != nil {
			return err
		}
	}
	return nil
}

// gzipped compresses data with no name or time in the header.
func gzipped(data []byte) ([]byte, error) {
	return compressed(data, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, gzip.BestCompression) })
}

func xzed(data []byte) ([]byte, error) {
	return compressed(data, func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) })
}

// compressed runs data through the writer that newWriter makes.
func compressed(data []byte, newWriter func(io.Writer) (io.WriteCloser, error)) ([]byte, error) {
	var buf bytes.Buffer
	w, err := newWriter(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
