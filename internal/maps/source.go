package maps

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Line is one logical line of a Postfix-style source file: a line that
// starts with non-whitespace plus the continuation lines (starting with
// whitespace) that follow it, joined without separators as readlline(3)
// does. Lineno is the line number of its first physical line.
type Line struct {
	Text   string
	Lineno int
}

// LineReader reads logical lines the way Postfix's readllines(3) does:
// empty lines, whitespace-only lines and lines whose first non-whitespace
// character is '#' are skipped, even between a line and its continuation;
// text that continues nothing is dropped with a warning.
type LineReader struct {
	name   string
	br     *bufio.Reader
	lineno int
	next   *Line // a physical line read ahead, not yet used
	warn   func(string)
	eof    bool
}

// NewLineReader reads from r; name is used in warnings, which go to warn
// (nil: discarded).
func NewLineReader(r io.Reader, name string, warn func(string)) *LineReader {
	if warn == nil {
		warn = func(string) {}
	}
	return &LineReader{name: name, br: bufio.NewReaderSize(r, 64*1024), warn: warn}
}

// physical returns the next physical line that is neither blank nor a
// comment, with its line number.
func (lr *LineReader) physical() (*Line, error) {
	if lr.next != nil {
		l := lr.next
		lr.next = nil
		return l, nil
	}
	for !lr.eof {
		s, err := lr.br.ReadString('\n')
		if err == io.EOF {
			lr.eof = true
			if s == "" {
				break
			}
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", lr.name, err)
		}
		lr.lineno++
		s = strings.TrimSuffix(s, "\n")
		t := strings.TrimLeft(s, " \t\r\n\v\f")
		if t == "" || t[0] == '#' {
			continue
		}
		return &Line{Text: s, Lineno: lr.lineno}, nil
	}
	return nil, io.EOF
}

// Next returns the next logical line, or io.EOF.
func (lr *LineReader) Next() (Line, error) {
	for {
		first, err := lr.physical()
		if err != nil {
			return Line{}, err
		}
		if isSpace(first.Text[0]) {
			t := first.Text
			if len(t) > 30 {
				t = t[:30] + "..."
			}
			lr.warn(fmt.Sprintf("%s: logical line must not start with whitespace: \"%s\"", lr.name, t))
			// Drop the continuation lines that follow it too, as
			// readlline does.
			if err := lr.skipContinuations(); err != nil {
				return Line{}, err
			}
			continue
		}
		var b strings.Builder
		b.WriteString(first.Text)
		for {
			l, err := lr.physical()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Line{}, err
			}
			if !isSpace(l.Text[0]) {
				lr.next = l
				break
			}
			b.WriteString(l.Text)
		}
		return Line{Text: b.String(), Lineno: first.Lineno}, nil
	}
}

func (lr *LineReader) skipContinuations() error {
	for {
		l, err := lr.physical()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !isSpace(l.Text[0]) {
			lr.next = l
			return nil
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

const spaceChars = " \t\r\n\v\f"

// SplitKeyValue splits a logical line of a postmap source file at the first
// whitespace into key and value, trimming both, as postmap(1) does. ok is
// false when either is empty ("expected format: key whitespace value").
func SplitKeyValue(text string) (key, value string, ok bool) {
	i := strings.IndexAny(text, spaceChars)
	if i < 0 {
		return text, "", false
	}
	key = strings.TrimRight(text[:i], spaceChars)
	value = strings.Trim(text[i+1:], spaceChars)
	return key, value, key != "" && value != ""
}

// SourceEntry is one key/value pair of a postmap source file.
type SourceEntry struct {
	Key, Value string
	Lineno     int
}

// ReadSource reads a postmap(1) source file: "key whitespace value" logical
// lines. Malformed lines are reported through warn with file and line, as
// postmap does, and skipped. Keys are returned as written (not folded).
func ReadSource(r io.Reader, name string, warn func(string), fn func(SourceEntry) error) error {
	if warn == nil {
		warn = func(string) {}
	}
	lr := NewLineReader(r, name, warn)
	for {
		l, err := lr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		k, v, ok := SplitKeyValue(l.Text)
		if !ok {
			warn(fmt.Sprintf("%s, line %d: expected format: key whitespace value", name, l.Lineno))
			continue
		}
		if strings.HasSuffix(k, ":") {
			warn(fmt.Sprintf("%s, line %d: record is in \"key: value\" format; is this an alias file?", name, l.Lineno))
		}
		if err := fn(SourceEntry{Key: k, Value: v, Lineno: l.Lineno}); err != nil {
			return err
		}
	}
}
