package address

import (
	"fmt"
	"mime"
	"strings"
)

// List is an RFC 5322 §3.4 address-list as found in From:, To:, Cc: and
// friends. It keeps the original text so that String can print it again
// with only the changed addresses replaced: display names, comments, groups
// and spacing stay as they were, which is what header rewriting needs.
//
// The parser is tolerant the way mail software has to be: obsolete forms
// (RFC 5322 §4.4: empty list elements, routes in angle addresses, CFWS
// between the parts of an addr-spec, '.' in phrases), addresses without a
// domain ("user", as Postfix completes them) and UTF-8 (RFC 6532) are
// accepted. Unbalanced quotes, comments, brackets and stray specials are
// errors.
type List struct {
	src     string
	Entries []*Entry
}

// Entry is one mailbox of a List.
type Entry struct {
	// Name is the display name, unquoted and with RFC 2047 encoded words
	// decoded where possible; "" if there is none.
	Name string
	// Group is the display name of the group the mailbox is in, or "".
	Group string
	// Addr is the addr-spec, local part unquoted; Domain is "" when the
	// header gave none. Change it to rewrite the header.
	Addr Addr
	// Angle tells whether the address was written in <angle brackets>.
	Angle bool

	orig       Addr
	start, end int // span of the addr-spec in the source
}

// ParseList parses a header field body holding an address list.
func ParseList(s string) (*List, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	lp := &listParser{src: s, toks: toks}
	if err := lp.list(); err != nil {
		return nil, err
	}
	return &List{src: s, Entries: lp.entries}, nil
}

// String prints the list again. Entries whose Addr did not change are kept
// byte for byte; changed ones are printed in external form (local part
// quoted if needed). A changed address that was not in angle brackets and
// becomes the null address is printed as <>.
func (l *List) String() string {
	var b strings.Builder
	last := 0
	for _, e := range l.Entries {
		if e.Addr == e.orig {
			continue
		}
		b.WriteString(l.src[last:e.start])
		if e.Addr.IsNull() && !e.Angle {
			b.WriteString("<>")
		} else {
			b.WriteString(e.Addr.String())
		}
		last = e.end
	}
	b.WriteString(l.src[last:])
	return b.String()
}

// Addrs returns the addresses in order.
func (l *List) Addrs() []Addr {
	out := make([]Addr, len(l.Entries))
	for i, e := range l.Entries {
		out[i] = e.Addr
	}
	return out
}

type token struct {
	kind       byte // 'a' atom, 'q' quoted string, 'd' domain literal, else the special itself
	val        string
	start, end int
}

const listSpecials = "()<>[]:;@\\,.\""

// tokenize splits a header body into atoms, quoted strings, domain
// literals and specials, dropping white space and comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, &SyntaxError{Input: s, Pos: i, Msg: "unterminated comment"}
			}
			i = j + 1
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				if s[j] == '\r' || s[j] == '\n' {
					continue // folding inside a quoted string
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, &SyntaxError{Input: s, Pos: i, Msg: "unterminated quoted string"}
			}
			toks = append(toks, token{'q', b.String(), i, j + 1})
			i = j + 1
		case c == '[':
			j := i + 1
			for ; j < len(s) && s[j] != ']'; j++ {
				if s[j] == '[' || s[j] == '\\' && j+1 >= len(s) {
					return nil, &SyntaxError{Input: s, Pos: j, Msg: "bad domain literal"}
				}
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, &SyntaxError{Input: s, Pos: i, Msg: "unterminated domain literal"}
			}
			toks = append(toks, token{'d', s[i : j+1], i, j + 1})
			i = j + 1
		case strings.IndexByte(listSpecials, c) >= 0:
			if c == ')' || c == ']' || c == '\\' {
				return nil, &SyntaxError{Input: s, Pos: i, Msg: fmt.Sprintf("unexpected %q", c)}
			}
			toks = append(toks, token{c, s[i : i+1], i, i + 1})
			i++
		case c < 32 || c == 127:
			return nil, &SyntaxError{Input: s, Pos: i, Msg: "control character"}
		default:
			j := i
			for j < len(s) && s[j] >= 32 && s[j] != 127 && s[j] != ' ' && s[j] != '\t' && strings.IndexByte(listSpecials, s[j]) < 0 {
				j++
			}
			toks = append(toks, token{'a', s[i:j], i, j})
			i = j
		}
	}
	return toks, nil
}

