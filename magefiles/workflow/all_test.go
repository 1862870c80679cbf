package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/stigmer/stigmer/magefiles/pkgbuild"
)

// TestEveryWorkflow holds every workflow file to what the release
// workflow's tests ask of it: actions pinned by commit SHA (or workflows
// of this repository), no permission at the top and each job's own,
// checkouts that keep no token, each run: one `go tool mage` call, and the
// Go that go.mod names.
func TestEveryWorkflow(t *testing.T) {
	files, err := filepath.Glob("../../.github/workflows/*.yml")
	assert.NilError(t, err)
	assert.Assert(t, len(files) >= 2, "workflows: %v", files)
	gomod, err := os.ReadFile("../../go.mod")
	assert.NilError(t, err)
	toolchain, err := pkgbuild.RequiredToolchain(gomod)
	assert.NilError(t, err)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, err := Read(f)
			assert.NilError(t, err)
			for _, u := range w.Uses {
				checkPinned(t, u)
			}
			for scope, level := range w.Permissions {
				assert.Check(t, level == "read" || level == "none", "top-level permission %s: %s", scope, level)
			}
			assert.Check(t, is.Equal(w.Env["GOTOOLCHAIN"], toolchain), "GOTOOLCHAIN: machines that set GOTOOLCHAIN=local ignore go.mod's toolchain line")
			for name, j := range w.Jobs {
				assert.Check(t, j.Permissions != nil, "job %s: no permissions of its own", name)
				for _, s := range j.Steps {
					if s.Action() == "actions/checkout" {
						assert.Check(t, is.Equal(s.With["persist-credentials"], "false"), "%s: checkout keeps the token in .git/config", name)
					}
					if s.Run != "" {
						_, ok := s.MageCall()
						assert.Check(t, ok, "%s: run: %q is not a single `go tool mage TARGET [ARG...]` call", name, s.Run)
					}
				}
			}
		})
	}
}

// TestReleaseScanWorkflow: weekly (and by hand), one job that reads the
// newest release's assets and scans them; no secret but the job's token,
// no environment, nothing written.
func TestReleaseScanWorkflow(t *testing.T) {
	w, err := Read("../../.github/workflows/release-scan.yml")
	assert.NilError(t, err)
	assert.DeepEqual(t, w.Triggers(), []string{"schedule", "workflow_dispatch"})
	assert.Equal(t, len(w.Jobs), 1)
	j := w.Jobs["rescan"]
	assert.Assert(t, j != nil, "no rescan job")
	assert.DeepEqual(t, j.Permissions, map[string]string{"contents": "read"})
	assert.Equal(t, j.Environment.Name, "")
	var targets []string
	for _, s := range j.Steps {
		if target, ok := s.MageTarget(); ok {
			targets = append(targets, target)
		}
		for k, v := range s.Env {
			if strings.Contains(v, "secrets.") {
				assert.Check(t, is.Equal(k+"="+v, "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}"))
			}
		}
	}
	assert.DeepEqual(t, targets, []string{"release:rescan"})
}
