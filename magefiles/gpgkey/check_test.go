package gpgkey

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func needGPG(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatalf("gpg is not installed (apt-get install gpg): %v", err)
	}
}

// TestCheckAcceptsAGeneratedReleaseKey: the key Generate makes (what the
// README tells a release engineer to make) passes, and signs.
func TestCheckAcceptsAGeneratedReleaseKey(t *testing.T) {
	needGPG(t)
	ctx := context.Background()
	h, err := Generate(ctx, "Test <test@example.invalid>", "pass phrase", os.Stderr)
	assert.NilError(t, err)
	defer h.Close()
	assert.NilError(t, h.Check(ctx))
	in := t.TempDir() + "/Release"
	assert.NilError(t, os.WriteFile(in, []byte("Origin: test\n"), 0o644))
	assert.NilError(t, h.ClearSign(ctx, in, in+".inrelease"))
	assert.NilError(t, h.DetachSign(ctx, in, in+".gpg"))
	out, err := exec.Command("gpg", "--homedir", h.Dir, "--verify", in+".gpg", in).CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Assert(t, is.Contains(string(out), "Good signature"))
}

// TestCheckRefusesWhatRPMOrAptRefuse: an EdDSA key, a short RSA key and an
// RSA key with SHA-1 self-signatures each fail with the reason.
func TestCheckRefusesWhatRPMOrAptRefuse(t *testing.T) {
	needGPG(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ed25519", []string{"--quick-gen-key", "E <e@example.invalid>", "ed25519", "sign", "never"}, "is not RSA (OpenPGP algorithm 22)"},
		{"rsa1024", []string{"--quick-gen-key", "S <s@example.invalid>", "rsa1024", "sign", "never"}, "has 1024 bits; use at least 2048"},
		{"sha1", []string{"--cert-digest-algo", "SHA1", "--quick-gen-key", "H <h@example.invalid>", "rsa3072", "sign", "never"}, "digest algorithm 2 (2 is SHA-1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHome("", os.Stderr)
			assert.NilError(t, err)
			defer h.Close()
			_, err = h.gpg(ctx, nil, tc.args...)
			assert.NilError(t, err)
			assert.NilError(t, h.readFingerprint(ctx))
			err = h.Check(ctx)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, "would be refused")
		})
	}
}

// TestImportRefusesTwoKeys: a key file with two secret keys is ambiguous.
func TestImportRefusesTwoKeys(t *testing.T) {
	needGPG(t)
	ctx := context.Background()
	h, err := newHome("", os.Stderr)
	assert.NilError(t, err)
	defer h.Close()
	for _, uid := range []string{"A <a@example.invalid>", "B <b@example.invalid>"} {
		_, err := h.gpg(ctx, nil, "--quick-gen-key", uid, "rsa2048", "sign", "never")
		assert.NilError(t, err)
	}
	file := t.TempDir() + "/two.asc"
	out, err := h.gpg(ctx, nil, "--armor", "--export-secret-keys")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(file, out, 0o600))
	_, err = Import(ctx, file, "", os.Stderr)
	assert.ErrorContains(t, err, "holds 2 secret keys, not one")
}

// TestCheckRefusesAKeyThatExpiresWithinAYear: a key expiring in six
// months fails with the command that extends it; one valid for two years,
// and one without expiry, pass.
func TestCheckRefusesAKeyThatExpiresWithinAYear(t *testing.T) {
	needGPG(t)
	ctx := context.Background()
	for _, tc := range []struct {
		expire string
		want   string // "" passes
	}{
		{"6m", "expires too soon for a release"},
		{"2y", ""},
		{"never", ""},
	} {
		t.Run(tc.expire, func(t *testing.T) {
			h, err := newHome("", os.Stderr)
			assert.NilError(t, err)
			defer h.Close()
			_, err = h.gpg(ctx, nil, "--quick-gen-key", "X <x@example.invalid>", "rsa3072", "sign", tc.expire)
			assert.NilError(t, err)
			assert.NilError(t, h.readFingerprint(ctx))
			err = h.Check(ctx)
			if tc.want == "" {
				assert.NilError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, "the primary key expires on ")
			assert.ErrorContains(t, err, "gpg --quick-set-expire "+h.Fingerprint+" 3y\n")
		})
	}
}

// TestCheckExpiry reads gpg's colon listing: the primary key, signing
// subkeys only, and a date within a year.
func TestCheckExpiry(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	soon := strconv.FormatInt(now.Add(300*24*time.Hour).Unix(), 10)
	later := strconv.FormatInt(now.Add(400*24*time.Hour).Unix(), 10)
	line := func(kind, exp, caps string) string {
		return kind + ":u:3072:1:AAAABBBBCCCCDDDD:1700000000:" + exp + "::u:::" + caps + ":::::::\n"
	}
	assert.NilError(t, checkExpiry("F", []byte(line("pub", later, "scSC")+line("sub", soon, "e")), now))
	assert.NilError(t, checkExpiry("F", []byte(line("pub", "", "scSC")), now))
	assert.ErrorContains(t, checkExpiry("F", []byte(line("pub", later, "scSC")+line("sub", soon, "s")), now), "signing subkey AAAABBBBCCCCDDDD expires on 2027-08-28")
	assert.ErrorContains(t, checkExpiry("F", []byte(line("pub", soon, "scSC")), now), "the primary key expires on 2027-08-28")
}
