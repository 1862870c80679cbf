package repo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
)

// TestServeAt is where the VM test's guests serve the trees from: each
// tree is copied there in turn, as a release replaces what a server holds.
const TestServeAt = "/srv/stigmer-repo"

// TestTrees writes, under dir, the trees the VM test installs from and the
// README's blocks to run (NAME.sh), all served at TestServeAt:
//
//	old          the older release, signed by good
//	new          the current release over old (old is its earlier tree)
//	other-key    the current release signed by other, which no one trusts
//	tampered-rpm the current release signed by good, but its rpm changed
//	             after signing (the tree's metadata and signature intact)
//
// older and current are each release's signed amd64 .deb and .rpm, and its
// keyring packages (the README's blocks install them first). The bad
// trees offer the current release, so that a guest running the older one
// has an upgrade to refuse.
func TestTrees(ctx context.Context, dir string, older, current []string, good, other *gpgkey.Home, readme []byte, date time.Time, log io.Writer) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	url := "file://" + TestServeAt
	tampered, err := tamperRPM(dir, current)
	if err != nil {
		return err
	}
	trees := []struct {
		name     string
		packages []string
		earlier  string
		key      *gpgkey.Home
	}{
		{"old", older, "", good},
		{"new", current, filepath.Join(dir, "old"), good},
		{"other-key", current, "", other},
		{"tampered-rpm", tampered, "", good},
	}
	for _, t := range trees {
		o := Options{Dir: filepath.Join(dir, t.name), URL: url, Packages: t.packages, Earlier: t.earlier, Key: t.key, Date: date, Log: log}
		if err := Write(ctx, o); err != nil {
			return fmt.Errorf("writing the VM test's %s tree: %w", t.name, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, ".tampered")); err != nil {
		return err
	}
	blocks, err := Readme(readme, url, good.Fingerprint)
	if err != nil {
		return err
	}
	for name, block := range blocks {
		if err := os.WriteFile(filepath.Join(dir, name+".sh"), []byte(block), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tamperRPM copies packages into dir/.tampered with one byte of the stigmer rpm's
// payload (its last KiB, inside the compressed cpio archive) flipped, and
// returns the copies.
func tamperRPM(dir string, packages []string) ([]string, error) {
	out := filepath.Join(dir, ".tampered")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var copies []string
	for _, p := range packages {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(p, ".rpm") && !strings.HasPrefix(filepath.Base(p), "stigmer-release-") {
			if len(data) < 4096 {
				return nil, fmt.Errorf("%s is too small to be a stigmer rpm", p)
			}
			data[len(data)-1024] ^= 0xff
		}
		c := filepath.Join(out, filepath.Base(p))
		if err := os.WriteFile(c, data, 0o644); err != nil {
			return nil, err
		}
		copies = append(copies, c)
	}
	return copies, nil
}
