package pkgbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// Declaration is the package declaration, relative to the repository root.
const Declaration = "packaging/nfpm.yaml"

// Config parses the declaration for one arch, with the binary and docs of
// this build. Only the STIGMER_PKG_* variables that nfpm.yaml documents are
// expanded; any other ${VAR} in it is an error, so the host environment
// never leaks into a package.
func (b *Build) Config(goarch string) (nfpm.Config, error) {
	vars := map[string]string{
		"STIGMER_PKG_VERSION": b.Version,
		"STIGMER_PKG_ARCH":    goarch,
		"STIGMER_PKG_BINARY":  b.ArchBinary(goarch),
		"STIGMER_PKG_GEN":     b.GenDir(),

		// The release signs; "" leaves the deb and rpm unsigned.
		"STIGMER_PKG_SIGN_KEY": b.SignKey,
		"NFPM_PASSPHRASE":      b.SignPassphrase,
	}
	cfg, err := b.parse(Declaration, vars)
	if err != nil {
		return nfpm.Config{}, err
	}
	if err := expandDocGlobs(&cfg, b.Root); err != nil {
		return nfpm.Config{}, err
	}
	if b.OlderEnvFile {
		if err := b.swapEnvFile(&cfg); err != nil {
			return nfpm.Config{}, err
		}
	}
	if b.OlderUnitDir {
		if err := moveDebUnit(&cfg); err != nil {
			return nfpm.Config{}, err
		}
	}
	return cfg, nil
}

// parse reads the nfpm declaration decl (relative to the root), expanding
// only vars (and nfpm's own NFPM_* passphrases): any other ${VAR} in it is
// an error that names it, so the host environment never leaks into a
// package.
func (b *Build) parse(decl string, vars map[string]string) (nfpm.Config, error) {
	var unknown []string
	f, err := os.Open(filepath.Join(b.Root, decl))
	if err != nil {
		return nfpm.Config{}, fmt.Errorf("opening package declaration: %w", err)
	}
	defer f.Close()
	cfg, err := nfpm.ParseWithEnvMapping(f, func(name string) string {
		v, ok := vars[name]
		// nfpm asks for its signing passphrases itself; unset means unsigned.
		if !ok && !strings.HasPrefix(name, "NFPM_") {
			unknown = append(unknown, name)
		}
		return v
	})
	if err != nil {
		return nfpm.Config{}, fmt.Errorf("parsing %s: %w", decl, err)
	}
	if len(unknown) > 0 {
		var known []string
		for k := range vars {
			if !strings.HasPrefix(k, "NFPM_") {
				known = append(known, k)
			}
		}
		sort.Strings(known)
		return nfpm.Config{}, fmt.Errorf("%s uses ${%s}, which the build does not set; use only %s", decl, strings.Join(unknown, "}, ${"), strings.Join(known, ", "))
	}
	cfg.MTime = b.Date
	return cfg, nil
}

// Packages builds the binaries and docs, then every format for every arch
// into Dist, and deletes packages of other versions left there. It returns
// the package paths.
func (b *Build) Packages(ctx context.Context, arches, formats []string) ([]string, error) {
	if err := b.Docs(ctx); err != nil {
		return nil, err
	}
	decl, err := hashTree(b.Root, "packaging", "LICENSE", "go.sum")
	if err != nil {
		return nil, err
	}
	docs, err := hashTree(b.GenDir())
	if err != nil {
		return nil, err
	}
	if b.OlderEnvFile {
		if err := b.writeOlderEnv(); err != nil {
			return nil, err
		}
		decl += "\nolder env file"
	}
	if b.OlderUnitDir {
		decl += "\nolder unit dir"
	}
	var made []string
	for _, arch := range arches {
		if err := b.Binary(ctx, arch, b.ArchBinary(arch)); err != nil {
			return nil, err
		}
		bin, err := hashTree(b.ArchBinary(arch))
		if err != nil {
			return nil, err
		}
		for _, format := range formats {
			out, err := b.pkg(format, arch, strings.Join([]string{decl, docs, bin, b.Version, b.Epoch(), b.SignKey}, "\n"))
			if err != nil {
				return nil, err
			}
			made = append(made, out)
		}
	}
	return made, b.removeStale(made)
}

func (b *Build) pkg(format, arch, inputs string) (string, error) {
	cfg, err := b.Config(arch)
	if err != nil {
		return "", err
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", fmt.Errorf("reading %s settings: %w", format, err)
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", fmt.Errorf("finding packager %q: %w", format, err)
	}
	info = nfpm.WithDefaults(info)
	out := filepath.Join(b.Dist, packager.ConventionalFileName(info))
	err = b.step(format+" "+arch, inputs, []string{out}, func() error {
		return writePackage(packager, info, out)
	})
	return out, err
}

// writePackage writes to a temporary file and renames it, so that an
// interrupted run never leaves a truncated package under the real name.
func writePackage(packager nfpm.Packager, info *nfpm.Info, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("creating out dir: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".pkg-*")
	if err != nil {
		return fmt.Errorf("creating package file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := packager.Package(info, f); err != nil {
		f.Close()
		return fmt.Errorf("packaging %s: %w", filepath.Base(out), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(out), err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("setting mode of %s: %w", filepath.Base(out), err)
	}
	return os.Rename(f.Name(), out)
}

// removeStale deletes .deb and .rpm files in Dist that this run did not
// make (older versions), so that Dist holds one set of packages.
func (b *Build) removeStale(keep []string) error {
	var stale []string
	for _, pattern := range []string{"*.deb", "*.rpm"} {
		m, err := filepath.Glob(filepath.Join(b.Dist, pattern))
		if err != nil {
			return fmt.Errorf("listing packages: %w", err)
		}
		stale = append(stale, m...)
	}
	sort.Strings(keep)
	for _, p := range stale {
		if i := sort.SearchStrings(keep, p); i < len(keep) && keep[i] == p {
			continue
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing stale package: %w", err)
		}
	}
	return nil
}
