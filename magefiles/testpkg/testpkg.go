// Package testpkg writes small, real stigmer .deb and .rpm files with nfpm
// (as the release does) for the tests of the packages that index, sign or
// check them. It is not the release's package declaration
// (packaging/nfpm.yaml): a test package carries one file and says so in its
// description.
package testpkg

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// Spec is one test package.
type Spec struct {
	Format      string    // deb or rpm
	Arch        string    // GOARCH
	Version     string    // semver
	Payload     string    // the file installed as /usr/bin/stigmer
	Compression string    // "" for nfpm's default
	SignKey     string    // armored private key file to sign with, "" for unsigned
	MTime       time.Time // the files' and the package's time
}

// Write writes the package into dir under its conventional name and
// returns its path.
func Write(dir string, s Spec) (string, error) {
	info := nfpm.WithDefaults(&nfpm.Info{
		Name: "stigmer", Arch: s.Arch, Version: s.Version, Platform: "linux",
		Description: "test package", Maintainer: "Test <test@example.invalid>", MTime: s.MTime,
		Overridables: nfpm.Overridables{
			Contents: []*files.Content{{Source: s.Payload, Destination: "/usr/bin/stigmer"}},
			Deb: nfpm.Deb{Compression: s.Compression,
				Signature: nfpm.DebSignature{PackageSignature: nfpm.PackageSignature{KeyFile: s.SignKey}}},
			RPM: nfpm.RPM{Compression: s.Compression,
				Signature: nfpm.RPMSignature{PackageSignature: nfpm.PackageSignature{KeyFile: s.SignKey}}},
		},
	})
	if err := info.Validate(); err != nil {
		return "", err
	}
	p, err := nfpm.Get(s.Format)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, p.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := p.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("packaging %s: %w", path, err)
	}
	return path, f.Close()
}
