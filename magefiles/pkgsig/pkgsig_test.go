package pkgsig

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/testpkg"
)

// signedPackages writes a .deb and an .rpm signed with key (unsigned when
// key is nil) into a new directory and returns their paths.
func signedPackages(t *testing.T, key *gpgkey.Home) []string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := ""
	if key != nil {
		keyFile = filepath.Join(dir, "key.asc")
		assert.NilError(t, key.ExportSecret(ctx, keyFile))
	}
	payload := filepath.Join(dir, "payload")
	assert.NilError(t, os.WriteFile(payload, []byte("#!/bin/sh\necho 1.0.0\n"), 0o755))
	var out []string
	for _, format := range []string{"deb", "rpm"} {
		path, err := testpkg.Write(dir, testpkg.Spec{Format: format, Arch: "amd64", Version: "1.0.0", Payload: payload, SignKey: keyFile, MTime: time.Unix(1e9, 0)})
		assert.NilError(t, err)
		out = append(out, path)
	}
	return out
}

func newKey(t *testing.T, uid string) (*gpgkey.Home, []byte) {
	t.Helper()
	k, err := gpgkey.Generate(context.Background(), uid, "", os.Stderr)
	assert.NilError(t, err)
	t.Cleanup(k.Close)
	pub, err := k.Public(context.Background(), true)
	assert.NilError(t, err)
	return k, pub
}

func verifier(t *testing.T, keys ...[]byte) *Verifier {
	t.Helper()
	v, err := New(context.Background(), keys)
	assert.NilError(t, err)
	t.Cleanup(func() { assert.Check(t, v.Close()) })
	return v
}

// flipped copies path with one byte flipped at off from the end.
func flipped(t *testing.T, path string, off int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	data[len(data)-off] ^= 0xff
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	assert.NilError(t, os.WriteFile(out, data, 0o644))
	return out
}

// TestVerify: packages signed by a trusted key pass; one signed by
// another key, one unsigned and one changed after signing each fail, named.
func TestVerify(t *testing.T) {
	ctx := context.Background()
	release, releasePub := newKey(t, "Release <release@example.invalid>")
	stranger, strangerPub := newKey(t, "Stranger <stranger@example.invalid>")
	_, nextPub := newKey(t, "Next <next@example.invalid>")
	good, byStranger, unsigned := signedPackages(t, release), signedPackages(t, stranger), signedPackages(t, nil)

	// success: each key of the set is trusted
	for _, v := range []*Verifier{verifier(t, releasePub), verifier(t, nextPub, releasePub)} {
		for _, p := range good {
			assert.NilError(t, v.Verify(ctx, p))
		}
	}
	assert.NilError(t, verifier(t, strangerPub).Verify(ctx, byStranger[0]))

	// failure
	v := verifier(t, releasePub, nextPub)
	err := v.VerifyAll(ctx, append(append([]string{}, good...), byStranger[1]))
	assert.ErrorContains(t, err, "1 of 3 packages fail the signature check:\n  "+byStranger[1]+": rpm -K")
	for _, c := range []struct {
		name, path, want string
	}{
		{"deb by another key", byStranger[0], "its signature does not verify against the release keys"},
		{"rpm by another key", byStranger[1], "rpm -K does not pass it against the release keys"},
		{"unsigned deb", unsigned[0], "not signed: the .deb has no _gpgorigin member"},
		{"unsigned rpm", unsigned[1], "rpm -K does not pass it"},
		{"deb changed after signing", flipped(t, good[0], 100), "its signature does not verify"},
		{"rpm changed after signing", flipped(t, good[1], 100), "rpm -K does not pass it"},
		{"not a package", filepath.Join(t.TempDir(), "x.tar.gz"), "neither a .deb nor an .rpm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := v.Verify(ctx, c.path)
			assert.ErrorContains(t, err, c.want)
			assert.ErrorContains(t, err, c.path)
		})
	}
}
