// Package envfile reads environment files the way systemd's
// EnvironmentFile= does (systemd.exec(5)): NAME=value lines, # and ;
// comments, single and double quotes, backslash escapes and continuation
// lines, trailing whitespace dropped. It mirrors systemd's own parser
// (src/basic/env-file.c, src/basic/fileio.c before 240) release by release,
// so that what it returns is what the service gets from the systemd that
// runs it, and it names every line systemd would silently ignore or
// misread, which systemd itself does not. It does no shell expansion, as
// systemd does none.
//
// Where releases differ (systemd's NEWS and the pull requests that changed
// env-file.c):
//   - before 241 (RHEL 8's 239) a backslash escapes the next byte inside
//     single quotes too ('pa\ss' is pass), and inside double quotes it is
//     dropped before any byte ("C:\path\x" is C:pathx);
//   - from 241 single quotes are literal, and inside double quotes only \"
//     is unescaped, other backslashes stay (systemd pull request 11427);
//   - from 247 \\, \` and \$ are unescaped inside double quotes as well
//     (pull request 17027);
//   - before 254 a comment that ends in a backslash swallows the next line,
//     which is never applied (pull request 28079).
package envfile

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Var is one assignment: Line is where it starts (a value may continue on
// the next lines).
type Var struct {
	Name, Value string
	Line        int
}

// Problem is a line that systemd ignores, misreads or refuses.
type Problem struct {
	Line int
	Text string // the line as written, without its newline
	Why  string // what systemd does with it, and so what is wrong
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %q %s", p.Line, p.Text, p.Why) }

// Floor is the oldest systemd release stigmer supports (RHEL 8), whose
// rules Parse applies when the release is not known.
const Floor = 239

// Parse reads data as systemd release systemd (its major version, as
// `systemctl --version` prints it; 0 when unknown, read as Floor) reads
// an environment file. It returns the assignments that release applies,
// in order (a later one of a name wins), and the problems found; with
// invalid UTF-8 systemd refuses the whole file (the service does not
// start), which is a problem too.
func Parse(data []byte, systemd int) (vars []Var, problems []Problem) {
	lines := strings.Split(string(data), "\n")
	text := func(n int) string { return strings.TrimRight(lines[n-1], "\r") }
	p := &parser{line: 1, dialect: dialectOf(systemd)}
	for _, c := range data {
		p.step(c)
	}
	p.finish()
	for _, a := range p.assignments {
		switch {
		case !a.hasValue:
			problems = append(problems, Problem{a.line, text(a.line), "has no '=': systemd ignores the line"})
		case !validName(a.name):
			problems = append(problems, Problem{a.line, text(a.line), "does not start with a variable name (letters, digits and _; no `export`, no spaces): systemd ignores the line"})
		case !utf8.ValidString(a.name) || !utf8.ValidString(a.value):
			problems = append(problems, Problem{a.line, text(a.line), "is not valid UTF-8: systemd refuses the whole file and the service does not start"})
		default:
			vars = append(vars, Var{Name: a.name, Value: a.value, Line: a.line})
		}
		if a.unclosed != 0 {
			problems = append(problems, Problem{a.line, text(a.line), fmt.Sprintf("opens a %c quote that is never closed: systemd takes the rest of the file as its value", a.unclosed)})
		}
	}
	for _, n := range p.swallowingComments {
		if n >= len(lines) || blankOrComment(text(n+1)) {
			continue
		}
		why := fmt.Sprintf("is a comment ending in a backslash: systemd before 254 reads line %d as part of the comment and never applies it", n+1)
		if p.commentEscapeSwallows {
			why += " (so does the systemd here: line " + fmt.Sprint(n+1) + " is not applied)"
		} else {
			why += " (the systemd here applies it; older ones, RHEL 8 and Ubuntu 20.04 among them, do not)"
		}
		problems = append(problems, Problem{n, text(n), why})
	}
	slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	return vars, problems
}

// Environ is base (NAME=value strings, e.g. the unit's Environment=) with
// vars applied on top, later names replacing earlier ones, the way systemd
// lets EnvironmentFile= win over Environment=.
func Environ(base []string, vars ...[]Var) map[string]string {
	env := map[string]string{}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, file := range vars {
		for _, v := range file {
			env[v.Name] = v.Value
		}
	}
	return env
}

func validName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func blankOrComment(line string) bool {
	t := strings.TrimLeft(line, " \t\r")
	return t == "" || t[0] == '#' || t[0] == ';'
}
