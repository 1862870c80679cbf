package envfile

import "strings"

// state is where systemd's parser is within a line (env-file.c's states).
type state int

const (
	preKey state = iota
	inKey
	preValue
	inValue
	valueEscape
	singleQuote
	singleQuoteEscape // systemd before 241 only
	doubleQuote
	doubleQuoteEscape
	comment
	commentEscape
)

// assignment is what the parser collected for one NAME=value (or for a
// line with a name and no '=').
type assignment struct {
	name, value string
	line        int
	hasValue    bool
	unclosed    byte // the quote still open at the end of the file
}

// dialect is how one systemd release reads escapes (see Parse).
type dialect struct {
	// singleQuoteEscapes: a backslash inside single quotes escapes the
	// next byte (before 241).
	singleQuoteEscapes bool
	// doubleQuoteDropsBackslash: inside double quotes a backslash before
	// any byte is dropped (before 241); from 241 it stays unless the byte
	// is one the release unescapes.
	doubleQuoteDropsBackslash bool
	// doubleQuoteUnescapes are the bytes a backslash unescapes inside
	// double quotes from 241: '"' in 241-246, "\"\\`$" from 247.
	doubleQuoteUnescapes string
	// commentEscapeSwallows: a comment ending in a backslash goes on with
	// the next line (before 254).
	commentEscapeSwallows bool
}

// dialectOf is systemd's release's dialect; 0 (unknown) is the oldest
// release stigmer supports, 239 (RHEL 8).
func dialectOf(systemd int) dialect {
	if systemd == 0 {
		systemd = Floor
	}
	d := dialect{commentEscapeSwallows: systemd < 254}
	switch {
	case systemd < 241:
		d.singleQuoteEscapes, d.doubleQuoteDropsBackslash = true, true
	case systemd < 247:
		d.doubleQuoteUnescapes = "\""
	default:
		d.doubleQuoteUnescapes = shellNeedEscape
	}
	return d
}

// parser is systemd's state machine, byte by byte; it records assignments
// systemd would drop as well, so that Parse can name them.
type parser struct {
	dialect
	st          state
	line        int
	key, value  strings.Builder
	keyLine     int
	keyTrim     int // length of the key without trailing whitespace; -1: none
	valueTrim   int // same for the value
	assignments []assignment
	// swallowingComments are lines of comments that end in a backslash.
	swallowingComments []int
}

const (
	newline    = "\n\r"
	whitespace = " \t\n\r"
	comments   = "#;"
	// shellNeedEscape are the characters a backslash unescapes inside
	// double quotes; before any other the backslash stays.
	shellNeedEscape = "\"\\`$"
)

func in(set string, c byte) bool { return strings.IndexByte(set, c) >= 0 }

