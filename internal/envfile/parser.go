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

// parser is systemd's state machine, byte by byte; it records assignments
// systemd would drop as well, so that Parse can name them.
type parser struct {
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
		if c == '\'' {
			p.st = preValue
		} else {
			p.countNewline(c)
			p.value.WriteByte(c)
		}
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
		case in(shellNeedEscape, c):
			p.value.WriteByte(c)
		case c == '\n':
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
		// go on with the comment on the next line.
		if c == '\n' {
			p.swallowingComments = append(p.swallowingComments, p.line)
			p.endLine(c)
		} else {
			p.st = comment
		}
	}
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
	case singleQuote, doubleQuote, doubleQuoteEscape:
		q := byte('\'')
		if p.st != singleQuote {
			q = '"'
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
