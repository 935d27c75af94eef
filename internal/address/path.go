package address

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Options say what a session allows.
type Options struct {
	// SMTPUTF8 allows UTF-8 local parts and U-labels (RFC 6531): only when
	// the client asked for SMTPUTF8 on MAIL FROM.
	SMTPUTF8 bool
	// NoLimits accepts local parts, domains and mailboxes longer than the
	// RFC 5321 §4.5.3.1 limits, as Postfix does (it has no such limits).
	NoLimits bool
}

// Param is one ESMTP parameter after a path (RFC 5321 §4.1.2
// esmtp-param). Key is upper-cased; Value is "" when there was no "=".
type Param struct {
	Key   string
	Value string
}

// ParseReversePath parses a MAIL FROM path: "<>" or "<mailbox>", with an
// optional source route that is dropped.
func ParseReversePath(s string, opt Options) (Addr, error) {
	p := &parser{in: s, opt: opt}
	a, err := p.path(true)
	if err == nil && p.pos != len(s) {
		err = p.fail("unexpected text after path")
	}
	return a, err
}

// ParseForwardPath parses a RCPT TO path: "<mailbox>" or the special
// "<Postmaster>" without a domain (RFC 5321 §4.1.1.3).
func ParseForwardPath(s string, opt Options) (Addr, error) {
	p := &parser{in: s, opt: opt}
	a, err := p.path(false)
	if err == nil && p.pos != len(s) {
		err = p.fail("unexpected text after path")
	}
	return a, err
}

// ParseMailbox parses a bare RFC 5321 Mailbox, local-part@domain, without
// angle brackets.
func ParseMailbox(s string, opt Options) (Addr, error) {
	p := &parser{in: s, opt: opt}
	a, err := p.mailbox()
	if err == nil && p.pos != len(s) {
		err = p.fail("unexpected text after address")
	}
	return a, err
}

// ParseMailArg parses what follows "MAIL FROM:": a Reverse-path and the
// ESMTP parameters, e.g. "<a@b.example> SIZE=10 BODY=8BITMIME".
func ParseMailArg(s string, opt Options) (Addr, []Param, error) {
	return parseArg(s, opt, true)
}

// ParseRcptArg parses what follows "RCPT TO:": a Forward-path and the ESMTP
// parameters, e.g. "<a@b.example> NOTIFY=NEVER ORCPT=rfc822;a@b.example".
func ParseRcptArg(s string, opt Options) (Addr, []Param, error) {
	return parseArg(s, opt, false)
}

func parseArg(s string, opt Options, reverse bool) (Addr, []Param, error) {
	p := &parser{in: s, opt: opt}
	a, err := p.path(reverse)
	if err != nil {
		return Addr{}, nil, err
	}
	params, err := p.params()
	if err != nil {
		return Addr{}, nil, err
	}
	return a, params, nil
}

type parser struct {
	in  string
	pos int
	opt Options
}

func (p *parser) fail(format string, args ...any) *SyntaxError {
	return &SyntaxError{Input: p.in, Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) failErr(err error, msg string) *SyntaxError {
	return &SyntaxError{Input: p.in, Pos: p.pos, Msg: msg, Err: err}
}

func (p *parser) peek() byte {
	if p.pos < len(p.in) {
		return p.in[p.pos]
	}
	return 0
}

func (p *parser) path(reverse bool) (Addr, error) {
	if p.peek() != '<' {
		return Addr{}, p.fail("expected '<'")
	}
	p.pos++
	if p.peek() == '>' {
		if !reverse {
			return Addr{}, p.fail("null address not allowed here")
		}
		p.pos++
		return Addr{}, nil
	}
	if p.peek() == '@' {
		if err := p.sourceRoute(); err != nil {
			return Addr{}, err
		}
	}
	if !reverse && len(p.in)-p.pos >= 11 && strings.EqualFold(p.in[p.pos:p.pos+11], "postmaster>") {
		p.pos += 11
		return Addr{Local: p.in[p.pos-11 : p.pos-1]}, nil
	}
	a, err := p.mailbox()
	if err != nil {
		return Addr{}, err
	}
	if p.peek() != '>' {
		return Addr{}, p.fail("expected '>'")
	}
	p.pos++
	return a, nil
}

// sourceRoute skips "@a,@b:" (RFC 5321 A-d-l): routes must be accepted and
// ignored (RFC 5321 §4.1.1.3, Appendix C).
func (p *parser) sourceRoute() error {
	for {
		if p.peek() != '@' {
			return p.fail("expected '@' in source route")
		}
		p.pos++
		if _, err := p.domain(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ':':
			p.pos++
			return nil
		default:
			return p.fail("expected ',' or ':' in source route")
		}
	}
}

func (p *parser) mailbox() (Addr, error) {
	start := p.pos
	var local string
	var err error
	if p.peek() == '"' {
		local, err = p.quoted()
	} else {
		local, err = p.dotString()
	}
	if err != nil {
		return Addr{}, err
	}
	if p.peek() != '@' {
		return Addr{}, p.fail("expected '@' after local part")
	}
	if !p.opt.NoLimits && len(local) > MaxLocal {
		return Addr{}, p.failErr(ErrTooLong, fmt.Sprintf("local part longer than %d octets", MaxLocal))
	}
	p.pos++
	dom, err := p.domain()
	if err != nil {
		return Addr{}, err
	}
	if !p.opt.NoLimits && p.pos-start > MaxMailbox {
		return Addr{}, p.failErr(ErrTooLong, fmt.Sprintf("mailbox longer than %d octets", MaxMailbox))
	}
	return Addr{Local: local, Domain: dom}, nil
}

// utf8Rune consumes one non-ASCII UTF-8 character, if allowed.
func (p *parser) utf8Rune() error {
	if !p.opt.SMTPUTF8 {
		return p.failErr(ErrNeedSMTPUTF8, "non-ASCII character without SMTPUTF8")
	}
	r, n := utf8.DecodeRuneInString(p.in[p.pos:])
	if r == utf8.RuneError {
		return p.fail("invalid UTF-8")
	}
	p.pos += n
	return nil
}

func (p *parser) dotString() (string, error) {
	start := p.pos
	for {
		atom := p.pos
		for p.pos < len(p.in) {
			c := p.in[p.pos]
			if c >= 0x80 {
				if err := p.utf8Rune(); err != nil {
					return "", err
				}
				continue
			}
			if !isAtext(c) {
				break
			}
			p.pos++
		}
		if p.pos == atom {
			if p.pos == start {
				return "", p.fail("expected local part")
			}
			return "", p.fail("empty atom in local part")
		}
		if p.peek() != '.' {
			return p.in[start:p.pos], nil
		}
		p.pos++
	}
}

func (p *parser) quoted() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.in) {
			return "", p.fail("unterminated quoted string")
		}
		c := p.in[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			p.pos++
			if p.pos >= len(p.in) || p.in[p.pos] < 32 || p.in[p.pos] > 126 {
				return "", p.fail("invalid quoted pair")
			}
			b.WriteByte(p.in[p.pos])
			p.pos++
		case c >= 0x80:
			s := p.pos
			if err := p.utf8Rune(); err != nil {
				return "", err
			}
			b.WriteString(p.in[s:p.pos])
		case c >= 32 && c <= 126:
			b.WriteByte(c)
			p.pos++
		default:
			return "", p.fail("control character in quoted string")
		}
	}
}

