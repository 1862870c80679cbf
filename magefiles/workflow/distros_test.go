package workflow

import (
	"bufio"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

const (
	distrosWorkflow = "../../.github/workflows/distros.yml"
	guestsFile      = "../../scripts/vm/guests"
)

func readDistros(t *testing.T) (*Workflow, *Job) {
	t.Helper()
	w, err := Read(distrosWorkflow)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(w.Jobs, 1), "jobs: %v", sortedKeys(w.Jobs))
	j := w.Jobs["vm"]
	assert.Assert(t, j != nil, "no vm job")
	return w, j
}

// guest is one line of scripts/vm/guests.
type guest struct{ name, image, sha256, format, boots, tag string }

// readGuests parses scripts/vm/guests: six fields a line, # comments.
func readGuests(t *testing.T) []guest {
	t.Helper()
	f, err := os.Open(guestsFile)
	assert.NilError(t, err)
	defer f.Close()
	var out []guest
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		assert.Assert(t, is.Len(f, 6), "%s:%d: want NAME IMAGE SHA256 FORMAT BOOTS TAG: %q", guestsFile, n, line)
		out = append(out, guest{f[0], f[1], f[2], f[3], f[4], f[5]})
	}
	assert.NilError(t, sc.Err())
	return out
}

// cloudGuests are the guests booted from a downloaded image (an IMAGE
// that is a URL): the ones only a runner with network and KVM can run.
func cloudGuests(t *testing.T) []guest {
	var out []guest
	for _, g := range readGuests(t) {
		if strings.Contains(g.image, "://") {
			out = append(out, g)
		}
	}
	return out
}

var (
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// secretsExpr is an expression that reads the secrets context.
	secretsExpr = regexp.MustCompile(`\$\{\{[^}]*\bsecrets\b[^}]*\}\}`)
)

// TestCloudGuestsArePinned: every downloaded image comes over https and
// is pinned by its sha256, which the harness checks before each boot.
func TestCloudGuestsArePinned(t *testing.T) {
	guests := cloudGuests(t)
	assert.Assert(t, len(guests) > 0, "%s names no cloud image", guestsFile)
	seen := map[string]bool{}
	for _, g := range guests {
		assert.Check(t, !seen[g.name], "guest %s twice", g.name)
		seen[g.name] = true
		u, err := url.Parse(g.image)
		assert.Check(t, err == nil && u.Scheme == "https" && u.Host != "", "guest %s: image %q is not an https URL", g.name, g.image)
		assert.Check(t, sha256Hex.MatchString(g.sha256), "guest %s: sha256 %q is not 64 lowercase hex digits", g.name, g.sha256)
		assert.Check(t, g.format == "deb" || g.format == "rpm", "guest %s: format %q", g.name, g.format)
	}
}

// TestDistrosWorkflowTriggers: every push to main, every week, by hand,
// and from the release workflow before a release.
func TestDistrosWorkflowTriggers(t *testing.T) {
	w, _ := readDistros(t)
	assert.DeepEqual(t, w.Triggers(), []string{"push", "schedule", "workflow_call", "workflow_dispatch"})
	var push struct {
		Branches []string       `yaml:"branches"`
		Rest     map[string]any `yaml:",inline"`
	}
	n := w.On["push"]
	assert.NilError(t, n.Decode(&push))
	assert.DeepEqual(t, push.Branches, []string{"main"})
	assert.Check(t, is.Len(push.Rest, 0), "push narrowed by %v: a change anywhere can break a distribution", push.Rest)
	var schedule []struct {
		Cron string `yaml:"cron"`
	}
	n = w.On["schedule"]
	assert.NilError(t, n.Decode(&schedule))
	assert.Assert(t, is.Len(schedule, 1))
	// A fixed minute and hour: "*" or "*/N" there would run it hourly.
	assert.Check(t, regexp.MustCompile(`^\d{1,2} \d{1,2} \* \* [0-6]$`).MatchString(schedule[0].Cron),
		"cron %q is not once a week at a fixed time", schedule[0].Cron)
}

