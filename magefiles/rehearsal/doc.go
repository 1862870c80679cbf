// Package rehearsal plays several tags through the release job of
// .github/workflows/release.yml, offline, as the workflow would run them:
// a scratch clone of HEAD is tagged in turn, and each `go tool mage` step
// of the release job runs in it with the environment its step declares,
// against a stand-in of GitHub's API (fakegithub) that keeps what each
// earlier tag uploaded; the repository the Pages steps would upload
// becomes the published site the next tag keeps indexes from.
//
// What cannot run here is said, not faked: actions/checkout and
// actions/setup-go (the clone and this toolchain stand in), and
// actions/attest-build-provenance (it needs GitHub's OIDC token) are
// skipped by name; any other action fails the rehearsal, so that a new
// step is rehearsed or consciously left out.
//
// Its tests (build tag rehearsal, run by `go tool mage release:rehearse`)
// check the outcome as a user would: apt and dnf offer every release from
// the site, the pre-release stays out of it, a tampered earlier asset stops
// the next release, and the previous generation's indexes are still
// served.
package rehearsal
