//go:build mage

// Stigmer's build, packaging and test targets: `go tool mage package` builds
// the .deb and .rpm packages into dist/, `go tool mage test` runs every test.
// STIGMER_VERSION overrides the version from git describe and STIGMER_DIST
// the output directory (read once, then handed to the build as values);
// STIGMER_VM_CACHE moves the VM test's image cache, STIGMER_VM_ONLY runs
// only the VM rows it names, and STIGMER_VM_KEEP=1 keeps the guests' disks.
package main

// Aliases keep the short names the README, CONTRIBUTING.md and .ci/run use.
var Aliases = map[string]any{
	"build":          Build.Binary,
	"clean":          Build.Clean,
	"package":        Pkg.All,
	"check:packages": Pkg.Check,
	"check:tools":    Pkg.Tools,
	"test":           Test.All,
	"check:go":       Test.Go,
	"check:vuln":     Test.Vuln,
	"bench":          Test.Bench,
	"vmtest":         VM.All,
	"release":        Release.Run,
	"repo":           Release.Repo,
	"check:release":  Release.Check,
	"rehearse":       Release.Rehearse,
}
