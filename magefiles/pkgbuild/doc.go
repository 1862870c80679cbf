// Package pkgbuild builds the stigmer binaries and turns them into .deb and
// .rpm packages with nfpm, from the declaration in packaging/nfpm.yaml.
//
// Every step is skipped when a stamp of its inputs (a SHA-256 over the
// source files, flags and version) matches the one written by the last run,
// so a second run with nothing changed only hashes. Outputs are
// reproducible: the binary is built with -trimpath and no build ID, file
// times come from SOURCE_DATE_EPOCH (the commit time), and the generated man
// page is gzipped without a name or time.
//
// It deliberately knows nothing about package contents: those live in
// packaging/nfpm.yaml, which the release reads too.
package pkgbuild
