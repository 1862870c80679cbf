// Package ghrelease talks to GitHub's REST API about a repository's
// releases: it lists them (every page), downloads their assets with the
// token, and creates a release with its assets, as a draft published once
// every asset is up.
//
// It deliberately uses no GitHub CLI and no client library: the release
// job runs in a container whose gh may be too old for the flags a script
// would need (and a pipe in a workflow step hides its failure), and the few
// calls here are plain JSON over HTTP, tested against a local stand-in of
// the API (net/http/httptest). See
// https://docs.github.com/en/rest/releases/releases and
// https://docs.github.com/en/rest/releases/assets.
package ghrelease
