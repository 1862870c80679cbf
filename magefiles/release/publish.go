package release

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stigmer/stigmer/magefiles/ghrelease"
)

// NotesFile is the release's notes (Markdown), written by WriteNotes
// beside Dir (GoReleaser clears Dir on every run), read by Publish.
const NotesFile = "dist/release-notes.md"

// Prerelease says whether the tag is a pre-release (v1.2.0-rc.1): it is
// released as files but not published to the stable repository, whose
// hosts would otherwise be offered it as an upgrade.
func (p *Plan) Prerelease() bool { return strings.Contains(p.Tag, "-") }

// WriteNotes writes NotesFile for version, built with goVersion: the
// release key's fingerprint (every release carries it, so a host can check
// the key it was given against more than one place), how to verify, the
// Go toolchain (whose standard library the binaries carry: a vulnerability
// report names Go versions), and the commits since the previous tag.
func (p *Plan) WriteNotes(ctx context.Context, version, goVersion, fingerprint string, keyring []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## stigmer %s\n\n", version)
	fmt.Fprintf(&b, "Built with Go %s (`stigmer version` shows it too).\n", strings.TrimPrefix(goVersion, "go"))
	fmt.Fprintf(&b, "Signed with the release key `%s` (packages, `checksums.txt`, the apt and dnf repository).\n", fingerprint)
	if len(keyring) > 1 {
		fmt.Fprintf(&b, "The keyring packages (`stigmer-archive-keyring`, `stigmer-release`) carry the keys %s; a later release may be signed by any of them.\n", "`"+strings.Join(keyring, "`, `")+"`")
	}
	b.WriteString("\nCheck the key before you trust it, and the files against it:\n\n```sh\n")
	b.WriteString("gpg --show-keys stigmer-archive-keyring.asc        # fingerprint as above\n")
	b.WriteString("gpg --verify checksums.txt.sig checksums.txt\n")
	b.WriteString("sha256sum --ignore-missing -c checksums.txt\n")
	b.WriteString("gh attestation verify stigmer_" + version + "_linux_amd64.tar.gz --repo " + p.Repository + "\n```\n")
	if p.Prerelease() {
		b.WriteString("\nA pre-release: its files are here, but the apt and dnf repository does not offer it.\n")
	}
	changes, err := p.changes(ctx)
	if err != nil {
		return err
	}
	b.WriteString("\n### Changes\n\n" + changes)
	return os.WriteFile(filepath.Join(p.Root, NotesFile), []byte(b.String()), 0o644)
}

// changes lists the commits since the previous v* tag (all, for the first).
func (p *Plan) changes(ctx context.Context) (string, error) {
	rng := "HEAD"
	if prev, err := git(ctx, p.Root, "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD^"); err == nil {
		rng = prev + "..HEAD"
	}
	log, err := git(ctx, p.Root, "log", "--no-merges", "--format=- %s (%h)", rng)
	if err != nil {
		return "", err
	}
	if log == "" {
		return "No commits since the previous release.\n", nil
	}
	return log + "\n", nil
}

// Assets lists the files in Dir that a release uploads: every file
// checksums.txt names, then checksums.txt and its signature.
func (p *Plan) Assets() ([]string, error) {
	dir := filepath.Join(p.Root, Dir)
	f, err := os.Open(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		return nil, fmt.Errorf("reading the release's checksums (run go tool mage release first): %w", err)
	}
	defer f.Close()
	var files []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 {
			files = append(files, filepath.Join(dir, fields[1]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	files = append(files, filepath.Join(dir, "checksums.txt"), filepath.Join(dir, "checksums.txt.sig"))
	for _, file := range files {
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("a release asset is missing: %w", err)
		}
	}
	return files, nil
}

// Publish creates the GitHub release of the tag from what `go tool mage
// release` left in Dir and NotesFile, through the API. Only a run that
// would publish does; any other says why not and fails.
func (p *Plan) Publish(ctx context.Context) (ghrelease.Release, error) {
	if p.Mode != Publish {
		return ghrelease.Release{}, fmt.Errorf("nothing to publish: this is a snapshot (%s)", p.Why)
	}
	files, err := p.Assets()
	if err != nil {
		return ghrelease.Release{}, err
	}
	notes, err := os.ReadFile(filepath.Join(p.Root, NotesFile))
	if err != nil {
		return ghrelease.Release{}, fmt.Errorf("reading the release notes (run go tool mage release first): %w", err)
	}
	gh, err := p.GitHub()
	if err != nil {
		return ghrelease.Release{}, err
	}
	return gh.Publish(ctx, ghrelease.NewRelease{Tag: p.Tag, Name: "stigmer " + strings.TrimPrefix(p.Tag, "v"),
		Notes: string(notes), Prerelease: p.Prerelease(), Files: files})
}

// PagesOutput is the step output the workflow's Pages upload and deploy
// are conditioned on: pages=true for a published release that is not a
// pre-release.
func (p *Plan) PagesOutput() string {
	return fmt.Sprintf("pages=%t\n", p.Mode == Publish && !p.Prerelease())
}

// WriteOutputs appends PagesOutput to the file Actions names in
// GITHUB_OUTPUT (file), if any.
func (p *Plan) WriteOutputs(file string) error {
	if file == "" {
		return nil
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the step's outputs: %w", err)
	}
	if _, err := f.WriteString(p.PagesOutput()); err != nil {
		f.Close()
		return fmt.Errorf("writing the step's outputs: %w", err)
	}
	return f.Close()
}
