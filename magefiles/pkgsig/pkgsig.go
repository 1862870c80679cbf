// Package pkgsig checks the signatures a release puts inside its packages
// against a set of trusted public keys: a .deb's origin signature (the
// debsign-style _gpgorigin member nfpm writes, checked with gpgv) and an
// rpm's header signature (rpmkeys --checksig against a private rpm
// database holding only those keys).
//
// It deliberately trusts nothing else: not the host's keyrings, not the
// host's rpm database, not a package's own claim of who signed it. A
// package nobody signed fails as surely as one signed by a stranger.
package pkgsig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Verifier checks packages against the public keys it was made with.
// Close removes its scratch directory.
type Verifier struct {
	dir     string // scratch: the gpgv keyring, the rpm database
	keyring string // binary public keys, for gpgv
	rpmdb   string
}

// Tools maps the commands a Verifier runs to the Debian packages with them.
var Tools = [][2]string{{"gpgv", "gpgv"}, {"rpmkeys", "rpm"}}

// New makes a Verifier that trusts the keys: each an armored public key
// block (what gpg --armor --export writes). It fails on a key that gpg or
// rpm cannot read.
func New(ctx context.Context, keys [][]byte) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key to check the packages against")
	}
	dir, err := os.MkdirTemp("", "stigmer-pkgsig-")
	if err != nil {
		return nil, fmt.Errorf("creating a scratch directory: %w", err)
	}
	v := &Verifier{dir: dir, keyring: filepath.Join(dir, "trusted.gpg"), rpmdb: filepath.Join(dir, "rpmdb")}
	if err := v.trust(ctx, keys); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// trust writes the keyring gpgv reads and imports each key into the rpm
// database, one file each (rpm imports the first key of a file only).
func (v *Verifier) trust(ctx context.Context, keys [][]byte) error {
	if err := os.MkdirAll(v.rpmdb, 0o700); err != nil {
		return err
	}
	var keyring []byte
	for i, k := range keys {
		file := filepath.Join(v.dir, fmt.Sprintf("key-%d.asc", i))
		if err := os.WriteFile(file, k, 0o644); err != nil {
			return err
		}
		bin, err := output(ctx, nil, "gpg", "--batch", "--no-options", "--homedir", v.dir, "--output", "-", "--dearmor", file)
		if err != nil {
			return fmt.Errorf("reading trusted key %d: %w", i+1, err)
		}
		keyring = append(keyring, bin...)
		if _, err := output(ctx, nil, "rpmkeys", "--dbpath", v.rpmdb, "--import", file); err != nil {
			return fmt.Errorf("importing trusted key %d into rpm: %w", i+1, err)
		}
	}
	return os.WriteFile(v.keyring, keyring, 0o644)
}

// Close removes the Verifier's scratch directory.
func (v *Verifier) Close() error { return os.RemoveAll(v.dir) }

// Verify checks the package at path, by its name's suffix: nil when a
// trusted key signed it and it has not changed since; else an error that
// names the file and says what is wrong.
func (v *Verifier) Verify(ctx context.Context, path string) error {
	var err error
	switch {
	case strings.HasSuffix(path, ".deb"):
		err = v.verifyDeb(ctx, path)
	case strings.HasSuffix(path, ".rpm"):
		err = v.verifyRPM(ctx, path)
	default:
		err = errors.New("neither a .deb nor an .rpm")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// VerifyAll checks every package and returns one error naming each that
// fails, or nil when all pass.
func (v *Verifier) VerifyAll(ctx context.Context, paths []string) error {
	var bad []string
	for _, p := range paths {
		if err := v.Verify(ctx, p); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d packages fail the signature check:\n  %s", len(bad), len(paths), strings.Join(bad, "\n  "))
	}
	return nil
}

// verifyDeb checks _gpgorigin, a detached signature over debian-binary,
// control.tar.* and data.tar.* as they stand in the archive, in that order.
func (v *Verifier) verifyDeb(ctx context.Context, path string) error {
	members, err := readAr(path)
	if err != nil {
		return err
	}
	sig, ok := members["_gpgorigin"]
	if !ok {
		return errors.New("not signed: the .deb has no _gpgorigin member")
	}
	var signed []byte
	for _, prefix := range []string{"debian-binary", "control.tar", "data.tar"} {
		name, err := member(members, prefix)
		if err != nil {
			return err
		}
		signed = append(signed, members[name]...)
	}
	sigFile := filepath.Join(v.dir, "deb.sig")
	if err := os.WriteFile(sigFile, sig, 0o644); err != nil {
		return err
	}
	out, err := output(ctx, bytes.NewReader(signed), "gpgv", "--status-fd", "1", "--keyring", v.keyring, sigFile, "-")
	if err != nil || !strings.Contains(string(out), "[GNUPG:] VALIDSIG ") {
		return fmt.Errorf("its signature does not verify against the release keys: %w", errOr(err, string(out)))
	}
	return nil
}

// verifyRPM runs rpmkeys --checksig with every signature and digest
// required: without that, rpm passes an unsigned package ("digests OK").
func (v *Verifier) verifyRPM(ctx context.Context, path string) error {
	out, err := output(ctx, nil, "rpmkeys", "--dbpath", v.rpmdb, "--define", "_pkgverify_level all", "--checksig", path)
	if err != nil || !strings.Contains(string(out), "digests signatures OK") {
		return fmt.Errorf("rpm -K does not pass it against the release keys: %w", errOr(err, string(out)))
	}
	return nil
}

// errOr is err with the tool's output, or the output alone.
func errOr(err error, out string) error {
	out = strings.TrimSpace(out)
	switch {
	case err == nil:
		return errors.New(out)
	case out == "":
		return err
	}
	return fmt.Errorf("%w; it says: %s", err, out)
}

// member returns the name of the one member that starts with prefix.
func member(members map[string][]byte, prefix string) (string, error) {
	var found []string
	for name := range members {
		if strings.HasPrefix(name, prefix) {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("the .deb has %d %s* members, want 1", len(found), prefix)
	}
	return found[0], nil
}

// readAr reads the members of an ar archive (a .deb) by name.
func readAr(path string) (map[string][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, errors.New("not a .deb: no ar header")
	}
	members := map[string][]byte{}
	for off := len(magic); off < len(data); {
		if off+60 > len(data) {
			return nil, errors.New("a truncated ar member header")
		}
		hdr := data[off : off+60]
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		var size int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(hdr[48:58])), "%d", &size); err != nil || size < 0 || off+60+size > len(data) {
			return nil, fmt.Errorf("ar member %q has a bad size", name)
		}
		members[name] = data[off+60 : off+60+size]
		off += 60 + size + size%2
	}
	return members, nil
}

// output runs a command with stdin and returns its standard output; the
// error carries its standard error.
func output(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
