package envfile

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestParse(t *testing.T) {
	// success: what systemd's parser makes of each form
	for _, tc := range []struct {
		name, in string
		want     []Var
	}{
		{"plain", "A=1\nB=two words\n", []Var{{"A", "1", 1}, {"B", "two words", 2}}},
		{"comments and blank lines", "# c\n; c\n\n  \nA=1", []Var{{"A", "1", 5}}},
		{"spaces around the name and value", "  A  =   x y  \n", []Var{{"A", "x y", 1}}},
		{"empty value", "A=\n", []Var{{"A", "", 1}}},
		{"single quotes keep everything", `A='a "b" \n $x'`, []Var{{"A", `a "b" \n $x`, 1}}},
		{"double quotes unescape \\\" \\\\ \\$ and \\`, keep other backslashes", `A="q\"b\\s\$d\x"`, []Var{{"A", `q"b\s$d\x`, 1}}},
		{"quotes in the middle are characters", `A=a "b"`, []Var{{"A", `a "b"`, 1}}},
		{"quoted parts join", `A="a" 'b'c`, []Var{{"A", "abc", 1}}},
		{"a backslash continues the line", "A=one\\\ntwo\nB=3", []Var{{"A", "onetwo", 1}, {"B", "3", 3}}},
		{"a quoted value spans lines", "A=\"x\ny\"\nB=1", []Var{{"A", "x\ny", 1}, {"B", "1", 3}}},
		{"CRLF line ends", "A=1\r\nB=2\r\n", []Var{{"A", "1", 1}, {"B", "2", 2}}},
		{"later wins (Environ)", "A=1\nA=2", []Var{{"A", "1", 1}, {"A", "2", 2}}},
		{"a comment ending in a backslash before a blank line", "# x \\\n\nA=1", []Var{{"A", "1", 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, problems := Parse([]byte(tc.in), 252)
			assert.Assert(t, is.Len(problems, 0), "%v", problems)
			assert.DeepEqual(t, vars, tc.want)
		})
	}

	// failure: lines systemd ignores, misreads or refuses, each named
	for _, tc := range []struct {
		name, in string
		line     int
		why      string
		vars     int
	}{
		{"no =", "A=1\nSTIGMER_LISTEN 127.0.0.1:7300\n", 2, "has no '='", 1},
		{"no = on the last line", "A=1\nOOPS", 2, "has no '='", 1},
		{"export", "export A=1\n", 1, "no `export`", 0},
		{"a name with a dash", "MY-VAR=1\n", 1, "variable name", 0},
		{"an unclosed quote", "A=1\nB=\"open\nC=2\n", 2, "never closed", 2},
		{"invalid UTF-8", "A=\xff\n", 1, "not valid UTF-8", 0},
		{"a comment ending in a backslash", "# see \\\nSTIGMER_LISTEN=127.0.0.1:7300\n", 1, "reads line 2 as part of the comment and never applies it (so does the systemd here", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, problems := Parse([]byte(tc.in), 252)
			assert.Assert(t, is.Len(problems, 1), "%v", problems)
			assert.Equal(t, problems[0].Line, tc.line)
			assert.Assert(t, is.Contains(problems[0].Why, tc.why))
			assert.Equal(t, problems[0].Text, strings.Split(tc.in, "\n")[tc.line-1])
			assert.Equal(t, len(vars), tc.vars)
		})
	}
}

// Each release reads escapes as its own parser did: RHEL 8's 239 unescapes
// inside single quotes and drops every backslash inside double quotes;
// 241 made single quotes literal and kept backslashes inside double
// quotes; 247 unescapes \\, \` and \$ there; 254 stopped a comment ending
// in a backslash from swallowing the next line.
func TestParseAsEachRelease(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[int]string // release -> A's value ("-" when unset)
	}{
		{"backslash in single quotes", `A='pa\ss'`, map[int]string{239: "pass", 245: `pa\ss`, 247: `pa\ss`, 252: `pa\ss`, 0: "pass"}},
		{"backslashes in double quotes", `A="C:\path\x"`, map[int]string{239: "C:pathx", 245: `C:\path\x`, 252: `C:\path\x`}},
		{"an escaped backslash in double quotes", `A="a\\b"`, map[int]string{239: `a\b`, 245: `a\\b`, 252: `a\b`}},
		{"an escaped dollar in double quotes", `A="\$HOME"`, map[int]string{239: "$HOME", 245: `\$HOME`, 252: "$HOME"}},
		{"an escaped quote in double quotes", `A="say \"hi\""`, map[int]string{239: `say "hi"`, 245: `say "hi"`, 252: `say "hi"`}},
		{"an escaped quote in single quotes", "A='it\\'s'\n", map[int]string{239: "it's"}},
		{"a backslash-newline in double quotes", "A=\"one\\\ntwo\"", map[int]string{239: "onetwo", 245: "onetwo", 252: "onetwo"}},
		{"a backslash-newline in single quotes", "A='one\\\ntwo'", map[int]string{239: "onetwo", 245: "one\\\ntwo", 252: "one\\\ntwo"}},
		{"a line after a comment ending in a backslash", "# note \\\nA=1\n", map[int]string{239: "-", 245: "-", 253: "-", 254: "1", 0: "-"}},
		{"two lines after two such comments", "# note \\\n# more \\\nA=1\n", map[int]string{239: "-", 254: "1"}},
	} {
		for release, want := range tc.want {
			t.Run(fmt.Sprintf("%s/%d", tc.name, release), func(t *testing.T) {
				vars, _ := Parse([]byte(tc.in), release)
				got := Environ(nil, vars)
				v, ok := got["A"]
				if !ok {
					v = "-"
				}
				assert.Equal(t, v, want, "%q as systemd %d reads it", tc.in, release)
			})
		}
	}
}

func TestEnviron(t *testing.T) {
	file, _ := Parse([]byte("STIGMER_DATA_DIR=/srv/stigmer\nX=1"), 252)
	env := Environ([]string{"STIGMER_DATA_DIR=/var/lib/stigmer", "STIGMER_LOG_DIR=/var/log/stigmer"}, file)
	assert.DeepEqual(t, env, map[string]string{"STIGMER_DATA_DIR": "/srv/stigmer", "STIGMER_LOG_DIR": "/var/log/stigmer", "X": "1"})
}

// The packaged env file is all comments: no problem, no variable.
func TestPackagedFile(t *testing.T) {
	data, err := os.ReadFile("../../packaging/stigmer.env")
	assert.NilError(t, err)
	vars, problems := Parse(data, Floor)
	assert.Assert(t, is.Len(problems, 0), "%v", problems)
	assert.Assert(t, is.Len(vars, 0))
}
