// Package pkgcheck holds the tests of the built .deb and .rpm packages:
// contents, lintian and rpmlint, the maintainer scripts, the unit, and the
// install/upgrade/remove/purge lifecycle in Debian chroots without systemd.
//
// The tests carry the build tag pkgcheck, so that `go test ./...` does not
// fail for want of built packages; `go tool mage test` (check:packages)
// builds the packages, installs the tools and runs them with
// STIGMER_DIST (the packages) and STIGMER_OLD_DIST (an older build of the
// same commit, for upgrades) set. Systemd-level behaviour is the VM test's.
package pkgcheck
