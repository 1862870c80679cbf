package pkgbuild

import (
	"testing"

	"gotest.tools/v3/assert"
)

func TestRequiredToolchain(t *testing.T) {
	for _, tc := range []struct{ name, gomod, want, wantErr string }{
		{name: "toolchain line", gomod: "module m\n\ngo 1.26.8\n\ntoolchain go1.27.3\n", want: "go1.27.3"},
		{name: "go line only", gomod: "module m\n\ngo 1.26.8\n", want: "go1.26.8"},
		{name: "neither", gomod: "module m\n", wantErr: "names no Go version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RequiredToolchain([]byte(tc.gomod))
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, got, tc.want)
		})
	}
}

func TestCheckToolchain(t *testing.T) {
	for _, tc := range []struct{ have, wantErr string }{
		// Success: the toolchain go.mod names, or a newer one.
		{have: "go1.27.3"},
		{have: "go1.27.10"},
		{have: "go1.28rc1"},
		// Failure: older (GOTOOLCHAIN=local on a machine with an older Go),
		// or not a release at all.
		{have: "go1.26.8", wantErr: "go is go1.26.8, older than go1.27.3 that go.mod names: the binaries would carry the known vulnerabilities go1.27.3 fixes; export GOTOOLCHAIN=go1.27.3"},
		{have: "go1.27", wantErr: "older than go1.27.3"},
		{have: "devel +abc", wantErr: `reports version "devel +abc", which is not a Go release`},
	} {
		t.Run(tc.have, func(t *testing.T) {
			err := CheckToolchain(tc.have, "go1.27.3")
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			assert.NilError(t, err)
		})
	}
}
