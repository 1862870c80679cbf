package workflow

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

const releaseWorkflow = "../../.github/workflows/release.yml"

func readRelease(t *testing.T) *Workflow {
	t.Helper()
	w, err := Read(releaseWorkflow)
	assert.NilError(t, err)
	return w
}

var (
	// pinned is a uses: line pinned to a full commit SHA with the version
	// it stands for in a comment.
	pinned = regexp.MustCompile(`^uses: [a-z0-9-]+/[a-z0-9-]+(/[a-z0-9-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)
	// localWorkflow is a job's call of a workflow of this repository,
	// which GitHub runs at the caller's own commit.
	localWorkflow = regexp.MustCompile(`^uses: \./(\.github/workflows/[a-z0-9-]+\.yml)$`)
)

// checkPinned checks one uses: line of a workflow: an action pinned by
// commit SHA, or a workflow of this repository that exists.
func checkPinned(t *testing.T, uses string) {
	t.Helper()
	if m := localWorkflow.FindStringSubmatch(uses); m != nil {
		_, err := os.Stat(filepath.Join("../..", m[1]))
		assert.Check(t, err, "%q calls a workflow that is not there", uses)
		return
	}
	assert.Check(t, pinned.MatchString(uses), "%q is not pinned as `uses: owner/repo@<40-hex SHA> # vX.Y.Z`", uses)
}

// TestReleaseWorkflowPinsEveryAction: no action by a movable tag or branch.
func TestReleaseWorkflowPinsEveryAction(t *testing.T) {
	w := readRelease(t)
	assert.Assert(t, len(w.Uses) >= 5, "uses: lines %v", w.Uses)
	for _, u := range w.Uses {
		checkPinned(t, u)
	}
}

// TestReleaseWorkflowPermissions: nothing at the top; per job, the least:
// test reads; release writes contents (and attests), never Pages; deploy
// writes Pages and nothing else.
func TestReleaseWorkflowPermissions(t *testing.T) {
	w := readRelease(t)
	for scope, level := range w.Permissions {
		assert.Check(t, level == "read" || level == "none", "top-level permission %s: %s, want none or read", scope, level)
	}
	for _, name := range []string{"test", "release", "deploy"} {
		assert.Assert(t, w.Jobs[name] != nil, "no %s job", name)
	}
	// Any other job (a scheduled scan, say) reads only and holds no secret.
	for _, name := range sortedKeys(w.Jobs) {
		if name == "test" || name == "release" || name == "deploy" {
			continue
		}
		for scope, level := range w.Jobs[name].Permissions {
			assert.Check(t, level == "read" || level == "none", "job %s: %s: %s", name, scope, level)
		}
		assert.Check(t, is.Equal(w.Jobs[name].Environment.Name, ""), "job %s runs in an environment", name)
		assert.Check(t, w.Jobs[name].Secrets.IsZero(), "job %s passes secrets to %s", name, w.Jobs[name].Uses)
	}
	assert.DeepEqual(t, w.Jobs["test"].Permissions, map[string]string{"contents": "read"})
	assert.DeepEqual(t, w.Jobs["release"].Permissions, map[string]string{
		"contents": "write", "pages": "read", "id-token": "write", "attestations": "write"})
	assert.DeepEqual(t, w.Jobs["deploy"].Permissions, map[string]string{"pages": "write", "id-token": "write"})
}

// TestReleaseWorkflowJobs: the order (the release after the tests here
// and on the distributions' cloud images), the environments (the Pages
// one only on deploy, whose only step is deploy-pages), no secret in the
// test job, the privileged container only where the VMs run, one queue
// for all tags, and checkouts that keep no token.
func TestReleaseWorkflowJobs(t *testing.T) {
	w := readRelease(t)
	test, rel, deploy := w.Jobs["test"], w.Jobs["release"], w.Jobs["deploy"]
	assert.DeepEqual(t, rel.Needs, Strings{"test", "distros"})
	assert.DeepEqual(t, deploy.Needs, Strings{"release"})

	distros := w.Jobs["distros"]
	assert.Assert(t, distros != nil, "no distros job: a release would not wait for the cloud images' rows")
	assert.Equal(t, distros.Uses, "./.github/workflows/distros.yml")
	assert.Equal(t, len(distros.Steps), 0)
	assert.DeepEqual(t, distros.Permissions, map[string]string{"contents": "read"})

	assert.Equal(t, test.Environment.Name, "")
	assert.Equal(t, rel.Environment.Name, "release")
	assert.Equal(t, deploy.Environment.Name, "github-pages")

	assert.Equal(t, len(deploy.Steps), 1)
	assert.Equal(t, deploy.Steps[0].Action(), "actions/deploy-pages")
	assert.Equal(t, deploy.If, "needs.release.outputs.pages == 'true'")

	for _, s := range test.Steps {
		for k, v := range s.Env {
			assert.Check(t, !strings.Contains(v, "secrets."), "the test job's step passes %s=%s", k, v)
		}
	}
	assert.Assert(t, is.Contains(test.Container.Options, "--privileged"))
	assert.Assert(t, !strings.Contains(rel.Container.Options, "--privileged"), "the release job needs no privileged container")

	assert.Assert(t, !strings.Contains(w.Concurrency.Group, "${{"), "concurrency group %q varies per run: two tags would deploy at once", w.Concurrency.Group)
	assert.Assert(t, !w.Concurrency.CancelInProgress, "a publishing run must not be cancelled halfway")

	for name, j := range w.Jobs {
		for _, s := range j.Steps {
			if s.Action() == "actions/checkout" {
				assert.Check(t, is.Equal(s.With["persist-credentials"], "false"), "%s: checkout keeps the token in .git/config", name)
			}
		}
	}
}

// TestReleaseWorkflowIsThin: every run: step is one `go tool mage` call;
// the release job runs the release, then publishes, in that order, and
// the upload of the repository follows the release target's decision.
func TestReleaseWorkflowIsThin(t *testing.T) {
	w := readRelease(t)
	var targets []string
	for name, j := range w.Jobs {
		for _, s := range j.Steps {
			if s.Run == "" {
				continue
			}
			target, ok := s.MageTarget()
			assert.Check(t, ok, "%s: run: %q is not a single `go tool mage TARGET` call", name, s.Run)
			if name == "release" {
				targets = append(targets, target)
			}
		}
	}
	assert.DeepEqual(t, targets, []string{"release", "release:publish"})
	var upload *Step
	for i, s := range w.Jobs["release"].Steps {
		if s.Action() == "actions/upload-pages-artifact" {
			upload = &w.Jobs["release"].Steps[i]
		}
	}
	assert.Assert(t, upload != nil, "the release job uploads no Pages artifact")
	assert.Equal(t, upload.If, "steps.release.outputs.pages == 'true'")
	assert.Equal(t, upload.With["path"], "dist/repo")
	assert.Equal(t, w.Jobs["release"].Outputs["pages"], "${{ steps.release.outputs.pages }}")
}

// TestMageTarget: what counts as a single mage call without arguments.
func TestMageTarget(t *testing.T) {
	for run, want := range map[string]string{
		"go tool mage test":              "test",
		"go tool mage release:publish\n": "release:publish",
		"go tool mage test && echo x":    "",
		"go tool mage a b":               "",
		"./release.sh":                   "",
	} {
		got, ok := Step{Run: run}.MageTarget()
		assert.Check(t, is.Equal(got, want), "%q", run)
		assert.Check(t, is.Equal(ok, want != ""), "%q", run)
	}
}

// TestMageCall: a mage call takes plain words and the matrix's values as
// arguments, and nothing a shell or the triggering event would expand.
func TestMageCall(t *testing.T) {
	for run, want := range map[string]*MageCall{
		"go tool mage test":                            {Target: "test"},
		"go tool mage vm:run deb12 false\n":            {Target: "vm:run", Args: []string{"deb12", "false"}},
		"go tool mage vm:run ${{ matrix.guest }}":      {Target: "vm:run", Args: []string{"${{ matrix.guest }}"}},
		"go tool mage vm:run ${{ github.head_ref }}":   nil,
		"go tool mage vm:run $GUEST":                   nil,
		"go tool mage vm:run deb12; rm -rf dist":       nil,
		"go tool mage vm:run deb12 && echo x":          nil,
		"sudo go tool mage vm:run deb12":               nil,
		"go tool mage vm:run deb12\ngo tool mage test": nil,
	} {
		got, ok := Step{Run: run}.MageCall()
		assert.Check(t, is.Equal(ok, want != nil), "%q", run)
		if want != nil {
			assert.Check(t, is.DeepEqual(got, *want), "%q", run)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
