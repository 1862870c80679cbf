package rehearsal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/stigmer/stigmer/magefiles/ghrelease/fakegithub"
	"github.com/stigmer/stigmer/magefiles/gpgkey"
	"github.com/stigmer/stigmer/magefiles/pkgbuild"
	"github.com/stigmer/stigmer/magefiles/workflow"
)

// Tags are the tags a rehearsal plays, in order: two releases and a
// pre-release, which is released but not published to the repository.
var Tags = []string{"v1.0.0", "v1.1.0", "v1.2.0-rc.1"}

// ServeAt is the address the rehearsal's repository names for itself
// (stigmer.sources, stigmer.repo): where the VM guests serve the site.
const ServeAt = "file:///srv/stigmer-repo"

// Repo is the GitHub repository the stand-in plays.
const Repo = "stigmer/stigmer"

// Layout of the output directory.
const (
	ReleasesDir  = "releases"  // releases/TAG: the assets and notes.md each tag uploaded (the stand-in's store)
	PagesDir     = "pages"     // the site as deployed after the last published tag
	ArtifactsDir = "artifacts" // artifacts/TAG: the Pages artifact each tag uploaded, if any
	CloneDir     = "clone"     // the scratch clone the tags are made in
)

// Options is what Play plays.
type Options struct {
	Root     string // the repository whose HEAD is rehearsed
	Out      string // the output directory, replaced
	Workflow string // the workflow file, relative to Root
	Log      io.Writer
}

// Rehearsal is a finished play: its stand-in still answers, for tests.
type Rehearsal struct {
	Options
	API *fakegithub.Server
	// Keys are the release keys: the first signs Tags[0], whose keyring
	// packages already carry the second, which signs every later tag
	// (whose keyring packages keep the first): a key rotation.
	Keys    [2]*gpgkey.Home
	Times   map[string]time.Duration
	wf      *workflow.Workflow
	env     []string          // the base environment of every step
	secrets map[string]string // what ${{ secrets.NAME }} stands for
}

// token is the stand-in's token.
const token = "rehearsal-token"

