package aliases

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mailhorn/internal/maps"
	"strings"
)

// Entry is one alias as postalias stores it.
type Entry struct {
	Name  string // internal (unquoted) form; lower-cased unless Parse was told not to fold
	Value string // external (quoted) form, re-parsed at expansion time
	Line  int    // first line of the logical line it came from
}

// LineError is a complaint about one logical line of an aliases file. The
// parser reports it and goes on, as postalias does, so that one bad line
// does not cost the whole table.
type LineError struct {
	File string
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s, line %d: %s", e.File, e.Line, e.Msg) }

// ParseOptions control Parse.
type ParseOptions struct {
	// NoFold keeps names as written (postalias -f); by default they are
	// lower-cased (FoldName) so lookups are case-insensitive.
	NoFold bool
	// MaxLine bounds a logical line, in bytes; 0 means 1 MiB.
	MaxLine int
}

// Parse reads an aliases(5) file. file names the input in messages. It
// returns the entries in input order (duplicates included, see Dedup), the
// complaints about bad lines, and an error only when reading failed.
func Parse(r io.Reader, file string, opt ParseOptions) ([]Entry, []*LineError, error) {
	maxLine := opt.MaxLine
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	var entries []Entry
	var problems []*LineError
	err := logicalLines(r, maxLine, func(text string, line int, bad string) {
		if bad != "" {
			problems = append(problems, &LineError{file, line, bad})
			return
		}
		e, msg := parseEntry(text)
		if msg != "" {
			problems = append(problems, &LineError{file, line, msg})
			return
		}
		if e == nil {
			return
		}
		if !opt.NoFold {
			e.Name = maps.FoldKey(e.Name)
		}
		e.Line = line
		entries = append(entries, *e)
	})
	if err != nil {
		return entries, problems, fmt.Errorf("read %s: %w", file, err)
	}
	return entries, problems, nil
}

// parseEntry turns one logical line into an entry. It returns a message for
// a line that is not name:value, and nil, "" for a line with no tokens.
func parseEntry(text string) (*Entry, string) {
	toks := scan(text)
	if len(toks) == 0 {
		return nil, ""
	}
	colon := -1
	for i, t := range toks {
		if t.kind == tOp && t.op == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 || colon == len(toks)-1 || hasOp(toks[:colon], ",") {
		// To have an empty name or value, quote it: "" is a token.
		return nil, "need name:value pair"
	}
	if hasOp(toks[:colon], "@%") {
		return nil, "name must be local"
	}
	return &Entry{Name: internalize(toks[:colon]), Value: externalize(toks[colon+1:])}, ""
}

func hasOp(toks []token, ops string) bool {
	for _, t := range toks {
		if t.kind == tOp && strings.IndexByte(ops, t.op) >= 0 {
			return true
		}
	}
	return false
}

// isCSpace is isspace(3) in the C locale, which Postfix uses to find blank
// lines and continuation lines.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

var errLineTooLong = errors.New("logical line too long")

// logicalLines calls fn for each logical line: physical lines joined (as
// Postfix does, without a separator: the continuation's own leading white
// space separates), blank lines and comment lines dropped wherever they are.
// line is the number of the logical line's first physical line. A logical
// line that starts with white space is passed with a complaint in bad.
func logicalLines(r io.Reader, maxLine int, fn func(text string, line int, bad string)) error {
	br := bufio.NewReader(r)
	var buf strings.Builder
	first := 0
	flush := func() {
		if buf.Len() == 0 {
			return
		}
		text := buf.String()
		buf.Reset()
		if isCSpace(text[0]) {
			shown := text
			if len(shown) > 30 {
				shown = shown[:30] + "..."
			}
			fn("", first, fmt.Sprintf("logical line must not start with whitespace: %q", shown))
			return
		}
		fn(text, first, "")
	}
	for n := 1; ; n++ {
		line, err := readLine(br, maxLine)
		if err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if line == "" && err == io.EOF {
			break
		}
		i := 0
		for i < len(line) && isCSpace(line[i]) {
			i++
		}
		if i < len(line) && line[i] != '#' {
			if !isCSpace(line[0]) {
				flush()
				first = n
			} else if buf.Len() == 0 {
				first = n
			}
			if buf.Len()+len(line) > maxLine {
				return fmt.Errorf("line %d: %w", first, errLineTooLong)
			}
			buf.WriteString(line)
		}
		if err == io.EOF {
			break
		}
	}
	flush()
	return nil
}

// readLine returns one physical line without its newline (a carriage
// return stays: Postfix treats it as white space); io.EOF comes alone after
// the last line.
func readLine(br *bufio.Reader, maxLine int) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > maxLine+1 {
			return "", errLineTooLong
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(b) > 0:
			return string(b), nil
		case err != nil:
			return "", err
		}
		return string(b[:len(b)-1]), nil
	}
}

// DupMode is what to do with a name listed twice.
type DupMode int

const (
	DupWarn    DupMode = iota // keep the first, complain (postalias default)
	DupIgnore                 // keep the first silently (postalias -w)
	DupReplace                // keep the last silently (postalias -r)
)

// Dedup removes duplicate names from entries. Names are compared as they
// are (Parse has already folded them unless told not to).
func Dedup(entries []Entry, file string, mode DupMode) ([]Entry, []*LineError) {
	index := map[string]int{}
	var out []Entry
	var problems []*LineError
	for _, e := range entries {
		i, dup := index[e.Name]
		switch {
		case !dup:
			index[e.Name] = len(out)
			out = append(out, e)
		case mode == DupReplace:
			out[i] = e
		case mode == DupWarn:
			problems = append(problems, &LineError{file, e.Line, fmt.Sprintf("duplicate entry: %q", e.Name)})
		}
	}
	return out, problems
}
