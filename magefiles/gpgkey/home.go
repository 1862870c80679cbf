package gpgkey

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Home is a GNUPGHOME that holds exactly one secret key.
type Home struct {
	Dir         string // the GNUPGHOME
	Fingerprint string // the secret key's primary fingerprint, upper-case hex
	passphrase  string
	log         io.Writer
}

// Import reads the armored private key in file into a new Home; passphrase
// unlocks it ("" for none). It fails when the file holds other than one
// secret key.
func Import(ctx context.Context, file, passphrase string, log io.Writer) (*Home, error) {
	h, err := newHome(passphrase, log)
	if err != nil {
		return nil, err
	}
	if _, err := h.gpg(ctx, nil, "--import", file); err != nil {
		h.Close()
		return nil, fmt.Errorf("importing %s: %w", file, err)
	}
	if err := h.readFingerprint(ctx); err != nil {
		h.Close()
		return nil, fmt.Errorf("%s: %w; export exactly one (gpg --armor --export-secret-keys KEYID)", file, err)
	}
	return h, nil
}

// Generate makes a Home with a new throwaway RSA 3072 signing key for uid
// ("Name <email>"), protected by passphrase: what a release key looks like,
// for the tests.
func Generate(ctx context.Context, uid, passphrase string, log io.Writer) (*Home, error) {
	h, err := newHome(passphrase, log)
	if err != nil {
		return nil, err
	}
	if _, err := h.gpg(ctx, nil, "--quick-gen-key", uid, "rsa3072", "sign", "never"); err != nil {
		h.Close()
		return nil, fmt.Errorf("generating a key for %s: %w", uid, err)
	}
	if err := h.readFingerprint(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func newHome(passphrase string, log io.Writer) (*Home, error) {
	// gpg-agent's socket lives in GNUPGHOME: keep the path short.
	dir, err := os.MkdirTemp("", "stigmer-gnupg-")
	if err != nil {
		return nil, fmt.Errorf("creating GNUPGHOME: %w", err)
	}
	return &Home{Dir: dir, passphrase: passphrase, log: log}, nil
}

// readFingerprint sets Fingerprint, requiring exactly one secret key.
func (h *Home) readFingerprint(ctx context.Context) error {
	out, err := h.gpg(ctx, nil, "--with-colons", "--list-secret-keys")
	if err != nil {
		return fmt.Errorf("listing the secret keys: %w", err)
	}
	fprs := primaryFingerprints(out, "sec", "ssb")
	if len(fprs) != 1 {
		return fmt.Errorf("holds %d secret keys, not one", len(fprs))
	}
	h.Fingerprint = fprs[0]
	return nil
}

// Env is the environment for a gpg run on this Home (GoReleaser's).
func (h *Home) Env() []string {
	return append(os.Environ(), "GNUPGHOME="+h.Dir)
}

// Close stops the gpg-agent that gpg started for the Home and removes it.
func (h *Home) Close() {
	cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
	cmd.Env = h.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(h.log, "stopping gpg-agent of %s: %v: %s\n", h.Dir, err, bytes.TrimSpace(out))
	}
	if err := os.RemoveAll(h.Dir); err != nil {
		fmt.Fprintf(h.log, "removing %s: %v\n", h.Dir, err)
	}
}

// ExportSecret writes the armored secret key to file (mode 0600), for
// signers that read a key file (nfpm).
func (h *Home) ExportSecret(ctx context.Context, file string) error {
	out, err := h.gpg(ctx, nil, "--armor", "--export-secret-keys", h.Fingerprint)
	if err != nil {
		return fmt.Errorf("exporting the secret key: %w", err)
	}
	return os.WriteFile(file, out, 0o600)
}

// Public returns the public key, armored or as binary packets (what apt's
// Signed-By keyrings hold).
func (h *Home) Public(ctx context.Context, armor bool) ([]byte, error) {
	args := []string{"--export", h.Fingerprint}
	if armor {
		args = append([]string{"--armor"}, args...)
	}
	out, err := h.gpg(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("exporting the public key: %w", err)
	}
	return out, nil
}

// Digest is the hash the signatures are made with: SHA-512, which rpm 4.14
// (RHEL 8), apt 2.0 (Ubuntu 20.04) and every later apt accept.
const Digest = "SHA512"

// DetachSign writes an armored detached signature of in to out.
func (h *Home) DetachSign(ctx context.Context, in, out string) error {
	_, err := h.gpg(ctx, nil, "--yes", "--armor", "--digest-algo", Digest, "--output", out, "--detach-sign", in)
	return err
}

// ClearSign writes in, clear-signed, to out (apt's InRelease).
func (h *Home) ClearSign(ctx context.Context, in, out string) error {
	_, err := h.gpg(ctx, nil, "--yes", "--digest-algo", Digest, "--output", out, "--clearsign", in)
	return err
}

// gpg runs gpg in batch mode on the Home with stdin, passing the
// passphrase on its own descriptor, and returns its standard output.
func (h *Home) gpg(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	go func() {
		// Written in full before gpg reads it: a pipe holds far more.
		io.WriteString(w, h.passphrase+"\n")
		w.Close()
	}()
	full := []string{"--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback", "--passphrase-fd", "3"}
	if h.Fingerprint != "" {
		full = append(full, "--local-user", h.Fingerprint)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "gpg", full...)
	cmd.Env = h.Env()
	cmd.Stdin = stdin
	cmd.ExtraFiles = []*os.File{r}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gpg %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// Dearmor returns the binary packets of an armored key block (what apt's
// Signed-By keyrings hold).
func (h *Home) Dearmor(ctx context.Context, armored []byte) ([]byte, error) {
	out, err := h.gpg(ctx, bytes.NewReader(armored), "--dearmor")
	if err != nil {
		return nil, fmt.Errorf("reading an armored key: %w", err)
	}
	return out, nil
}

// Fingerprints lists the primary fingerprints of the keys in an armored
// or binary key block, without importing them.
func (h *Home) Fingerprints(ctx context.Context, keys []byte) ([]string, error) {
	out, err := h.gpg(ctx, bytes.NewReader(keys), "--with-colons", "--show-keys")
	if err != nil {
		return nil, fmt.Errorf("reading keys: %w", err)
	}
	fprs := primaryFingerprints(out, "pub", "sub")
	return fprs, nil
}

// primaryFingerprints reads gpg --with-colons output: the fingerprint
// (field 10 of an fpr line) that follows each primary key's line (kind:
// pub or sec), not those of its subkeys (sub: sub or ssb).
func primaryFingerprints(colons []byte, kind, sub string) []string {
	var fprs []string
	primary := false
	for _, l := range strings.Split(string(colons), "\n") {
		f := strings.Split(l, ":")
		switch {
		case f[0] == kind:
			primary = true
		case f[0] == "fpr" && primary && len(f) > 9:
			fprs = append(fprs, f[9])
			primary = false
		case f[0] == sub:
			primary = false
		}
	}
	return fprs
}
