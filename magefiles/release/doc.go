// Package release drives GoReleaser for `go tool mage release`.
//
// It decides between a published release (a v* tag at HEAD, in CI, with
// GITHUB_TOKEN) and a local snapshot (anything else, offline), refuses a
// dirty tree for a published release, imports the signing key into a
// throwaway GNUPGHOME, and runs the pinned GoReleaser on .goreleaser.yaml.
//
// It deliberately builds no package and lists no package contents: package
// contents are declared once, in packaging/nfpm.yaml, and pkgbuild turns them
// into the .deb and .rpm (into PackageDir) before GoReleaser runs. GoReleaser
// builds the archives, checksums everything, signs the checksums and
// publishes the lot; see .goreleaser.yaml.
package release
