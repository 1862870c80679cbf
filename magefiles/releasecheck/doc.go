// Package releasecheck holds the tests of `go tool mage release`: snapshot
// releases made in fresh clones of HEAD, as CI and a release engineer make
// them, then read back.
//
// They check that two clones give byte-identical archives, .deb and .rpm;
// that the release's packages match the package target's (file list, modes,
// owners, conffiles, scripts, metadata) and carry the archives' binary
// byte for byte; the archive contents and checksums.txt; the GPG, rpm and
// debsig signatures made with a throwaway key, and that a tampered file
// fails them; the tag-to-version mapping and its dpkg and rpm ordering; the
// refusal of a dirty tree; `goreleaser check` and actionlint. They print,
// not assert, the wall times and artifact sizes.
//
// The tests carry the build tag releasecheck: `go tool mage check:release`
// installs the tools and runs them. They test committed code only (the
// clones are of HEAD).
package releasecheck
