package pkgbuild

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
)

// KeyringDeclaration declares the keyring packages, relative to the root.
const KeyringDeclaration = "packaging/keyring.yaml"

// KeyringNames are the keyring packages' names per format: Debian's
// <vendor>-archive-keyring and the <vendor>-release of EPEL and Fedora.
var KeyringNames = map[string]string{"deb": "stigmer-archive-keyring", "rpm": "stigmer-release"}

// KeyringDir is where KeyringPackages writes, under Dist.
func (b *Build) KeyringDir() string { return filepath.Join(b.Dist, "keyring") }

// KeyringPackages builds the keyring packages of this version from the
// files in dir (repo.KeyringFiles writes them) into KeyringDir, anew and
// signed like the stigmer packages, and returns their paths.
func (b *Build) KeyringPackages(dir string) ([]string, error) {
	out := b.KeyringDir()
	if err := os.RemoveAll(out); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", out, err)
	}
	var made []string
	for _, format := range Formats {
		cfg, err := b.parse(KeyringDeclaration, map[string]string{
			"STIGMER_PKG_NAME":     KeyringNames[format],
			"STIGMER_PKG_VERSION":  b.Version,
			"STIGMER_PKG_KEYRING":  dir,
			"STIGMER_PKG_SIGN_KEY": b.SignKey,
			"NFPM_PASSPHRASE":      b.SignPassphrase,
		})
		if err != nil {
			return nil, err
		}
		info, err := cfg.Get(format)
		if err != nil {
			return nil, fmt.Errorf("reading %s settings of %s: %w", format, KeyringDeclaration, err)
		}
		// Relative sources are the repository's files, wherever this runs.
		for _, c := range info.Contents {
			if c.Source != "" && !filepath.IsAbs(c.Source) {
				c.Source = filepath.Join(b.Root, c.Source)
			}
		}
		packager, err := nfpm.Get(format)
		if err != nil {
			return nil, fmt.Errorf("finding packager %q: %w", format, err)
		}
		info = nfpm.WithDefaults(info)
		path := filepath.Join(out, packager.ConventionalFileName(info))
		if err := writePackage(packager, info, path); err != nil {
			return nil, err
		}
		made = append(made, path)
	}
	return made, nil
}

// KeyringKeysDir holds the public keys, beside the signing key, that the
// keyring packages carry and that earlier packages may be signed by (one
// armored key per *.asc file): the next key, shipped one release before it
// signs, and a retired key while releases it signed are still offered.
const KeyringKeysDir = "packaging/keyring"

// KeyringKeys reads the keys in KeyringKeysDir under root, by file name;
// none when the directory holds none.
func KeyringKeys(root string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(root, KeyringKeysDir, "*.asc"))
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading a keyring key: %w", err)
		}
		keys = append(keys, data)
	}
	return keys, nil
}
