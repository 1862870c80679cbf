// Package repo writes a release's signed apt and dnf repository: a static
// tree that any web server or object store serves as files.
//
// The indexes come from Debian's own tools rather than from code that
// writes their formats: apt-ftparchive (apt-utils, the apt project's
// generator) for Packages and Release, createrepo_c (the tool Fedora and
// RHEL build their repositories with) for repodata. Both are packaged in
// Debian, so the build installs them like lintian. This package lays out the
// pool, compresses, writes the by-hash copies, signs with gpgkey, and makes
// the output reproducible: same inputs, same bytes, signatures aside.
package repo
