package release

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// GoReleaser is the pinned GoReleaser, run as `go run GoReleaser`. A tool
// dependency would pull a few hundred modules into go.mod, and because one
// module graph serves both, raise modules the stigmer binary links too
// (golang.org/x/sys, x/crypto, klauspost/compress): release tooling would
// change the product's bytes. `go run mod@version` resolves GoReleaser in a
// graph of its own, and the Go build cache keeps the built binary.
// v2.15.1 is the newest release that builds with Go 1.26.
const GoReleaser = "github.com/goreleaser/goreleaser/v2@v2.15.1"

// SBOMTool is the pinned SBOM generator that .goreleaser.yaml runs as
// cyclonedx-gomod: Run installs it (go install, -trimpath, from the module
// proxy like GoReleaser) into ToolDir and puts that first on GoReleaser's
// PATH. It is installed rather than run with `go run` because it reads the
// target's GOOS and GOARCH from `go env`, which the environment sets, and
// under `go run` those would also retarget the build of the tool itself.
const SBOMTool = "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

// Output directories, relative to the repository root. Both are named in
// .goreleaser.yaml too (dist:, and the extra_files globs); Run checks that
// checksums.txt lists every package, so a rename cannot go unnoticed.
const (
	// Dir is GoReleaser's dist: archives, checksums.txt and its signature,
	// and hard links to the packages, i.e. every release asset in one place.
	Dir = "dist/release"
	// PackageDir is pkgbuild's output directory for the release packages,
	// apart from the unsigned ones `go tool mage package` leaves in dist/.
	PackageDir = "dist/release-packages"
	// AssetDir holds the packages under their asset names (AssetName), for
	// GoReleaser's extra_files globs.
	AssetDir = PackageDir + "/assets"
	// ToolDir holds SBOMTool.
	ToolDir = PackageDir + "/tools"
	// RepoDir is the signed apt and dnf repository (package repo).
	RepoDir = "dist/repo"
)

// AssetName is the name a package file is released under: its own name
// with every character outside [A-Za-z0-9._-] replaced by ".". GitHub does
// that to release asset names on upload, so the "~" that makes a
// pre-release sort first (stigmer_1.2.3~rc.1_amd64.deb) would otherwise
// leave checksums.txt naming a file nobody can download. dpkg and rpm read
// the version from inside the package, never from its name.
func AssetName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '.'
	}, name)
}

// The environment a release engineer sets (docs/releasing.md).
const (
	EnvSignKey        = "STIGMER_SIGN_KEY_FILE"   // armored OpenPGP private key; unset: unsigned
	EnvSignKeyData    = "STIGMER_SIGN_KEY"        // the same key as text, when EnvSignKey is unset (a CI secret)
	EnvSignPassphrase = "STIGMER_SIGN_PASSPHRASE" // its passphrase; unset: none
	EnvToken          = "GITHUB_TOKEN"            // publishes, with a tag in CI
	EnvRepoURL        = "STIGMER_REPO_URL"        // where the repository is served; a snapshot's default is its own directory
	EnvRepoEarlier    = "STIGMER_REPO_EARLIER"    // earlier releases' packages, for the repository
	EnvRepoPublished  = "STIGMER_REPO_PUBLISHED"  // the repository as served now, whose indexes the new tree keeps
	EnvAPI            = "GITHUB_API_URL"          // GitHub's REST API (Actions sets it)
	EnvRepository     = "GITHUB_REPOSITORY"       // owner/name (Actions sets it)
)

// EarlierDir is where a published release downloads the earlier releases'
// packages, one directory per tag, relative to the repository root.
const EarlierDir = "dist/release-earlier"

// Mode says whether a run publishes.
type Mode int

const (
	// Snapshot builds every asset into Dir, offline, and publishes nothing.
	Snapshot Mode = iota
	// Publish builds from a clean tree at a v* tag and uploads a GitHub release.
	Publish
)

func (m Mode) String() string {
	if m == Publish {
		return "release"
	}
	return "snapshot release"
}

// Decide returns Publish when all three hold: a v* tag points at HEAD, the
// run is in CI (CI=true) and a token is set. Otherwise it returns Snapshot
// and says which were missing.
func Decide(tag string, ci, token bool) (Mode, string) {
	var missing []string
	if tag == "" {
		missing = append(missing, "no v* tag at HEAD")
	}
	if !ci {
		missing = append(missing, "not in CI (CI=true)")
	}
	if !token {
		missing = append(missing, EnvToken+" unset")
	}
	if len(missing) > 0 {
		return Snapshot, strings.Join(missing, ", ")
	}
	return Publish, ""
}

