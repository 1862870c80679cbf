package pkgbuild

import (
	"fmt"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
)

// StandInName is the package that stands in for a RHEL base system in the
// tests that install the stigmer rpm on Debian's rpm tool (the chroot test
// and the VM's rpm guest), whose rpm database is empty.
const StandInName = "stigmer-test-standin-rhel-base"

// StandIn writes into dir the test stand-in rpm: no files, and a Provides
// for every Requires the stigmer rpm declares in packaging/nfpm.yaml
// (/bin/sh, shadow-utils, systemd). Installed first, it lets the tests
// install the stigmer rpm with its dependencies checked instead of with
// --nodeps. It returns the rpm's path. Not for any real system: its
// description says so.
func (b *Build) StandIn(dir string) (string, error) {
	cfg, err := b.Config("amd64")
	if err != nil {
		return "", err
	}
	stigmer, err := cfg.Get("rpm")
	if err != nil {
		return "", fmt.Errorf("reading rpm settings: %w", err)
	}
	if len(stigmer.Depends) == 0 {
		return "", fmt.Errorf("%s declares no rpm dependencies; the stand-in would provide nothing", Declaration)
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:     StandInName,
		Arch:     "all", // noarch
		Version:  "1.0.0",
		Platform: "linux",
		Description: "Test stand-in for a RHEL base system\n" +
			"Provides what the stigmer rpm requires, for tests on Debian's rpm tool;\n" +
			"it installs no files. Not for any real system.",
		Maintainer: "Stigmer maintainers <maintainers@stigmer.ai>",
		License:    "Apache-2.0",
		MTime:      b.Date,
		Overridables: nfpm.Overridables{
			Provides: stigmer.Depends,
			RPM:      nfpm.RPM{BuildHost: "stigmer-build"},
		},
	})
	packager, err := nfpm.Get("rpm")
	if err != nil {
		return "", fmt.Errorf("finding packager rpm: %w", err)
	}
	out := filepath.Join(dir, packager.ConventionalFileName(info))
	return out, writePackage(packager, info, out)
}
