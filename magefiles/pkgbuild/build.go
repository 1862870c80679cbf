package pkgbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Arches are the GOARCH values packaged, formats the nfpm packagers used.
var (
	Arches  = []string{"amd64", "arm64"}
	Formats = []string{"deb", "rpm"}
)

// Build is the shared state of one run: where the repository and the
// outputs are, and what the outputs are stamped with. Its methods are not
// safe for concurrent use.
type Build struct {
	Root    string    // repository root
	Dist    string    // output directory (Options.Dist, default dist/)
	Version string    // semver, see VersionFromDescribe
	Commit  string    // full commit hash of HEAD
	Date    time.Time // commit time: SOURCE_DATE_EPOCH, mtimes, main.date
	Log     io.Writer // step timings
	// GoVersion is the toolchain the binaries are built with (go env
	// GOVERSION); New refuses one older than go.mod's toolchain line.
	GoVersion string
	// SignKey is an OpenPGP private key file that nfpm signs the .deb and
	// .rpm with, unlocked by SignPassphrase; "" leaves them unsigned.
	SignKey, SignPassphrase string
	// OlderEnvFile ships OlderEnv's variant of the env file instead of
	// EnvFile: the upgrade tests' older build sets it, so that an upgrade changes the shipped default.
	OlderEnvFile bool
	// OlderUnitDir ships the .deb's unit in OlderDebUnitPath, where debs
	// built before the move to /usr/lib had it: the upgrade tests' older
	// build sets it, so that an upgrade moves the unit as a real one does.
	OlderUnitDir bool
}

// Options are the caller's choices for one build. pkgbuild reads no
// environment variable: the magefiles' top level maps the user's overrides
// (STIGMER_VERSION, STIGMER_DIST) onto these fields, once.
type Options struct {
	// Version is taken as given (checked by CheckVersion); "" means git
	// describe (with +dirty for uncommitted changes, see MarkDirty).
	Version string
	// Dist is the output directory, relative to root unless absolute; ""
	// means root/dist.
	Dist string
	// SignKey, SignPassphrase, OlderEnvFile and OlderUnitDir: see Build.
	SignKey, SignPassphrase    string
	OlderEnvFile, OlderUnitDir bool
}

// New reads the repository at root and returns the build that opts
// describe.
func New(ctx context.Context, root string, log io.Writer, opts Options) (*Build, error) {
	b := &Build{Root: root, Log: log, Dist: filepath.Join(root, "dist"),
		OlderEnvFile: opts.OlderEnvFile, OlderUnitDir: opts.OlderUnitDir,
		SignKey: opts.SignKey, SignPassphrase: opts.SignPassphrase}
	if d := opts.Dist; d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		b.Dist = d
	}
	if err := b.checkGo(ctx); err != nil {
		return nil, err
	}
	var err error
	if b.Commit, err = b.git(ctx, "rev-parse", "HEAD"); err != nil {
		return nil, err
	}
	ct, err := b.git(ctx, "log", "-1", "--format=%ct")
	if err != nil {
		return nil, err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parsing commit time %q: %w", ct, err)
	}
	b.Date = time.Unix(sec, 0).UTC()
	if v := opts.Version; v != "" {
		b.Version, err = CheckVersion(v)
		return b, err
	}
	b.Version, err = b.describe(ctx)
	return b, err
}

func (b *Build) describe(ctx context.Context) (string, error) {
	// No tag yet is normal for a young repository: describe fails, and the
	// version is a 0.0.0 snapshot.
	desc, err := b.git(ctx, "describe", "--tags", "--long", "--match", "v[0-9]*")
	if err != nil {
		desc = ""
	}
	count, err := b.git(ctx, "rev-list", "--count", "HEAD")
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		return "", fmt.Errorf("parsing commit count %q: %w", count, err)
	}
	v, err := VersionFromDescribe(desc, n, b.Commit[:7])
	if err != nil {
		return "", err
	}
	// Changes to tracked files, staged or not, make the build dirty; new
	// untracked files do not, as with `git describe --dirty`.
	status, err := b.git(ctx, "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", err
	}
	if status != "" {
		v = MarkDirty(v)
	}
	return v, nil
}

