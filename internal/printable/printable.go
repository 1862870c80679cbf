// Package printable makes text safe to print on a terminal: what a stigmer
// command prints from the server (its status, its history, its errors)
// could hold escape sequences that clear the screen, set the window's
// title or paint a command to run, and a command run by root must not
// pass them on. As systemctl and journalctl do, it replaces control
// characters (C0 but newline and tab, DEL, C1), bytes that are not UTF-8
// and the bidirectional formatting characters with escapes that show
// what they were: \x1b, \u202e.
package printable

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// String is s with what a terminal would act on replaced by escapes.
func String(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unsafe(r):
			if r < 0x80 {
				fmt.Fprintf(&b, "\\x%02x", r)
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// clean says whether s needs no escape.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			return utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe)
		}
	}
	return true
}

// unsafe is a rune a terminal acts on: C0 (but newline and tab), DEL, C1,
// and the bidirectional embeddings, overrides and isolates, which reorder
// what is shown.
func unsafe(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\n' && r != '\t'
	case r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Writer writes to w what it is given, made printable. Each Write is
// taken as whole text: a UTF-8 sequence split over two Writes shows as
// escaped bytes, which fmt's and tabwriter's writes never do.
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (p writer) Write(b []byte) (int, error) {
	s := String(string(b))
	if _, err := io.WriteString(p.w, s); err != nil {
		return 0, err
	}
	return len(b), nil
}

// JSON is an encoding/json document with the runes it leaves as they are
// but a terminal acts on (DEL, C1, the bidirectional formatting
// characters) written as \u escapes, which mean the same to JSON: the
// document prints safely and parses to the same values. (encoding/json
// escapes C0 itself.)
func JSON(doc []byte) []byte {
	if !bytes.ContainsFunc(doc, unsafe) {
		return doc
	}
	var b bytes.Buffer
	for _, r := range string(doc) {
		if unsafe(r) && r >= 0x7f {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.Bytes()
}
