package pkgbuild

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
)

// EnvFile is the env file's source as the declaration names it; the .deb
// installs it as /etc/default/stigmer, the .rpm as /etc/sysconfig/stigmer,
// both as a conffile that an upgrade must not overwrite once edited.
const EnvFile = "packaging/stigmer.env"

// OlderEnvLine is the line that the env file of an older test build has and
// the current one lacks. The upgrade tests need the shipped default to
// change between the two versions, or dpkg and rpm never have to choose
// between the operator's edit and the new default.
const OlderEnvLine = "# (Older test build: this line is gone from the current default.)"

// OlderEnv derives the older test build's env file from the current one, so
// the repository keeps one env file: the same text plus OlderEnvLine.
func OlderEnv(current []byte) []byte {
	out := bytes.TrimRight(current, "\n")
	return append(append(out, '\n', '\n'), OlderEnvLine+"\n"...)
}

// olderEnvPath is where a build with OlderEnvFile set writes the derived env file.
func (b *Build) olderEnvPath() string { return filepath.Join(b.Dist, ".build", "stigmer.env.older") }

// writeOlderEnv writes the derived env file for a build with OlderEnvFile set.
func (b *Build) writeOlderEnv() error {
	cur, err := os.ReadFile(filepath.Join(b.Root, EnvFile))
	if err != nil {
		return fmt.Errorf("reading %s: %w", EnvFile, err)
	}
	if err := os.MkdirAll(filepath.Dir(b.olderEnvPath()), 0o755); err != nil {
		return fmt.Errorf("creating build dir: %w", err)
	}
	if err := os.WriteFile(b.olderEnvPath(), OlderEnv(cur), 0o644); err != nil {
		return fmt.Errorf("writing the older env file: %w", err)
	}
	return nil
}

// swapEnvFile points every content entry whose source is EnvFile at the
// derived older env file; it fails when the declaration names none, so a
// renamed env file cannot silently make the upgrade tests vacuous.
func (b *Build) swapEnvFile(cfg *nfpm.Config) error {
	n := 0
	for _, c := range cfg.Contents {
		if c.Source == EnvFile {
			c.Source = b.olderEnvPath()
			n++
		}
	}
	for _, o := range cfg.Overrides {
		for _, c := range o.Contents {
			if c.Source == EnvFile {
				c.Source = b.olderEnvPath()
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("%s names no %s to swap for the older env file; update pkgbuild.EnvFile", Declaration, EnvFile)
	}
	return nil
}