// TestDistrosWorkflowPermissions: nothing at the top, the job reads the
// code and nothing else, and no secret reaches it.
func TestDistrosWorkflowPermissions(t *testing.T) {
	w, j := readDistros(t)
	assert.Assert(t, w.Permissions != nil, "no top-level permissions: the token would get the repository's default")
	assert.Check(t, is.Len(w.Permissions, 0))
	assert.DeepEqual(t, j.Permissions, map[string]string{"contents": "read"})
	assert.Equal(t, j.Environment.Name, "")
	data, err := os.ReadFile(distrosWorkflow)
	assert.NilError(t, err)
	assert.Check(t, !secretsExpr.Match(data), "the distros workflow uses a secret: %s", secretsExpr.Find(data))
}

// TestDistrosWorkflowIsPinnedAndThin: every action pinned by commit SHA,
// the checkout keeps no token, and the one thing the job runs is the VM
// test of its matrix's guest.
func TestDistrosWorkflowIsPinnedAndThin(t *testing.T) {
	w, j := readDistros(t)
	assert.Assert(t, len(w.Uses) >= 3, "uses: lines %v", w.Uses)
	for _, u := range w.Uses {
		checkPinned(t, u)
	}
	var calls []MageCall
	for _, s := range j.Steps {
		if s.Action() == "actions/checkout" {
			assert.Check(t, is.Equal(s.With["persist-credentials"], "false"), "checkout keeps the token in .git/config")
		}
		if s.Run == "" {
			continue
		}
		c, ok := s.MageCall()
		assert.Check(t, ok, "run: %q is not a single `go tool mage TARGET [ARG...]` call", s.Run)
		calls = append(calls, c)
	}
	assert.DeepEqual(t, calls, []MageCall{{Target: "vm:run", Args: []string{"${{ matrix.guest }}"}}})
}

// TestDistrosWorkflowRunsEveryCloudGuest: one job per cloud image of
// scripts/vm/guests, each to its end whatever the others do, on a hosted
// runner with KVM, bounded in time.
func TestDistrosWorkflowRunsEveryCloudGuest(t *testing.T) {
	_, j := readDistros(t)
	var want []string
	for _, g := range cloudGuests(t) {
		want = append(want, g.name)
	}
	var got []string
	n, ok := j.Strategy.Matrix["guest"]
	assert.Assert(t, ok, "the vm job has no matrix of guests")
	assert.NilError(t, n.Decode(&got))
	assert.DeepEqual(t, got, want)
	for k := range j.Strategy.Matrix {
		assert.Check(t, is.Equal(k, "guest"), "matrix %s adds or drops jobs beside the guest list", k)
	}
	assert.Assert(t, j.Strategy.FailFast != nil && !*j.Strategy.FailFast, "fail-fast would cancel the other distributions at the first failure")

	assert.DeepEqual(t, j.RunsOn, Strings{"ubuntu-24.04"})
	assert.Check(t, j.TimeoutMinutes > 0 && j.TimeoutMinutes <= 120, "timeout-minutes: %d", j.TimeoutMinutes)
	assert.Check(t, is.Contains(j.Container.Options, "--device /dev/kvm"), "the guests would boot without KVM")
}

// TestDistrosWorkflowUploadsResults: after the VM test, pass or fail, the
// job uploads dist/vm (rows, figures, failed rows' logs) under its guest's
// name.
func TestDistrosWorkflowUploadsResults(t *testing.T) {
	_, j := readDistros(t)
	run, upload := -1, -1
	for i, s := range j.Steps {
		if c, ok := s.MageCall(); ok && c.Target == "vm:run" {
			run = i
		}
		if s.Action() == "actions/upload-artifact" {
			upload = i
		}
	}
	assert.Assert(t, run >= 0, "the job runs no vm:run")
	assert.Assert(t, upload > run, "no actions/upload-artifact step after vm:run")
	s := j.Steps[upload]
	assert.Check(t, is.Equal(s.If, "always()"), "a failed row's logs would not be uploaded")
	assert.Check(t, is.Equal(s.With["path"], "dist/vm"))
	assert.Check(t, is.Contains(s.With["name"], "${{ matrix.guest }}"), "every guest's artifact needs a name of its own")
}
