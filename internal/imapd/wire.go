package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Errors of the command reader.
var (
	// errLineTooLong: a command line is longer than Options.LineLimit; the
	// session ends (the rest of the line cannot be told from a new command).
	errLineTooLong = errors.New("command line too long")
	// errLiteralTooBig: a non-synchronising literal over the limit; the
	// session ends without reading it (RFC 7888 §4).
	errLiteralTooBig = errors.New("literal too big")
)

// rawCommand is one command as read from the wire: its text lines and the
// literals between them (len(lines) == len(lits)+1). Each line but the last
// ends with the literal's "{N}" / "{N+}" announcement.
type rawCommand struct {
	lines [][]byte
	lits  [][]byte
}

// tooBig is returned by readCommand when a synchronising literal is over the
// limit: the client has been told nothing yet; the caller answers NO
// [TOOBIG] and the client does not send the literal.
type tooBig struct {
	tag  string
	size int64
	// refused, when set, is the BAD text for a synchronising literal of
	// a command that cannot run in this state (APPEND before login).
	refused string
}

func (t *tooBig) Error() string { return fmt.Sprintf("literal of %d octets too big", t.size) }

// cmdReader reads commands with their literals.
type cmdReader struct {
	r         *bufio.Reader
	lineLimit int
	// litLimit gives the largest literal accepted for a command whose
	// first line is given (APPEND takes messages, the rest small strings)
	// and, when the command is refused anyway, why: its synchronising
	// literals are then refused before the client sends them.
	litLimit func(first []byte) (int64, string)
	// cont is called before a synchronising literal is read: it sends the
	// continuation request.
	cont func() error
}

// readLine reads one line without its CRLF (a bare LF is accepted too).
func (cr *cmdReader) readLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := cr.r.ReadSlice('\n')
		if len(line)+len(frag) > cr.lineLimit+2 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}

// literalAnnounce reports whether line ends with a literal announcement
// "{N}", "{N+}" or "{N-}" (~{N} for literal8 too) and its size.
func literalAnnounce(line []byte) (size int64, sync bool, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false, false
	}
	num := line[open+1 : len(line)-1]
	sync = true
	if n := len(num); n > 0 && (num[n-1] == '+' || num[n-1] == '-') {
		num, sync = num[:n-1], false
	}
	if len(num) == 0 || len(num) > 19 {
		if len(num) > 19 && allDigits(num) {
			return -1, sync, true // absurdly large: over any limit
		}
		return 0, false, false
	}
	if !allDigits(num) {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return -1, sync, true
	}
	return n, sync, true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// readCommand reads a whole command: its lines and literals. The
// literals' total is bounded by the limit for the command.
func (cr *cmdReader) readCommand() (*rawCommand, error) {
	rc := &rawCommand{}
	var limit int64 = -1
	refused := ""
	for {
		line, err := cr.readLine()
		if err != nil {
			return nil, err
		}
		rc.lines = append(rc.lines, line)
		size, sync, ok := literalAnnounce(line)
		if !ok {
			return rc, nil
		}
		if limit < 0 {
			limit, refused = cr.litLimit(rc.lines[0])
		}
		if refused != "" && sync {
			tag, _, _ := bytes.Cut(rc.lines[0], []byte(" "))
			return nil, &tooBig{tag: string(tag), size: size, refused: refused}
		}
		if size < 0 || size > limit {
			if sync {
				tag, _, _ := bytes.Cut(rc.lines[0], []byte(" "))
				return nil, &tooBig{tag: string(tag), size: size}
			}
			return nil, errLiteralTooBig
		}
		limit -= size
		if sync {
			if err := cr.cont(); err != nil {
				return nil, err
			}
		}
		lit := make([]byte, size)
		if _, err := io.ReadFull(cr.r, lit); err != nil {
			return nil, err
		}
		rc.lits = append(rc.lits, lit)
	}
}

// parser reads the arguments of one command (RFC 9051 §9 grammar) from a
// rawCommand.
type parser struct {
	rc   *rawCommand
	seg  int    // current line
	line []byte // rc.lines[seg]
	pos  int
}

// syntaxError is a command's grammar error: answered BAD.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func errSyntax(format string, a ...any) error { return &syntaxError{fmt.Sprintf(format, a...)} }

func newParser(rc *rawCommand) *parser {
	return &parser{rc: rc, line: rc.lines[0]}
}

// atEnd reports whether the whole command has been read.
func (p *parser) atEnd() bool { return p.pos >= len(p.line) && p.seg == len(p.rc.lines)-1 }

func (p *parser) peek() byte {
	if p.pos < len(p.line) {
		return p.line[p.pos]
	}
	return 0
}

// end checks that nothing is left.
func (p *parser) end() error {
	if !p.atEnd() {
		return errSyntax("unexpected characters at end of command")
	}
	return nil
}

func (p *parser) sp() error {
	if p.peek() != ' ' {
		return errSyntax("missing space")
	}
	p.pos++
	return nil
}

