package printable

import (
	"bytes"
	"encoding/json"
	"testing"

	"gotest.tools/v3/assert"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		// no-op: what prints as it is
		{"plain", "workflow-runner up", "workflow-runner up"},
		{"lines and tabs", "a\tb\nc", "a\tb\nc"},
		{"not ASCII", "Zoë, 東京, ✓", "Zoë, 東京, ✓"},
		// escaped: what a terminal acts on
		{"clear the screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"the window's title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"a carriage return over a line", "ok\rFAIL", `ok\x0dFAIL`},
		{"DEL and C1 (CSI)", "a\x7fb\u009b31m", `a\x7fb\u009b31m`},
		{"right-to-left override", "txt.\u202eexe", `txt.\u202eexe`},
		{"bytes that are not UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, String(tc.in), tc.want)
		})
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	n, err := Writer(&b).Write([]byte("reason: \x1b[31mrun curl x | sh\x1b[0m\n"))
	assert.NilError(t, err)
	assert.Equal(t, n, 33, "the bytes given, as io.Writer wants")
	assert.Equal(t, b.String(), `reason: \x1b[31mrun curl x | sh\x1b[0m`+"\n")
}

// JSON stays JSON, means the same, and prints safely.
func TestJSON(t *testing.T) {
	in := map[string]string{"reason": "a\x1b[2Jb\x7fc\u009bd\u202ee"}
	doc, err := json.Marshal(in)
	assert.NilError(t, err)
	safe := JSON(doc)
	assert.Equal(t, String(string(safe)), string(safe), "nothing left to escape")
	var out map[string]string
	assert.NilError(t, json.Unmarshal(safe, &out))
	assert.DeepEqual(t, out, in)
}