// Plan is what one `go tool mage release` does; New makes it.
type Plan struct {
	Root           string    // repository root
	Mode           Mode      // publish or snapshot
	Why            string    // for a snapshot: why nothing is published
	Tag            string    // v* tag at HEAD, "" if none
	SignKey        string    // absolute path of the signing key, "" for none
	SignPassphrase string    // its passphrase
	Path           string    // the user's PATH, for GoReleaser
	RepoURL        string    // where the repository is served, "" for a snapshot's own directory
	RepoEarlier    string    // earlier releases' packages for the repository, "" for none
	RepoPublished  string    // EnvRepoPublished, "" for the default (PublishedLocation)
	API            string    // EnvAPI, default https://api.github.com
	Repository     string    // EnvRepository
	Token          string    // EnvToken
	Log            io.Writer // progress
	keyDir         string    // holds the key file written from EnvSignKeyData
}

// Env is what the release takes from the user's environment. The magefiles'
// top level reads it with ReadEnv(os.Getenv) and passes it down; this
// package reads no variable itself.
type Env struct {
	CI             bool   // CI=true
	Token          string // EnvToken
	SignKeyFile    string // EnvSignKey
	SignKeyData    string // EnvSignKeyData
	SignPassphrase string // EnvSignPassphrase
	Path           string // PATH, which Run prepends the SBOM tool's dir to
	RepoURL        string // EnvRepoURL
	RepoEarlier    string // EnvRepoEarlier
	RepoPublished  string // EnvRepoPublished
	API            string // EnvAPI
	Repository     string // EnvRepository
}

// ReadEnv builds an Env through getenv (os.Getenv at the top level).
func ReadEnv(getenv func(string) string) Env {
	return Env{
		CI:             getenv("CI") == "true",
		Token:          getenv(EnvToken),
		SignKeyFile:    getenv(EnvSignKey),
		SignKeyData:    getenv(EnvSignKeyData),
		SignPassphrase: getenv(EnvSignPassphrase),
		Path:           getenv("PATH"),
		RepoURL:        getenv(EnvRepoURL),
		RepoEarlier:    getenv(EnvRepoEarlier),
		RepoPublished:  getenv(EnvRepoPublished),
		API:            getenv(EnvAPI),
		Repository:     getenv(EnvRepository),
	}
}