type listParser struct {
	src     string
	toks    []token
	pos     int
	entries []*Entry
}

func (p *listParser) peek() byte {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].kind
	}
	return 0
}

func (p *listParser) fail(msg string) error {
	off := len(p.src)
	if p.pos < len(p.toks) {
		off = p.toks[p.pos].start
	}
	return &SyntaxError{Input: p.src, Pos: off, Msg: msg}
}

// list: address *("," address), empty elements tolerated.
func (p *listParser) list() error {
	for p.pos < len(p.toks) {
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if err := p.address(""); err != nil {
			return err
		}
		switch p.peek() {
		case 0, ',':
		default:
			return p.fail("expected ',' between addresses")
		}
	}
	return nil
}

// address parses a mailbox, or a group when group == "" and a ':' follows
// the phrase.
func (p *listParser) address(group string) error {
	phraseStart := p.pos
	for k := p.peek(); k == 'a' || k == 'q' || k == '.'; k = p.peek() {
		p.pos++
	}
	phrase := p.toks[phraseStart:p.pos]
	switch p.peek() {
	case ':':
		if group != "" {
			return p.fail("group inside a group")
		}
		if len(phrase) == 0 {
			return p.fail("group without a name")
		}
		p.pos++
		name := p.phraseText(phrase)
		for {
			switch p.peek() {
			case ';':
				p.pos++
				return nil
			case 0:
				// A missing ';' at the very end is common enough to tolerate.
				return nil
			case ',':
				p.pos++
				continue
			}
			if err := p.address(name); err != nil {
				return err
			}
			if k := p.peek(); k != ',' && k != ';' && k != 0 {
				return p.fail("expected ',' or ';' in group")
			}
		}
	case '<':
		p.pos++
		e := &Entry{Name: p.phraseText(phrase), Group: group, Angle: true}
		if p.peek() == '@' { // obs-route
			for p.pos < len(p.toks) && p.peek() != ':' && p.peek() != '>' {
				p.pos++
			}
			if p.peek() != ':' {
				return p.fail("bad route in angle address")
			}
			p.pos++
		}
		if p.peek() == '>' { // <> in a header: the null address
			t := p.toks[p.pos]
			e.start, e.end = t.start, t.start
			p.pos++
			p.entries = append(p.entries, e)
			return nil
		}
		if err := p.addrSpec(e); err != nil {
			return err
		}
		if p.peek() != '>' {
			return p.fail("expected '>'")
		}
		p.pos++
		p.entries = append(p.entries, e)
		return nil
	default:
		// A bare addr-spec: the "phrase" was its local part.
		p.pos = phraseStart
		e := &Entry{Group: group}
		if err := p.addrSpec(e); err != nil {
			return err
		}
		p.entries = append(p.entries, e)
		return nil
	}
}

// addrSpec parses local-part ["@" domain] from p.pos.
func (p *listParser) addrSpec(e *Entry) error {
	first := p.pos
	var local strings.Builder
	for k := p.peek(); k == 'a' || k == 'q' || k == '.'; k = p.peek() {
		local.WriteString(p.toks[p.pos].val)
		p.pos++
	}
	if p.pos == first {
		return p.fail("expected an address")
	}
	var domain strings.Builder
	if p.peek() == '@' {
		p.pos++
		if p.peek() == 'd' {
			domain.WriteString(p.toks[p.pos].val)
			p.pos++
		} else {
			for k := p.peek(); k == 'a' || k == '.'; k = p.peek() {
				domain.WriteString(p.toks[p.pos].val)
				p.pos++
			}
		}
		if domain.Len() == 0 {
			return p.fail("expected a domain after '@'")
		}
	}
	e.Addr = Addr{Local: local.String(), Domain: domain.String()}
	e.orig = e.Addr
	e.start, e.end = p.toks[first].start, p.toks[p.pos-1].end
	return nil
}

func (p *listParser) phraseText(ts []token) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 && t.start > ts[i-1].end {
			b.WriteByte(' ')
		}
		b.WriteString(t.val)
	}
	s := b.String()
	if d, err := (&mime.WordDecoder{}).DecodeHeader(s); err == nil {
		return d
	}
	return s
}
