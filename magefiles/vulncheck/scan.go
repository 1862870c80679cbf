package vulncheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
)

// Target is what one govulncheck run scans.
type Target struct {
	Name string   // for the output: "source ./..." or a binary's path
	Dir  string   // where govulncheck runs (a module root)
	Args []string // govulncheck's arguments after -db and -format
}

// Source scans the packages of the module at dir, with build tags.
func Source(dir, tags string, patterns ...string) Target {
	args := []string{"-mode", "source"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	return Target{Name: "source " + strings.Join(patterns, " ") + " (module " + dir + ")", Dir: dir, Args: append(args, patterns...)}
}

// Binary scans a built Go binary, from the symbols and build information
// it carries (a stripped binary keeps both).
func Binary(dir, path string) Target {
	return Target{Name: "binary " + path, Dir: dir, Args: []string{"-mode", "binary", path}}
}

// Vuln is one known vulnerability a scan found, with the frames of one
// path to it.
type Vuln struct {
	ID      string
	Summary string
	Module  string // module path, or "stdlib"
	Found   string // the version in use
	Fixed   string // the first version without it; "" when none is fixed yet
	Called  bool   // a finding names a reachable symbol
	Trace   []Frame
}

// Frame is one step of a path to the vulnerable symbol, vulnerable end first.
type Frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

func (f Frame) String() string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	s := f.Package + "." + name
	if f.Position != nil && f.Position.Filename != "" {
		s += fmt.Sprintf(" (%s:%d)", f.Position.Filename, f.Position.Line)
	}
	return s
}

// Result is one target's scan.
type Result struct {
	Target Target
	Vulns  []Vuln // sorted by ID
}

// Called are the vulnerabilities whose vulnerable code is reachable.
func (r Result) Called() []Vuln {
	var out []Vuln
	for _, v := range r.Vulns {
		if v.Called {
			out = append(out, v)
		}
	}
	return out
}

// Run runs `go tool govulncheck` (from the module at toolDir, whose go.mod
// pins it) on t against db.
func Run(ctx context.Context, toolDir string, db Database, t Target) (Result, error) {
	args := append([]string{"tool", "govulncheck", "-C", t.Dir, "-db", db.URL, "-format", "json"}, t.Args...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = toolDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("running govulncheck on %s: %w: %s", t.Name, err, strings.TrimSpace(stderr.String()))
	}
	vulns, err := Parse(&stdout)
	if err != nil {
		return Result{}, fmt.Errorf("reading govulncheck's output on %s: %w", t.Name, err)
	}
	return Result{Target: t, Vulns: vulns}, nil
}

// message is one value of govulncheck's JSON stream; one field is set.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []Frame `json:"trace"`
	} `json:"finding"`
}

// Parse reads govulncheck's JSON stream into one Vuln per entry found,
// keeping for each the most precise finding (a called symbol over an
// imported package or a required module).
func Parse(r io.Reader) ([]Vuln, error) {
	dec := json.NewDecoder(r)
	summaries := map[string]string{}
	found := map[string]*Vuln{}
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		called := f.Trace[0].Function != ""
		v, ok := found[f.OSV]
		// govulncheck reports findings in no fixed order: of two equally
		// precise ones keep the first by name, so the output is stable.
		if ok && (v.Called && !called || v.Called == called && v.Trace[0].String() <= f.Trace[0].String()) {
			continue
		}
		// The first frame is the vulnerable end; the last, where the
		// module's own code calls in.
		found[f.OSV] = &Vuln{ID: f.OSV, Module: f.Trace[0].Module, Found: f.Trace[0].Version,
			Fixed: f.FixedVersion, Called: called, Trace: f.Trace}
	}
	var out []Vuln
	for id, v := range found {
		v.Summary = summaries[id]
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
