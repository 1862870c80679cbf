// Package workflow reads a GitHub Actions workflow file into the parts
// this project checks and replays: jobs, their permissions, environment,
// needs, runner, container, matrix and steps, or the workflow a job calls.
// It evaluates no expression and runs nothing:
// the structure test asserts on what it reads, and the release rehearsal
// runs the `go tool mage` steps of the release job itself.
package workflow

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Workflow is a parsed workflow file.
type Workflow struct {
	Name string `yaml:"name"`
	// On holds each trigger's settings, by event (push, schedule, ...).
	On          map[string]yaml.Node `yaml:"on"`
	Permissions map[string]string    `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]*Job   `yaml:"jobs"`
	// Uses lists each `uses:` line of the file as written, comment
	// included: YAML drops comments, and the pins' versions live there.
	Uses []string `yaml:"-"`
}

// Job is one job of a workflow: steps on a runner, or a call of another
// workflow (Uses, and then no steps).
type Job struct {
	Name string `yaml:"name"`
	Uses string `yaml:"uses"`
	// Secrets are what a call passes the called workflow: "inherit" or
	// a mapping.
	Secrets        yaml.Node         `yaml:"secrets"`
	RunsOn         Strings           `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Needs          Strings           `yaml:"needs"`
	If             string            `yaml:"if"`
	Permissions    map[string]string `yaml:"permissions"`
	Environment    Environment       `yaml:"environment"`
	Container      struct {
		Image   string `yaml:"image"`
		Options string `yaml:"options"`
	} `yaml:"container"`
	Strategy struct {
		FailFast *bool `yaml:"fail-fast"`
		// Matrix holds each variable's node: a list of values, or the
		// include and exclude lists of mappings.
		Matrix map[string]yaml.Node `yaml:"matrix"`
	} `yaml:"strategy"`
	Outputs map[string]string `yaml:"outputs"`
	Steps   []Step            `yaml:"steps"`
}

// Step is one step of a job.
type Step struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// Environment is a job's environment, written as a name or as a mapping.
type Environment struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
}

// UnmarshalYAML takes both `environment: NAME` and the mapping form.
func (e *Environment) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Name = n.Value
		return nil
	}
	type plain Environment
	return n.Decode((*plain)(e))
}

// Strings is a list that YAML may also write as one string (needs: test).
type Strings []string

// UnmarshalYAML takes a string or a list of strings.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Strings{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

var usesLine = regexp.MustCompile(`^\s*(-\s+)?uses:\s`)

// Read parses the workflow file at path.
func Read(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading workflow: %w", err)
	}
	var w Workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if usesLine.MatchString(line) {
			w.Uses = append(w.Uses, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "-")))
		}
	}
	return &w, nil
}

// Triggers are the events the workflow runs on, sorted.
func (w *Workflow) Triggers() []string {
	var events []string
	for e := range w.On {
		events = append(events, e)
	}
	sort.Strings(events)
	return events
}

// MageCall is a run step that is one `go tool mage TARGET [ARG...]` call.
type MageCall struct {
	Target string
	// Args are plain words or ${{ matrix.NAME }}: a value the workflow
	// lists itself, never one from the event that triggered it.
	Args []string
}

// MageCall returns the call of a run step that is one `go tool mage` call,
// or false for anything else (a second command, a shell construct, an
// argument from an expression other than the matrix's).
func (s Step) MageCall() (MageCall, bool) {
	m := mageCall.FindStringSubmatch(s.Run)
	if m == nil {
		return MageCall{}, false
	}
	return MageCall{Target: m[1], Args: mageArg.FindAllString(m[2], -1)}, true
}

// MageTarget returns the target of a run step that is one `go tool mage
// TARGET` call without arguments, or "" and false for anything else.
func (s Step) MageTarget() (string, bool) {
	c, ok := s.MageCall()
	if !ok || len(c.Args) > 0 {
		return "", false
	}
	return c.Target, true
}

const mageArgRE = `(?:[A-Za-z0-9][A-Za-z0-9._-]*|\$\{\{ matrix\.[a-z][a-z0-9_-]* \}\})`

var (
	mageCall = regexp.MustCompile(`^go tool mage ([a-z][a-zA-Z]*(?::[a-z][a-zA-Z]*)?)((?: ` + mageArgRE + `)*)\n?$`)
	mageArg  = regexp.MustCompile(mageArgRE)
)

// Action is the action a uses step names, without its ref (owner/repo[/path]).
func (s Step) Action() string {
	a, _, _ := strings.Cut(s.Uses, "@")
	return a
}