// domain parses a Domain or an address-literal and validates it.
func (p *parser) domain() (string, error) {
	start := p.pos
	if p.peek() == '[' {
		end := strings.IndexByte(p.in[p.pos:], ']')
		if end < 0 {
			return "", p.fail("unterminated address literal")
		}
		p.pos += end + 1
		lit := p.in[start:p.pos]
		if err := CheckLiteral(lit); err != nil {
			p.pos = start
			return "", p.fail("%v", err)
		}
		return lit, nil
	}
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '.' || c == '-' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	d := p.in[start:p.pos]
	if err := CheckDomain(d, p.opt.SMTPUTF8); err != nil {
		p.pos = start
		switch {
		case errors.Is(err, ErrNeedSMTPUTF8):
			return "", p.failErr(ErrNeedSMTPUTF8, "non-ASCII domain without SMTPUTF8")
		case !errors.Is(err, ErrTooLong):
			return "", p.fail("%v", err)
		case !p.opt.NoLimits:
			return "", p.failErr(ErrTooLong, err.Error())
		}
		p.pos += len(d)
	}
	return d, nil
}

// params parses " KEY[=VALUE]" repeated (RFC 5321 §4.1.2 Mail-parameters,
// values extended to UTF-8 by RFC 6531 §3.3).
func (p *parser) params() ([]Param, error) {
	var out []Param
	for p.pos < len(p.in) {
		if p.peek() != ' ' {
			return nil, p.fail("expected space before parameter")
		}
		for p.peek() == ' ' {
			p.pos++
		}
		if p.pos == len(p.in) {
			break
		}
		ks := p.pos
		for p.pos < len(p.in) {
			c := p.in[p.pos]
			if c == '-' && p.pos > ks || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				p.pos++
				continue
			}
			break
		}
		if p.pos == ks {
			return nil, p.fail("expected parameter keyword")
		}
		prm := Param{Key: strings.ToUpper(p.in[ks:p.pos])}
		if p.peek() == '=' {
			p.pos++
			vs := p.pos
			for p.pos < len(p.in) {
				c := p.in[p.pos]
				if c >= 0x80 {
					if err := p.utf8Rune(); err != nil {
						return nil, err
					}
					continue
				}
				if c < 33 || c > 126 || c == '=' {
					break
				}
				p.pos++
			}
			if p.pos == vs {
				return nil, p.fail("empty value for parameter %s", prm.Key)
			}
			prm.Value = p.in[vs:p.pos]
		}
		out = append(out, prm)
		if p.pos < len(p.in) && p.peek() != ' ' {
			return nil, p.fail("invalid character %q in parameter", p.peek())
		}
	}
	return out, nil
}

// DecodeXtext decodes RFC 3461 §4 xtext ("+" HEXCHAR HEXCHAR for octets
// outside 33..126 and for "+" and "="), as used by ORCPT and ENVID.
func DecodeXtext(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", fmt.Errorf("xtext %q: bad hexchar at offset %d", s, i)
			}
			b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
		case c < 33 || c > 126 || c == '=':
			return "", fmt.Errorf("xtext %q: invalid character %q at offset %d", s, c, i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// EncodeXtext is the inverse of DecodeXtext.
func EncodeXtext(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			b.WriteByte('+')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unhex reads an upper-case hex digit (RFC 3461 hexchar), else -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
