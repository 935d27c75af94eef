package message

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

func parseSection(s string) (Section, error) {
	var sec Section
	rest := s
	for rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n == 0 || rest[0] == '0' || n > MaxParts {
			return Section{}, fmt.Errorf("section %q: bad part number %q", s, rest[:i])
		}
		sec.Path = append(sec.Path, n)
		rest = rest[i:]
		if rest == "" {
			return sec, nil
		}
		if rest[0] != '.' || len(rest) == 1 {
			return Section{}, fmt.Errorf("section %q: expected \".\" after part number", s)
		}
		rest = rest[1:]
	}
	if rest == "" {
		return sec, nil
	}
	word, args, _ := strings.Cut(rest, " ")
	word = strings.ToUpper(word)
	switch word {
	case "HEADER", "TEXT":
	case "MIME":
		if len(sec.Path) == 0 {
			return Section{}, fmt.Errorf("section %q: MIME needs a part number", s)
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		fields, err := parseFieldList(args)
		if err != nil {
			return Section{}, fmt.Errorf("section %q: %w", s, err)
		}
		sec.Specifier, sec.Fields = word, fields
		return sec, nil
	default:
		return Section{}, fmt.Errorf("section %q: unknown section text %q", s, word)
	}
	if strings.Contains(rest, " ") {
		return Section{}, fmt.Errorf("section %q: unexpected %q", s, args)
	}
	sec.Specifier = word
	return sec, nil
}

// parseFieldList reads "(name name ...)": header field names as atoms or
// quoted strings (RFC 9051 header-list).
func parseFieldList(s string) ([]string, error) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return nil, errors.New("header list must be in parentheses")
	}
	t := tokenizer{s: s[1 : len(s)-1]}
	var fields []string
	for {
		for t.i < len(t.s) && t.s[t.i] == ' ' {
			t.i++
		}
		if t.i >= len(t.s) {
			break
		}
		var name string
		if t.s[t.i] == '"' {
			j := t.i
			name = t.quoted()
			if t.s[t.i-1] != '"' || t.i-1 == j {
				return nil, errors.New("bad quoted header field name")
			}
		} else {
			j := t.i
			for j < len(t.s) && t.s[j] != ' ' {
				c := t.s[j]
				if c <= ' ' || c >= 0x7f || c == ':' || strings.IndexByte("(){%*\"\\]", c) >= 0 {
					return nil, fmt.Errorf("bad character %q in header field name", c)
				}
				j++
			}
			name, t.i = t.s[t.i:j], j
		}
		if name == "" {
			return nil, errors.New("empty header field name")
		}
		fields = append(fields, name)
	}
	if len(fields) == 0 {
		return nil, errors.New("empty header list")
	}
	return fields, nil
}

// resolve finds the part a section path names (RFC 9051 §6.4.5): numbers
// walk into multiparts and through enclosed messages; part 1 of a
// non-multipart is the part itself, except that the top level is not
// its own part 1.1 (as Dovecot answers). nil when it does not exist.
func (p *Part) resolve(path []int) *Part {
	cur := p
	for i, n := range path {
		if i > 0 && cur.Message != nil {
			cur = cur.Message
		}
		switch {
		case cur.Type == "multipart" && len(cur.Parts) > 0:
			if n > len(cur.Parts) {
				return nil
			}
			cur = cur.Parts[n-1]
		case cur.Type == "multipart" || n != 1 || (cur == p && i > 0):
			return nil
		}
	}
	return cur
}

func (p *Part) extract(r io.ReaderAt, s Section) ([]byte, error) {
	part := p.resolve(s.Path)
	if part == nil {
		return nil, nil
	}
	msg := part // the message HEADER and TEXT apply to
	if len(s.Path) > 0 {
		msg = part.Message
	}
	switch s.Specifier {
	case "":
		if len(s.Path) == 0 {
			return read(r, p.HeaderStart, p.End)
		}
		return read(r, part.BodyStart, part.End)
	case "MIME":
		return read(r, part.HeaderStart, part.BodyStart)
	case "HEADER":
		if msg == nil {
			return nil, nil
		}
		return read(r, msg.HeaderStart, msg.BodyStart)
	case "TEXT":
		if msg == nil {
			return nil, nil
		}
		return read(r, msg.BodyStart, msg.End)
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if msg == nil {
			return nil, nil
		}
		hdr, err := read(r, msg.HeaderStart, msg.BodyStart)
		if err != nil {
			return nil, err
		}
		return filterHeader(hdr, s.Fields, s.Specifier == "HEADER.FIELDS.NOT"), nil
	}
	return nil, fmt.Errorf("extracting section: unknown specifier %q", s.Specifier)
}

// read reads the bytes [from, to) of the content.
func read(r io.ReaderAt, from, to int64) ([]byte, error) {
	if to <= from {
		return []byte{}, nil
	}
	b := make([]byte, to-from)
	n, err := r.ReadAt(b, from)
	if n == len(b) {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("reading message bytes %d-%d: %w", from, to, err)
}

// filterHeader keeps (or, with not, drops) the fields named in names,
// whole with their folded lines, and ends the result with the blank line
// (RFC 9051 §6.4.5); HEADER.FIELDS.NOT of a header that had none gets
// none (Dovecot's answers, both).
func filterHeader(hdr []byte, names []string, not bool) []byte {
	out := []byte{}
	keep, blank := false, false
	s := string(hdr)
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i+1], s[i+1:]
		} else {
			s = ""
		}
		if line == "\r\n" || line == "\n" {
			blank = true
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, ok := strings.Cut(line, ":")
			name = strings.TrimRight(name, " \t")
			keep = false
			if ok {
				listed := false
				for _, n := range names {
					if strings.EqualFold(n, name) {
						listed = true
						break
					}
				}
				keep = listed != not
			}
		}
		if keep {
			out = append(out, line...)
			if !strings.HasSuffix(line, "\n") {
				out = append(out, "\r\n"...)
			}
		}
	}
	if blank || !not {
		out = append(out, "\r\n"...)
	}
	return out
}
