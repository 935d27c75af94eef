package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
)

// Errors of the command-line codec.
var (
	errLineTooLong = errors.New("line too long")
	errBadSyntax   = errors.New("bad syntax")
)

// readLine reads one command line of at most limit octets (CRLF excluded)
// and returns it without its line ending. bareLF tells that it ended in a
// bare <LF>. An overlong line is read to its end and discarded so that the
// session stays in step with the client, and errLineTooLong is returned.
func readLine(r *bufio.Reader, limit int) (line []byte, bareLF bool, err error) {
	tooLong := false
	for {
		frag, err := r.ReadSlice('\n')
		if !tooLong {
			line = append(line, frag...)
			if len(line) > limit+2 {
				tooLong = true
				line = line[:0]
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		break
	}
	if tooLong {
		return nil, false, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	} else {
		bareLF = true
	}
	if len(line) > limit {
		return nil, bareLF, errLineTooLong
	}
	return line, bareLF, nil
}

// Command is one parsed command line.
type Command struct {
	Verb string // upper-cased: "MAIL"
	Arg  string // the rest, without surrounding blanks: "FROM:<a@b>"
}

// ParseCommand splits a command line (without CRLF) into verb and argument.
// Like Postfix's tokenizer it accepts any run of spaces or tabs between
// words. A blank line or one with a NUL is a syntax error.
func ParseCommand(line []byte) (Command, error) {
	if bytes.IndexByte(line, 0) >= 0 {
		return Command{}, errBadSyntax
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return Command{}, errBadSyntax
	}
	verb, arg := s, ""
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		verb, arg = s[:i], s[i+1:]
	}
	return Command{Verb: strings.ToUpper(verb), Arg: strings.Trim(arg, " \t")}, nil
}

// cutPrefixFold removes a case-insensitive prefix ("FROM:") and the
// blanks after it.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return strings.TrimLeft(s[len(prefix):], " \t"), true
}

// splitPath splits "<path> params" at the '>' that closes the path,
// skipping quoted strings; without '<' the path is the first word.
func splitPath(s string) (path, rest string) {
	if !strings.HasPrefix(s, "<") {
		path, rest, _ = strings.Cut(s, " ")
		return path, prefixSpace(rest)
	}
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			return s[:i+1], s[i+1:]
		}
	}
	return s, ""
}

func prefixSpace(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}
