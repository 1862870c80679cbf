package pkgbuild

import (
	"context"
	"fmt"
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

// RequiredToolchain is the Go toolchain go.mod names: its toolchain line, or
// its go line when it has none.
func RequiredToolchain(gomod []byte) (string, error) {
	f, err := modfile.Parse("go.mod", gomod, nil)
	if err != nil {
		return "", fmt.Errorf("parsing go.mod: %w", err)
	}
	switch {
	case f.Toolchain != nil:
		return f.Toolchain.Name, nil
	case f.Go != nil:
		return "go" + f.Go.Version, nil
	}
	return "", fmt.Errorf("go.mod names no Go version")
}

// CheckToolchain refuses to build with a Go (have, as `go env GOVERSION`
// prints it) older than the one go.mod names (want): the binaries would
// ship the standard library's known vulnerabilities that want fixes, and
// on machines that set GOTOOLCHAIN=local the go command ignores go.mod's
// toolchain line without a word.
func CheckToolchain(have, want string) error {
	if !version.IsValid(have) {
		return fmt.Errorf("the go command reports version %q, which is not a Go release; build with %s (export GOTOOLCHAIN=%s)", have, want, want)
	}
	if version.Compare(have, want) < 0 {
		return fmt.Errorf("go is %s, older than %s that go.mod names: the binaries would carry the known vulnerabilities %s fixes; export GOTOOLCHAIN=%s (the go command then fetches it from the module proxy) and run again", have, want, want, want)
	}
	return nil
}

// goVersion is the toolchain `go` runs as in root, which honours
// GOTOOLCHAIN and go.mod's toolchain line as a build would.
func goVersion(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// checkGo sets b.GoVersion and refuses a toolchain older than go.mod's.
func (b *Build) checkGo(ctx context.Context) error {
	gomod, err := os.ReadFile(filepath.Join(b.Root, "go.mod"))
	if err != nil {
		return fmt.Errorf("reading go.mod: %w", err)
	}
	want, err := RequiredToolchain(gomod)
	if err != nil {
		return err
	}
	if b.GoVersion, err = goVersion(ctx, b.Root); err != nil {
		return err
	}
	return CheckToolchain(b.GoVersion, want)
}
