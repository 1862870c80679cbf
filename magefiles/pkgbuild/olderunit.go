package pkgbuild

import (
	"fmt"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// UnitPath is where both packages install the unit: /usr/lib, as DEP17 has
// every Debian package do since the /usr merge (nothing under the aliased
// /lib), and where the rpm always had it. systemd reads it on every target.
const UnitPath = "/usr/lib/systemd/system/stigmer.service"

// OlderDebUnitPath is where debs built before the move shipped the unit.
const OlderDebUnitPath = "/lib/systemd/system/stigmer.service"

// moveDebUnit gives the .deb of a build with OlderUnitDir set the earlier
// layout: the unit entries of the declaration that the deb installs at
// UnitPath install at OlderDebUnitPath instead; an entry both formats share
// is split in two, so the rpm keeps UnitPath. It fails when the declaration
// installs nothing at UnitPath for the deb, so a moved unit cannot silently
// make the upgrade tests' move vacuous.
func moveDebUnit(cfg *nfpm.Config) error {
	n := 0
	cfg.Contents = moveDebUnitIn(cfg.Contents, &n)
	if o, ok := cfg.Overrides["deb"]; ok {
		o.Contents = moveDebUnitIn(o.Contents, &n)
		cfg.Overrides["deb"] = o
	}
	if n == 0 {
		return fmt.Errorf("%s installs nothing at %s in the deb to move to %s for the older build; update pkgbuild.UnitPath", Declaration, UnitPath, OlderDebUnitPath)
	}
	return nil
}

func moveDebUnitIn(in files.Contents, n *int) files.Contents {
	var out files.Contents
	for _, c := range in {
		if c.Destination != UnitPath || (c.Packager != "" && c.Packager != "deb") {
			out = append(out, c)
			continue
		}
		*n++
		if c.Packager == "" {
			rpm := *c
			rpm.Packager = "rpm"
			out = append(out, &rpm)
		}
		deb := *c
		deb.Packager = "deb"
		deb.Destination = OlderDebUnitPath
		out = append(out, &deb)
	}
	return out
}
