package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvOut names the directory a play writes to, instead of DefaultOut.
const EnvOut = "STIGMER_REHEARSAL_OUT"

// DefaultOut is where a play writes, relative to the repository root.
const DefaultOut = "dist/rehearsal"

// Out is the directory the rehearsal of the repository at root writes to
// and others read it from: $STIGMER_REHEARSAL_OUT, else DefaultOut.
func Out(root string, getenv func(string) string) string {
	if d := getenv(EnvOut); d != "" {
		return d
	}
	return filepath.Join(root, DefaultOut)
}

// Published are the tags whose release deploys the site, in order: every
// tag but the pre-release.
func Published() []string {
	var out []string
	for _, t := range Tags {
		if !strings.Contains(t, "-") {
			out = append(out, t)
		}
	}
	return out
}

// Played is the commit the finished play in out rehearsed (the clone's
// HEAD before the first tag's commit), or "" when out holds none: no
// clone, or a play that stopped before the last tag released.
func Played(ctx context.Context, out string) (string, error) {
	last := filepath.Join(out, ReleasesDir, Tags[len(Tags)-1])
	if _, err := os.Stat(last); errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	for _, tag := range Published() {
		if _, err := os.Stat(SiteOf(out, tag)); err != nil {
			return "", nil
		}
	}
	// A clone without the first tag is a play that did not finish either
	// (git says which of the two in its error, which nobody acts on: the
	// play is made again).
	r := &Rehearsal{Options: Options{Out: out}}
	commit, err := r.git(ctx, r.Clone(), "rev-parse", "--verify", "--quiet", Tags[0]+"^")
	if err != nil {
		return "", nil
	}
	return strings.TrimSpace(commit), nil
}

// SiteOf is the Pages site the published tag deployed, as a play in out
// keeps it.
func SiteOf(out, tag string) string { return filepath.Join(out, ArtifactsDir, tag) }

// FileAt is the file at path (relative to the repository's root) as the
// play in out committed it for tag.
func FileAt(ctx context.Context, out, tag, path string) ([]byte, error) {
	r := &Rehearsal{Options: Options{Out: out}}
	data, err := r.git(ctx, r.Clone(), "show", tag+":"+path)
	if err != nil {
		return nil, fmt.Errorf("reading %s of the rehearsal's %s: %w", path, tag, err)
	}
	return []byte(data), nil
}