// New reads the repository at root and takes the user's choices from env. It
// fails when a published release would be built from a dirty tree, naming
// the changed files, or when the signing key cannot be read. A key given
// as EnvSignKeyData is written to a private temporary file that Close
// removes.
func New(ctx context.Context, root string, env Env, log io.Writer) (*Plan, error) {
	// No tag at HEAD is the usual case: describe fails and Tag stays "".
	tag, _ := git(ctx, root, "describe", "--exact-match", "--tags", "--match", "v[0-9]*", "HEAD")
	mode, why := Decide(tag, env.CI, env.Token != "")
	p := &Plan{Root: root, Mode: mode, Why: why, Tag: tag, SignPassphrase: env.SignPassphrase, Path: env.Path,
		RepoURL: env.RepoURL, RepoEarlier: env.RepoEarlier, RepoPublished: env.RepoPublished,
		API: env.API, Repository: env.Repository, Token: env.Token, Log: log}
	if p.API == "" {
		p.API = "https://api.github.com"
	}
	if env.SignKeyFile == "" && env.SignKeyData != "" {
		file, err := p.writeKey(env.SignKeyData)
		if err != nil {
			return nil, err
		}
		env.SignKeyFile = file
	}
	if key := env.SignKeyFile; key != "" {
		abs, err := filepath.Abs(key)
		if err != nil {
			return nil, fmt.Errorf("resolving %s=%q: %w", EnvSignKey, key, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("reading %s: %w; point it at an armored OpenPGP private key (gpg --armor --export-secret-keys KEYID > key.asc)", EnvSignKey, err)
		}
		p.SignKey = abs
	}
	if mode == Publish {
		status, err := git(ctx, root, "status", "--porcelain")
		if err != nil {
			return nil, err
		}
		if status != "" {
			return nil, fmt.Errorf("refusing to publish %s from a dirty tree; these files differ from the tag:\n%s\ncommit or stash them and tag again, or unset %s for a snapshot", tag, status, EnvToken)
		}
	}
	return p, nil
}

// writeKey writes the armored key to a file only this user can read, in a
// directory Close removes.
func (p *Plan) writeKey(data string) (string, error) {
	dir, err := os.MkdirTemp("", "stigmer-sign-key-")
	if err != nil {
		return "", fmt.Errorf("writing %s to a file: %w", EnvSignKeyData, err)
	}
	p.keyDir = dir
	file := filepath.Join(dir, "key.asc")
	if err := os.WriteFile(file, []byte(strings.TrimSpace(data)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s to a file: %w", EnvSignKeyData, err)
	}
	return file, nil
}

// Close removes the key file New wrote, if any.
func (p *Plan) Close() error {
	if p.keyDir == "" {
		return nil
	}
	return os.RemoveAll(p.keyDir)
}

// RequireKey fails when a release to be published has no signing key: it
// would have no repository, and the hosts that install from the repository
// would get nothing. The release calls it before anything is built.
func (p *Plan) RequireKey() error {
	if p.Mode == Publish && p.SignKey == "" {
		return fmt.Errorf("refusing to publish %s unsigned: %s is unset; in the workflow the key comes from the release environment's secret STIGMER_SIGNING_KEY as %s (docs/releasing.md), so check that the job runs in that environment and the secret is set", p.Tag, EnvSignKey, EnvSignKeyData)
	}
	return nil
}

// CheckVersion fails when a published release's version is not its tag
// without the v: pkgbuild's mapping and GoReleaser's must agree, and both
// use git describe, so a mismatch means STIGMER_VERSION is set.
func (p *Plan) CheckVersion(version string) error {
	// pkgbuild marks a build from uncommitted changes (+dirty, .dirty); New
	// refuses such a tree already, this is the second guard.
	if p.Mode == Publish && strings.HasSuffix(version, "dirty") {
		return fmt.Errorf("refusing to publish %s: version %s is a build of uncommitted changes; commit or stash them and tag again", p.Tag, version)
	}
	if p.Mode == Publish && "v"+version != p.Tag {
		return fmt.Errorf("version %s does not match tag %s; unset STIGMER_VERSION for a release", version, p.Tag)
	}
	return nil
}

// RepoLocation is where the repository will be served, for its
// stigmer.sources and stigmer.repo: EnvRepoURL; else, for a published
// release, the GitHub Pages address the API gives; else, for a snapshot,
// RepoDir as a file: URL, so that a snapshot's tree works where it was
// made.
func (p *Plan) RepoLocation(ctx context.Context) (string, error) {
	switch {
	case p.RepoURL != "":
		return p.RepoURL, nil
	case p.Mode == Publish:
		gh, err := p.GitHub()
		if err != nil {
			return "", err
		}
		url, err := gh.PagesURL(ctx)
		if err != nil {
			return "", fmt.Errorf("finding where the repository is served (or set %s): %w", EnvRepoURL, err)
		}
		p.RepoURL = url
		return url, nil
	}
	return "file://" + filepath.Join(p.Root, RepoDir), nil
}

// PublishedLocation is where the repository that clients read now is
// served, so that the new tree keeps its indexes (repo.Options.Published):
// EnvRepoPublished, else for a published release the address the tree is
// served at (EnvRepoURL), else the snapshot tree already in RepoDir, if
// any. "none" keeps nothing.
func (p *Plan) PublishedLocation() string {
	switch {
	case p.RepoPublished == "none":
		return ""
	case p.RepoPublished != "":
		return p.RepoPublished
	case p.Mode == Publish:
		return p.RepoURL
	}
	dir := filepath.Join(p.Root, RepoDir)
	if _, err := os.Stat(filepath.Join(dir, "dists")); err == nil {
		return dir
	}
	return ""
}

// Announce prints what the run will do.
func (p *Plan) Announce(version string) {
	if p.Mode == Publish {
		fmt.Fprintf(p.Log, "release %s: publishing from tag %s\n", version, p.Tag)
	} else {
		fmt.Fprintf(p.Log, "snapshot release %s into %s, offline; nothing is published (%s)\n", version, Dir, p.Why)
	}
	if p.SignKey == "" {
		fmt.Fprintf(p.Log, "unsigned, and so no apt or dnf repository: set %s (and %s) to sign the packages, checksums.txt and the repository\n", EnvSignKey, EnvSignPassphrase)
	}
}

// ClearSigned removes, when the run signs, the packages that an earlier run
// left in dir, so that pkgbuild signs them anew: its stamps know the key
// file's path, not its contents, and a key replaced at the same path would
// otherwise leave packages signed by the old one.
func (p *Plan) ClearSigned(dir string) error {
	if p.SignKey == "" {
		return nil
	}
	for _, pattern := range []string{"*.deb", "*.rpm"} {
		old, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return fmt.Errorf("listing packages: %w", err)
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("removing a package to re-sign: %w", err)
			}
		}
	}
	return nil
}

