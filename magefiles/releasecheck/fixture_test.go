//go:build releasecheck

package releasecheck

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/release"
)

// scratch holds the clones; TestMain removes it. head is the commit they
// check out, fixed once: the tree may get new commits while the tests run.
var scratch, head string

func TestMain(m *testing.M) {
	out, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "HEAD").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding HEAD:", err)
		os.Exit(1)
	}
	head = strings.TrimSpace(string(out))
	if scratch, err = os.MkdirTemp("", "stigmer-releasecheck-"); err != nil {
		fmt.Fprintln(os.Stderr, "creating scratch dir:", err)
		os.Exit(1)
	}
	code := m.Run()
	if os.Getenv("STIGMER_RELEASECHECK_KEEP") == "1" {
		fmt.Println("kept the clones in", scratch)
	} else if err := os.RemoveAll(scratch); err != nil {
		fmt.Fprintln(os.Stderr, "removing scratch dir:", err)
	}
	os.Exit(code)
}

// repoRoot is the repository root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// clone is one fresh clone of HEAD and what was run in it.
type clone struct {
	dir     string        // clone root
	release string        // dir/dist/release
	pkgDist string        // dir/dist, where the package target writes
	took    time.Duration // wall time of the release
	out     string        // the release's output
	key     *key          // the signing key, nil when unsigned
}

// fixture runs an expensive setup once, for every test that needs it.
type fixture struct {
	once sync.Once
	make func() (*clone, error)
	c    *clone
	err  error
}

func (f *fixture) get(t *testing.T) *clone {
	t.Helper()
	f.once.Do(func() { f.c, f.err = f.make() })
	if f.err != nil {
		t.Fatal(f.err)
	}
	return f.c
}

// The clones: two untagged snapshots for reproducibility (the first also
// runs the package target), one at v1.2.3-rc.1 signed with a throwaway key,
// one at v1.2.3.
var (
	snapA = &fixture{make: func() (*clone, error) {
		c, err := newClone("a", "")
		if err != nil {
			return nil, err
		}
		if err := c.runRelease(nil); err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := c.mage(nil, "package"); err != nil {
			return nil, err
		}
		fmt.Printf("FIGURE wall time of `go tool mage package` in a fresh clone (same .deb/.rpm, no archives): %s\n", time.Since(start).Round(time.Millisecond))
		return c, nil
	}}
	snapB = &fixture{make: func() (*clone, error) {
		c, err := newClone("b", "")
		if err != nil {
			return nil, err
		}
		return c, c.runRelease(nil)
	}}
	signedRC = &fixture{make: func() (*clone, error) {
		k, err := newKey()
		if err != nil {
			return nil, err
		}
		c, err := newClone("rc", "v1.2.3-rc.1")
		if err != nil {
			return nil, err
		}
		c.key = k
		return c, c.runRelease(map[string]string{
			release.EnvSignKey:        k.secret,
			release.EnvSignPassphrase: k.passphrase,
		})
	}}
	final = &fixture{make: func() (*clone, error) {
		c, err := newClone("final", "v1.2.3")
		if err != nil {
			return nil, err
		}
		return c, c.runRelease(nil)
	}}
)

// newClone clones the repository at head into scratch/name and tags it.
// The clone gets no tags from the repository: in the release workflow head
// carries the release tag, which would change every version here.
func newClone(name, tag string) (*clone, error) {
	dir := filepath.Join(scratch, name)
	if out, err := exec.Command("git", "clone", "--quiet", "--no-checkout", "--no-tags", repoRoot(), dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cloning into %s: %w: %s", dir, err, out)
	}
	if out, err := exec.Command("git", "-C", dir, "checkout", "--quiet", "--detach", head).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("checking out %s: %w: %s", head, err, out)
	}
	if tag != "" {
		if out, err := exec.Command("git", "-C", dir, "tag", tag).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("tagging %s: %w: %s", tag, err, out)
		}
	}
	return &clone{dir: dir, release: filepath.Join(dir, release.Dir), pkgDist: filepath.Join(dir, "dist")}, nil
}

// runRelease runs `go tool mage release` in the clone, timed.
func (c *clone) runRelease(env map[string]string) error {
	start := time.Now()
	out, err := c.mage(env, "release")
	c.took, c.out = time.Since(start), out
	if err != nil {
		return err
	}
	fmt.Printf("FIGURE wall time of `go tool mage release` (snapshot) in clone %s: %s\n", filepath.Base(c.dir), c.took.Round(time.Millisecond))
	return nil
}

// mage runs `go tool mage target` in the clone with the environment of a
// developer's machine: no token, no key, no overrides unless env sets them.
func (c *clone) mage(env map[string]string, target string) (string, error) {
	cmd := exec.Command("go", "tool", "mage", target)
	cmd.Dir = c.dir
	cmd.Env = cleanEnv(env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("running go tool mage %s in %s: %w\n%s", target, c.dir, err, out)
	}
	return string(out), nil
}

// cleanEnv is this process's environment without the variables that steer
// a release, plus env.
func cleanEnv(env map[string]string) []string {
	drop := map[string]bool{
		release.EnvToken: true, release.EnvSignKey: true, release.EnvSignPassphrase: true,
		release.EnvRepoURL: true, release.EnvRepoEarlier: true, release.EnvRepoPublished: true,
		"STIGMER_VERSION": true, "STIGMER_DIST": true, "GNUPGHOME": true, "MAGEFILE_VERBOSE": true,
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// key is a throwaway OpenPGP signing key, as files.
type key struct {
	secret     string // armored secret key file
	public     string // armored public key file
	keyID      string // long key ID, upper-case hex
	passphrase string
}

// newKey generates an RSA key (what RHEL 8's rpm verifies) protected by a
// passphrase, as a release key would be, with gpgkey.Generate: the key the
// README tells a release engineer to make.
func newKey() (*key, error) {
	ctx := context.Background()
	k := &key{passphrase: "correct horse battery staple",
		secret: filepath.Join(scratch, "release-key.asc"), public: filepath.Join(scratch, "release-key.pub.asc")}
	h, err := gpgkey.Generate(ctx, "Stigmer Release Test <release-test@example.invalid>", k.passphrase, os.Stdout)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	k.keyID = h.Fingerprint[len(h.Fingerprint)-16:]
	if err := h.ExportSecret(ctx, k.secret); err != nil {
		return nil, err
	}
	pub, err := h.Public(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.public, pub, 0o644); err != nil {
		return nil, fmt.Errorf("writing key: %w", err)
	}
	return k, nil
}