func (b *Build) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = b.Root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("running git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Epoch is SOURCE_DATE_EPOCH for this build.
func (b *Build) Epoch() string { return strconv.FormatInt(b.Date.Unix(), 10) }

// step runs fn unless the stamp for name matches inputs and every output
// exists, and logs how long it took either way.
func (b *Build) step(name, inputs string, outputs []string, fn func() error) error {
	start := time.Now()
	stamp := filepath.Join(b.Dist, ".stamps", strings.NewReplacer("/", "_", " ", "_").Replace(name))
	if old, err := os.ReadFile(stamp); err == nil && string(old) == inputs && allExist(outputs) {
		fmt.Fprintf(b.Log, "%-28s up to date (%s)\n", name, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(stamp), 0o755); err != nil {
		return fmt.Errorf("creating stamp dir: %w", err)
	}
	if err := os.WriteFile(stamp, []byte(inputs), 0o644); err != nil {
		return fmt.Errorf("writing stamp %s: %w", stamp, err)
	}
	fmt.Fprintf(b.Log, "%-28s built in %s\n", name, time.Since(start).Round(time.Millisecond))
	return nil
}

func allExist(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// hashTree hashes the names and contents of the files under the given
// paths (files or directories, relative to root), in a stable order.
func hashTree(root string, paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		var files []string
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := hashFile(h, f); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hashing %s: %w", path, err)
	}
	defer f.Close()
	fmt.Fprintf(h, "%s\x00", path)
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("hashing %s: %w", path, err)
	}
	return nil
}

// sourceHash covers everything that goes into the binary.
func (b *Build) sourceHash() (string, error) {
	return hashTree(b.Root, "go.mod", "go.sum", "cmd", "internal")
}

// LDFlags stamps version, commit and date, strips symbols and drops the
// build ID so that two builds of one commit are byte-identical. It is the
// one definition: the release hands it to GoReleaser (STIGMER_LDFLAGS in
// .goreleaser.yaml), so the archives' binaries equal the packages' ones.
func (b *Build) LDFlags() string {
	return fmt.Sprintf("-s -w -buildid= -X main.version=%s -X main.commit=%s -X main.date=%s",
		b.Version, b.Commit, b.Date.Format(time.RFC3339))
}

// Binary builds cmd/stigmer for linux/goarch (or the host when goarch is
// empty) into out.
func (b *Build) Binary(ctx context.Context, goarch, out string) error {
	src, err := b.sourceHash()
	if err != nil {
		return err
	}
	goos := "linux"
	if goarch == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	name := "binary " + goos + "/" + goarch
	if out == b.HostBinary() {
		name = "binary host"
	}
	// The toolchain is an input: a binary built by an older Go carries its
	// standard library, so a new toolchain must rebuild it.
	inputs := strings.Join([]string{src, b.LDFlags(), b.GoVersion, goos, goarch, out}, "\n")
	return b.step(name, inputs, []string{out}, func() error {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", b.LDFlags(), "-o", out, "./cmd/stigmer")
		cmd.Dir = b.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOFLAGS=-buildvcs=false")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("running go build: %w", err)
		}
		return nil
	})
}

// HostBinary is dist/stigmer, built for this machine.
func (b *Build) HostBinary() string { return filepath.Join(b.Dist, "stigmer") }

// ArchBinary is the binary a package of goarch carries.
func (b *Build) ArchBinary(goarch string) string {
	return filepath.Join(b.Dist, ".build", "linux_"+goarch, "stigmer")
}

// GenDir holds the generated docs: the man pages under man/ and the completions.
func (b *Build) GenDir() string { return filepath.Join(b.Dist, ".build", "docs") }

// manDir holds the gzipped man pages, one per visible command.
func (b *Build) manDir() string { return filepath.Join(b.GenDir(), "man") }

// Docs writes the man pages (gzipped without name or time, as lintian
// wants and reproducibility needs) and the completions, by running the host
// binary, which Docs builds first.
func (b *Build) Docs(ctx context.Context) error {
	if err := b.Binary(ctx, "", b.HostBinary()); err != nil {
		return err
	}
	h := sha256.New()
	if err := hashFile(h, b.HostBinary()); err != nil {
		return err
	}
	dir := b.GenDir()
	outs := []string{"man/stigmer.1.gz", "man/stigmer.service.8.gz", "stigmer.bash", "_stigmer", "stigmer.fish"}
	for i := range outs {
		outs[i] = filepath.Join(dir, outs[i])
	}
	inputs := hex.EncodeToString(h.Sum(nil)) + "\n" + b.Epoch()
	return b.step("docs", inputs, outs, func() error {
		// Anew, so that a page of a removed command does not linger.
		if err := os.RemoveAll(b.manDir()); err != nil {
			return fmt.Errorf("removing old man pages: %w", err)
		}
		cmd := exec.CommandContext(ctx, b.HostBinary(), "internal-gen-docs", "--man-dir", b.manDir(), "--completion-dir", dir)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+b.Epoch())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("running stigmer internal-gen-docs: %w", err)
		}
		pages, err := filepath.Glob(filepath.Join(b.manDir(), "*.[18]"))
		if err != nil {
			return fmt.Errorf("listing man pages: %w", err)
		}
		for _, p := range pages {
			if err := gzipFile(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// gzipFile replaces path with path.gz, written with no name and no time.
func gzipFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compressing %s: %w", path, err)
	}
	if err := os.WriteFile(path+".gz", buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s.gz: %w", path, err)
	}
	return os.Remove(path)
}