// Play clones Root's HEAD into Out, starts the stand-in and plays Tags.
// The caller closes the Rehearsal.
func Play(ctx context.Context, o Options) (*Rehearsal, error) {
	if err := os.RemoveAll(o.Out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	wf, err := workflow.Read(filepath.Join(o.Root, o.Workflow))
	if err != nil {
		return nil, err
	}
	r := &Rehearsal{Options: o, Times: map[string]time.Duration{}, wf: wf}
	for i, uid := range []string{"Stigmer Rehearsal Release <rehearsal@example.invalid>", "Stigmer Rehearsal Next Release <next@example.invalid>"} {
		if r.Keys[i], err = gpgkey.Generate(ctx, uid, passphrase, o.Log); err != nil {
			r.closeKeys()
			return nil, err
		}
	}
	r.API = fakegithub.New(Repo, token, filepath.Join(o.Out, ReleasesDir))
	r.API.PagesURL = ServeAt
	if err := r.clone(ctx); err != nil {
		r.Close()
		return nil, err
	}
	for _, tag := range Tags {
		start := time.Now()
		if err := r.Release(ctx, tag); err != nil {
			r.Close()
			return nil, fmt.Errorf("rehearsing %s: %w", tag, err)
		}
		r.Times[tag] = time.Since(start)
		fmt.Fprintf(o.Log, "FIGURE rehearsal of %s: %s\n", tag, r.Times[tag].Round(time.Second))
	}
	return r, nil
}

// Close stops the stand-in and removes the keys.
func (r *Rehearsal) Close() {
	r.API.Close()
	r.closeKeys()
}

func (r *Rehearsal) closeKeys() {
	for _, k := range r.Keys {
		if k != nil {
			k.Close()
		}
	}
}

// passphrase protects the rehearsal's keys, as a release key's would.
const passphrase = "rehearsal passphrase"

// SignedBy is the key that signs tag: the first for Tags[0], the next
// for every later one.
func (r *Rehearsal) SignedBy(tag string) *gpgkey.Home {
	if tag == Tags[0] {
		return r.Keys[0]
	}
	return r.Keys[1]
}

// Clone is the scratch clone's root.
func (r *Rehearsal) Clone() string { return filepath.Join(r.Out, CloneDir) }

// clone clones Root's HEAD without its tags (they would change every
// version here) and sets the environment every step starts from.
func (r *Rehearsal) clone(ctx context.Context) error {
	if _, err := r.git(ctx, r.Out, "clone", "--quiet", "--no-tags", r.Root, CloneDir); err != nil {
		return err
	}
	r.env = baseEnv(map[string]string{
		// What Actions sets.
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": Repo, "GITHUB_API_URL": r.API.URL,
		// What GitHub Pages serves now: the previous tag's deployed site.
		"STIGMER_REPO_PUBLISHED": filepath.Join(r.Out, PagesDir),
	})
	return nil
}

// rotate sets, for tag, the release environment's secret key, the clone's
// packaging/keyring (the other key of the two, so that the first release
// ships the next key and the later ones keep the first) and the README's
// fingerprint.
func (r *Rehearsal) rotate(ctx context.Context, tag string) error {
	signer := r.SignedBy(tag)
	other := r.Keys[0]
	if signer == r.Keys[0] {
		other = r.Keys[1]
	}
	secret, err := exportSecret(ctx, signer, r.Out)
	if err != nil {
		return err
	}
	// The secrets a step may pass, by the names the workflow gives them.
	r.secrets = map[string]string{
		"secrets.GITHUB_TOKEN": token, "secrets.STIGMER_SIGNING_KEY": secret, "secrets.STIGMER_SIGNING_PASSPHRASE": passphrase,
	}
	dir := filepath.Join(r.Clone(), pkgbuild.KeyringKeysDir)
	old, err := filepath.Glob(filepath.Join(dir, "*.asc"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	pub, err := other.Public(ctx, true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, other.Fingerprint+".asc"), pub, 0o644); err != nil {
		return err
	}
	if err := setReadmeFingerprint(filepath.Join(r.Clone(), "README.md"), signer.Fingerprint); err != nil {
		return err
	}
	_, err = r.git(ctx, r.Clone(), "add", "-A", pkgbuild.KeyringKeysDir, "README.md")
	return err
}

// setReadmeFingerprint points the README's install blocks at the key that
// signs, as a maintainer does for the first release and at a rotation.
func setReadmeFingerprint(path, fpr string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "FPR=") {
			lines[i] = "FPR=" + fpr
		}
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
}

// exportSecret is the armored private key, as the environment's secret
// holds it.
func exportSecret(ctx context.Context, key *gpgkey.Home, scratch string) (string, error) {
	file := filepath.Join(scratch, ".release-key.asc")
	if err := key.ExportSecret(ctx, file); err != nil {
		return "", err
	}
	defer os.Remove(file)
	data, err := os.ReadFile(file)
	return string(data), err
}

// Release tags the clone's HEAD with tag (after a commit of its own, as a
// release has) and runs the release job's steps, then the deploy job's.
func (r *Rehearsal) Release(ctx context.Context, tag string) error {
	clone := r.Clone()
	if err := r.rotate(ctx, tag); err != nil {
		return err
	}
	if _, err := r.git(ctx, clone, "-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.invalid",
		"commit", "--quiet", "--allow-empty", "-m", "Prepare "+tag); err != nil {
		return err
	}
	if _, err := r.git(ctx, clone, "tag", tag); err != nil {
		return err
	}
	outputs, err := r.runJob(ctx, tag, "release")
	if err != nil {
		return err
	}
	return r.deploy(tag, outputs)
}

// runJob runs a job's steps in the clone and returns each step's outputs
// by step id.
func (r *Rehearsal) runJob(ctx context.Context, tag, name string) (map[string]map[string]string, error) {
	job, ok := r.wf.Jobs[name]
	if !ok {
		return nil, fmt.Errorf("%s has no job %q", r.Workflow, name)
	}
	outputs := map[string]map[string]string{}
	for i, s := range job.Steps {
		what := fmt.Sprintf("%s job, step %d (%s%s)", name, i+1, s.Uses, s.Run)
		run, err := condition(s.If, outputs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !run {
			fmt.Fprintf(r.Log, "rehearsal %s: %s skipped: %s is false\n", tag, what, s.If)
			continue
		}
		if s.Run != "" {
			out, err := r.mage(ctx, tag, s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			outputs[s.ID] = out
			continue
		}
		if err := r.action(tag, s); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	return outputs, nil
}

// mage runs a step's `go tool mage TARGET` in the clone with the step's
// env (each value a secret the rehearsal holds) and returns what the step
// wrote to GITHUB_OUTPUT.
func (r *Rehearsal) mage(ctx context.Context, tag string, s workflow.Step) (map[string]string, error) {
	target, ok := s.MageTarget()
	if !ok {
		return nil, fmt.Errorf("run: %q is not one `go tool mage TARGET` call", s.Run)
	}
	output := filepath.Join(r.Out, ".github-output")
	if err := os.WriteFile(output, nil, 0o644); err != nil {
		return nil, err
	}
	env := append(append([]string{}, r.env...), "GITHUB_REF_NAME="+tag, "GITHUB_OUTPUT="+output)
	for k, v := range s.Env {
		val, err := r.value(v)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		env = append(env, k+"="+val)
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "mage", target)
	cmd.Dir = r.Clone()
	cmd.Env = env
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(r.Log, &buf)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, &StepError{Target: target, Err: err, Output: buf.String()}
	}
	fmt.Fprintf(r.Log, "FIGURE rehearsal %s: go tool mage %s took %s\n", tag, target, time.Since(start).Round(time.Second))
	return readOutputs(output)
}

// StepError is a mage step that failed, with what it printed.
type StepError struct {
	Target string
	Err    error
	Output string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("go tool mage %s: %v", e.Target, e.Err)
}

var secretRef = regexp.MustCompile(`^\$\{\{\s*(secrets\.[A-Za-z0-9_]+)\s*\}\}$`)

// value is what a step's env value is in the rehearsal: a secret the
// rehearsal holds, or a literal.
func (r *Rehearsal) value(v string) (string, error) {
	m := secretRef.FindStringSubmatch(v)
	if m == nil {
		if strings.Contains(v, "${{") {
			return "", fmt.Errorf("%q is an expression the rehearsal does not evaluate", v)
		}
		return v, nil
	}
	val, ok := r.secrets[m[1]]
	if !ok {
		return "", fmt.Errorf("the rehearsal holds no %s", m[1])
	}
	return val, nil
}

// action plays the actions the release job uses, or says why not.
func (r *Rehearsal) action(tag string, s workflow.Step) error {
	switch s.Action() {
	case "actions/checkout", "actions/setup-go":
		return nil // the clone and this toolchain
	case "actions/attest-build-provenance":
		fmt.Fprintf(r.Log, "rehearsal %s: %s not run: it needs GitHub's OIDC token\n", tag, s.Action())
		return nil
	case "actions/upload-pages-artifact":
		dst := filepath.Join(r.Out, ArtifactsDir, tag)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return copyTree(filepath.Join(r.Clone(), s.With["path"]), dst)
	}
	return fmt.Errorf("the rehearsal cannot play %s: teach it, or say why it need not", s.Uses)
}

// deploy plays the deploy job: the uploaded artifact becomes the site,
// when the job's condition on the release job's outputs holds.
func (r *Rehearsal) deploy(tag string, steps map[string]map[string]string) error {
	rel, dep := r.wf.Jobs["release"], r.wf.Jobs["deploy"]
	if dep == nil {
		return fmt.Errorf("%s has no deploy job", r.Workflow)
	}
	needs := map[string]string{}
	for name, expr := range rel.Outputs {
		m := outputRef.FindStringSubmatch(expr)
		if m == nil {
			return fmt.Errorf("release job output %s=%q is not ${{ steps.ID.outputs.NAME }}", name, expr)
		}
		needs[name] = steps[m[1]][m[2]]
	}
	run, err := condition(dep.If, map[string]map[string]string{"needs.release": needs})
	if err != nil {
		return fmt.Errorf("deploy job: %w", err)
	}
	if !run {
		fmt.Fprintf(r.Log, "rehearsal %s: deploy job skipped: %s is false\n", tag, dep.If)
		return nil
	}
	for _, s := range dep.Steps {
		if s.Action() != "actions/deploy-pages" {
			return fmt.Errorf("the deploy job's step %s is not actions/deploy-pages", s.Uses)
		}
	}
	site := filepath.Join(r.Out, PagesDir)
	if err := os.RemoveAll(site); err != nil {
		return err
	}
	return copyTree(filepath.Join(r.Out, ArtifactsDir, tag), site)
}

var (
	outputRef = regexp.MustCompile(`^\$\{\{\s*steps\.([a-z0-9_-]+)\.outputs\.([a-z0-9_-]+)\s*\}\}$`)
	// the conditions the workflow writes: an output compared with 'true'
	conditionRE = regexp.MustCompile(`^(steps\.[a-z0-9_-]+|needs\.[a-z0-9_-]+)\.outputs\.([a-z0-9_-]+) == 'true'$`)
)

// condition evaluates an if: of the one form the workflow uses, from
// outputs keyed "steps.ID"-less step ids or "needs.JOB"; "" is true.
func condition(expr string, outputs map[string]map[string]string) (bool, error) {
	if expr == "" {
		return true, nil
	}
	m := conditionRE.FindStringSubmatch(expr)
	if m == nil {
		return false, fmt.Errorf("if: %q is not of the form steps.ID.outputs.NAME == 'true'", expr)
	}
	scope := strings.TrimPrefix(m[1], "steps.")
	return outputs[scope][m[2]] == "true", nil
}

// readOutputs reads NAME=VALUE lines of a GITHUB_OUTPUT file.
func readOutputs(file string) (map[string]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out, nil
}

// baseEnv is this process's environment without what steers a release,
// plus set.
func baseEnv(set map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "STIGMER_") || strings.HasPrefix(k, "GITHUB_") || k == "CI" || k == "GNUPGHOME" || k == "MAGEFILE_VERBOSE" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// copyTree copies src to dst with cp -a (hard links would let a later
// tag's run change an earlier tag's copy).
func copyTree(src, dst string) error {
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s to %s: %w: %s", src, dst, err, out)
	}
	return nil
}

func (r *Rehearsal) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