// trySP consumes a space if there is one.
func (p *parser) trySP() bool {
	if p.peek() == ' ' {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(c byte) error {
	if p.peek() != c {
		return errSyntax("expected %q", c)
	}
	p.pos++
	return nil
}

func (p *parser) tryByte(c byte) bool {
	if p.peek() == c {
		p.pos++
		return true
	}
	return false
}

// isAtomChar: ATOM-CHAR of RFC 9051 (no atom-specials).
func isAtomChar(c byte) bool {
	switch c {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return c > 0x20 && c < 0x7f
}

// atom reads an atom (upper-casing is the caller's choice).
func (p *parser) atom() (string, error) {
	start := p.pos
	for p.pos < len(p.line) && isAtomChar(p.line[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", errSyntax("expected an atom")
	}
	return string(p.line[start:p.pos]), nil
}

// word reads characters up to a space, parenthesis or the end: used for
// flags (with their backslash), sequence sets and dates.
func (p *parser) word(extra string) string {
	start := p.pos
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		if !isAtomChar(c) && !strings.ContainsRune(extra, rune(c)) {
			break
		}
		p.pos++
	}
	return string(p.line[start:p.pos])
}

// number reads a number (up to 63 bits).
func (p *parser) number() (uint64, error) {
	start := p.pos
	for p.pos < len(p.line) && p.line[p.pos] >= '0' && p.line[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == start {
		return 0, errSyntax("expected a number")
	}
	n, err := strconv.ParseUint(string(p.line[start:p.pos]), 10, 63)
	if err != nil {
		return 0, errSyntax("number out of range")
	}
	return n, nil
}

// number32 reads a non-zero 32-bit number (nz-number) or zero if zeroOK.
func (p *parser) number32(zeroOK bool) (uint32, error) {
	n, err := p.number()
	if err != nil {
		return 0, err
	}
	if n > 0xffffffff || (n == 0 && !zeroOK) {
		return 0, errSyntax("number out of range")
	}
	return uint32(n), nil
}

// literal reads a literal if one starts here.
func (p *parser) literal() ([]byte, bool, error) {
	if p.peek() != '{' && !(p.peek() == '~' && p.pos+1 < len(p.line) && p.line[p.pos+1] == '{') {
		return nil, false, nil
	}
	rest := bytes.TrimPrefix(p.line[p.pos:], []byte("~"))
	if _, _, ok := literalAnnounce(rest); !ok || bytes.LastIndexByte(rest, '{') != 0 {
		return nil, true, errSyntax("bad literal")
	}
	if p.seg >= len(p.rc.lits) {
		return nil, true, errSyntax("bad literal")
	}
	lit := p.rc.lits[p.seg]
	p.seg++
	p.line, p.pos = p.rc.lines[p.seg], 0
	return lit, true, nil
}

// quoted reads a quoted string.
func (p *parser) quoted() (string, error) {
	if err := p.expect('"'); err != nil {
		return "", err
	}
	var b []byte
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		p.pos++
		switch c {
		case '"':
			return string(b), nil
		case '\\':
			if p.pos >= len(p.line) {
				return "", errSyntax("bad quoted string")
			}
			c = p.line[p.pos]
			if c != '"' && c != '\\' {
				return "", errSyntax("bad escape in quoted string")
			}
			p.pos++
		case '\r', '\n', 0:
			return "", errSyntax("bad character in quoted string")
		}
		b = append(b, c)
	}
	return "", errSyntax("unterminated quoted string")
}

// str reads a string: quoted or literal.
func (p *parser) str() (string, error) {
	if p.peek() == '"' {
		return p.quoted()
	}
	lit, ok, err := p.literal()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errSyntax("expected a string")
	}
	return string(lit), nil
}

// astring reads an astring: atom (with ']'), quoted or literal.
func (p *parser) astring() (string, error) {
	switch c := p.peek(); {
	case c == '"' || c == '{':
		return p.str()
	}
	start := p.pos
	for p.pos < len(p.line) && (isAtomChar(p.line[p.pos]) || p.line[p.pos] == ']') {
		p.pos++
	}
	if p.pos == start {
		return "", errSyntax("expected a string")
	}
	return string(p.line[start:p.pos]), nil
}

// listMailbox reads a LIST pattern: list-char atom (with % * ]) or string.
func (p *parser) listMailbox() (string, error) {
	switch c := p.peek(); {
	case c == '"' || c == '{':
		return p.str()
	}
	s := p.word("%*]")
	if s == "" {
		return "", errSyntax("expected a mailbox pattern")
	}
	return s, nil
}

// list reads a parenthesised list, calling item for each element.
func (p *parser) list(item func() error) error {
	if err := p.expect('('); err != nil {
		return err
	}
	if p.tryByte(')') {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if p.tryByte(')') {
			return nil
		}
		if err := p.sp(); err != nil {
			return errSyntax("expected space or ')' in list")
		}
	}
}

// flagList reads "(\Seen kw ...)" or, with bare, a single flag or a list.
func (p *parser) flagList(bare bool) ([]string, error) {
	var flags []string
	one := func() error {
		f := p.word("\\")
		if f == "" {
			return errSyntax("expected a flag")
		}
		flags = append(flags, f)
		return nil
	}
	if bare && p.peek() != '(' {
		for {
			if err := one(); err != nil {
				return nil, err
			}
			if p.peek() != ' ' || p.pos+1 >= len(p.line) || p.line[p.pos+1] == '(' {
				return flags, nil
			}
			p.pos++
		}
	}
	err := p.list(one)
	return flags, err
}

// writer helpers ---------------------------------------------------------

// appendString appends s as an IMAP string: quoted when it can be, else a
// literal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 || c >= 0x80 {
			b = append(b, '{')
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, "}\r\n"...)
			return append(b, s...)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendUTF8String is appendString that allows UTF-8 in quoted strings
// (IMAP4rev2, UTF8=ACCEPT).
func appendUTF8String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return appendString(b, s)
		}
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendLiteral appends bytes as a literal.
func appendLiteral(b, data []byte) []byte {
	b = append(b, '{')
	b = strconv.AppendInt(b, int64(len(data)), 10)
	b = append(b, "}\r\n"...)
	return append(b, data...)
}