func (p *parser) step(c byte) {
	switch p.st {
	case preKey:
		switch {
		case in(comments, c):
			p.st = comment
		case c == '\n':
			p.line++
		case !in(whitespace, c):
			p.st, p.keyLine, p.keyTrim = inKey, p.line, -1
			p.key.WriteByte(c)
		}
	case inKey:
		switch {
		case in(newline, c):
			p.push(false)
			p.endLine(c)
		case c == '=':
			p.st, p.valueTrim = preValue, -1
		default:
			p.trackKeyWhitespace(c)
			p.key.WriteByte(c)
		}
	case preValue:
		switch {
		case in(newline, c):
			p.push(true)
			p.endLine(c)
		case c == '\'':
			p.st = singleQuote
		case c == '"':
			p.st = doubleQuote
		case c == '\\':
			p.st = valueEscape
		case !in(whitespace, c):
			p.st = inValue
			p.value.WriteByte(c)
		}
	case inValue:
		switch {
		case in(newline, c):
			p.push(true)
			p.endLine(c)
		case c == '\\':
			p.st, p.valueTrim = valueEscape, -1
		default:
			if !in(whitespace, c) {
				p.valueTrim = -1
			} else if p.valueTrim < 0 {
				p.valueTrim = p.value.Len()
			}
			p.value.WriteByte(c)
		}
	case valueEscape:
		p.st = inValue
		if in(newline, c) { // a continuation line: the newline is dropped
			p.countNewline(c)
		} else {
			p.value.WriteByte(c)
		}
	case singleQuote:
		switch {
		case c == '\'':
			p.st = preValue
		case c == '\\' && p.singleQuoteEscapes:
			p.st = singleQuoteEscape
		default:
			p.countNewline(c)
			p.value.WriteByte(c)
		}
	case singleQuoteEscape:
		p.st = singleQuote
		p.escapedNewlineOr(c)
	case doubleQuote:
		switch c {
		case '"':
			p.st = preValue
		case '\\':
			p.st = doubleQuoteEscape
		default:
			p.countNewline(c)
			p.value.WriteByte(c)
		}
	case doubleQuoteEscape:
		p.st = doubleQuote
		switch {
		case p.doubleQuoteDropsBackslash:
			p.escapedNewlineOr(c)
		case in(p.doubleQuoteUnescapes, c):
			p.value.WriteByte(c)
		case c == '\n' || (c == '\r' && p.doubleQuoteUnescapes != shellNeedEscape):
			// a backslash before \r: dropped with it before 247, kept from 247
			p.countNewline(c)
		default:
			p.value.WriteByte('\\')
			p.value.WriteByte(c)
		}
	case comment:
		switch {
		case c == '\\':
			p.st = commentEscape
		case in(newline, c):
			p.endLine(c)
		}
	case commentEscape:
		// systemd 254 ends the comment at this newline; older releases
		// go on with the comment on the next line, which they never
		// apply.
		switch {
		case c == '\n' && p.commentEscapeSwallows:
			p.swallowingComments = append(p.swallowingComments, p.line)
			p.st = comment
			p.countNewline(c)
		case in(newline, c):
			p.swallowingComments = append(p.swallowingComments, p.line)
			p.endLine(c)
		default:
			p.st = comment
		}
	}
}

// escapedNewlineOr is a byte after a backslash that the release simply
// unescapes: a newline (or \r) is dropped, any other byte kept.
func (p *parser) escapedNewlineOr(c byte) {
	if in(newline, c) {
		p.countNewline(c)
		return
	}
	p.value.WriteByte(c)
}

func (p *parser) trackKeyWhitespace(c byte) {
	if !in(whitespace, c) {
		p.keyTrim = -1
	} else if p.keyTrim < 0 {
		p.keyTrim = p.key.Len()
	}
}

func (p *parser) countNewline(c byte) {
	if c == '\n' {
		p.line++
	}
}

// endLine returns to the start of a line; a \r counts as a line end for
// the parser, but only \n starts a new line number.
func (p *parser) endLine(c byte) {
	p.st = preKey
	p.countNewline(c)
}

// finish ends the file: an assignment in progress is applied, as systemd
// does, and an open quote is recorded.
func (p *parser) finish() {
	switch p.st {
	case inKey:
		p.push(false)
	case preValue, inValue, valueEscape:
		p.push(true)
	case singleQuote, singleQuoteEscape, doubleQuote, doubleQuoteEscape:
		q := byte('"')
		if p.st == singleQuote || p.st == singleQuoteEscape {
			q = '\''
		}
		p.push(true)
		p.assignments[len(p.assignments)-1].unclosed = q
	}
}

func (p *parser) push(hasValue bool) {
	key := p.key.String()
	if p.keyTrim >= 0 {
		key = key[:p.keyTrim]
	}
	value := p.value.String()
	if p.st == inValue && p.valueTrim >= 0 {
		value = value[:p.valueTrim]
	}
	p.assignments = append(p.assignments, assignment{name: key, value: value, line: p.keyLine, hasValue: hasValue})
	p.key.Reset()
	p.value.Reset()
}