// Run links the packages (the .deb and .rpm paths) into AssetDir under
// their asset names, runs the pinned GoReleaser on .goreleaser.yaml with the
// version, commit and date b stamped the packages with, then checks that
// checksums.txt lists each package and links them into Dir beside the
// archives. GoReleaser signs checksums.txt with key, the imported SignKey
// (nil: unsigned).
func (p *Plan) Run(ctx context.Context, b *pkgbuild.Build, packages []string, key *gpgkey.Home) error {
	start := time.Now()
	assets := filepath.Join(p.Root, AssetDir)
	if err := os.RemoveAll(assets); err != nil {
		return fmt.Errorf("clearing %s: %w", AssetDir, err)
	}
	if err := os.MkdirAll(assets, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", AssetDir, err)
	}
	for _, pkg := range packages {
		if err := linkOrCopy(pkg, filepath.Join(assets, AssetName(filepath.Base(pkg)))); err != nil {
			return err
		}
	}
	// GoReleaser builds, checksums and signs; Publish uploads, through
	// the API client the rehearsal can stand in for.
	args := []string{"run", GoReleaser, "release", "--clean", "--skip=publish"}
	if p.Mode == Snapshot {
		args = append(args, "--snapshot")
	}
	env := append(os.Environ(),
		"STIGMER_VERSION="+b.Version,
		"STIGMER_DATE="+b.Date.Format(time.RFC3339),
		"SOURCE_DATE_EPOCH="+b.Epoch(),
		"STIGMER_LDFLAGS="+b.LDFlags(),
		EnvSignPassphrase+"="+p.SignPassphrase,
	)
	if key == nil {
		args = append(args, "--skip=sign")
	} else {
		env = append(env, "GNUPGHOME="+key.Dir)
	}
	tools := filepath.Join(p.Root, ToolDir)
	install := exec.CommandContext(ctx, "go", "install", "-trimpath", SBOMTool)
	install.Env = append(os.Environ(), "GOBIN="+tools)
	install.Stdout, install.Stderr = p.Log, p.Log
	if err := install.Run(); err != nil {
		return fmt.Errorf("installing %s: %w", SBOMTool, err)
	}
	env = append(env, "PATH="+tools+string(os.PathListSeparator)+p.Path)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = p.Root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("running goreleaser %s: %w", strings.Join(args[2:], " "), err)
	}
	if err := p.linkPackages(assets, packages); err != nil {
		return err
	}
	fmt.Fprintf(p.Log, "%s %s done in %s: %s\n", p.Mode, b.Version, time.Since(start).Round(time.Millisecond), filepath.Join(p.Root, Dir))
	return nil
}

// linkPackages checks that checksums.txt covers every package and links
// them from assets into Dir.
func (p *Plan) linkPackages(assets string, packages []string) error {
	dir := filepath.Join(p.Root, Dir)
	sums, err := os.ReadFile(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		return fmt.Errorf("reading checksums: %w", err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 {
			listed[f[1]] = true
		}
	}
	for _, pkg := range packages {
		name := AssetName(filepath.Base(pkg))
		if !listed[name] {
			return fmt.Errorf("checksums.txt does not list %s; make the extra_files globs in .goreleaser.yaml match %s", name, AssetDir)
		}
		if err := linkOrCopy(filepath.Join(assets, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy hard-links src to dst, or copies it across file systems.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("copying package: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("copying package: %w", err)
	}
	return nil
}

func git(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimRight(string(out), "\n"), nil
}
