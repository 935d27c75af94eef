package aliases

import "strings"

// This file is an RFC 822 tokenizer with Postfix's extensions, written to
// behave like Postfix's tok822 module (scan, parse into addresses,
// internal and external string forms), because postalias stores values in
// the form that module produces and local(8) splits them with it.

type tokKind uint8

const (
	tAtom    tokKind = iota
	tQuoted          // "quoted string", text unquoted
	tComment         // (comment), text kept in external form with parens
	tDomLit          // [domain literal], text without brackets
	tOp              // single-character operator, in op
)

type token struct {
	kind tokKind
	op   byte
	text string
	// escaped records that an atom began with a backslash in the source
	// text, the \user form, which the string forms lose.
	escaped bool
}

// opChars are the single-character operators: RFC 822 specials plus '|',
// '%' and '!' (aliases pipes, percent hack, bang paths).
const opChars = "|%!()<>@,;:\\\".[]"

func isOp(c byte) bool { return strings.IndexByte(opChars, c) >= 0 }

// isSpace is tok822's notion of white space (not isspace(3): \v and \f
// are ordinary characters here).
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isCntrl(c byte) bool { return c < 0x20 || c == 0x7f }

// collect copies s[i:] while cond holds, undoing backslash escapes and
// turning white space into plain spaces. It returns the text and the index
// of the first byte not taken.
func collect(s string, i int, cond func(byte) bool) (string, int) {
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s) {
				break
			}
			c = s[i]
		} else if !cond(c) {
			break
		}
		if isSpace(c) {
			c = ' '
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), i
}

// scan splits s into tokens. Like the C code it works on a C string: a NUL
// byte ends the input.
func scan(s string) []token {
	if n := strings.IndexByte(s, 0); n >= 0 {
		s = s[:n]
	}
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
			continue
		case c == '(':
			var text string
			text, i = scanComment(s, i+1)
			toks = append(toks, token{kind: tComment, text: text})
		case c == '[' || c == '"':
			end := byte(']')
			kind := tDomLit
			if c == '"' {
				end, kind = '"', tQuoted
			}
			var text string
			text, i = collect(s, i+1, func(c byte) bool { return c != end })
			if i < len(s) {
				i++ // the closing bracket or quote
			}
			toks = append(toks, token{kind: kind, text: text})
		case c != '\\' && isOp(c):
			toks = append(toks, token{kind: tOp, op: c})
			i++
		default:
			escaped := c == '\\'
			var text string
			text, i = collect(s, i, func(c byte) bool { return !isSpace(c) && !isOp(c) })
			toks = append(toks, token{kind: atomKind(text), text: text, escaped: escaped})
		}
	}
	return toks
}

// atomKind makes an atom that needs quoting (space, control or operator
// characters, present through backslash escapes) a quoted string. 8-bit
// bytes are left alone, as Postfix does.
func atomKind(text string) tokKind {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c == ' ' || isCntrl(c) || isOp(c) {
			return tQuoted
		}
	}
	return tAtom
}

// scanComment reads a possibly nested comment whose '(' is just before
// s[i]; the text keeps its external form, backslashes included.
func scanComment(s string, i int) (string, int) {
	var b strings.Builder
	b.WriteByte('(')
	level := 1
	for i < len(s) {
		c := s[i]
		b.WriteByte(c)
		i++
		switch c {
		case '(':
			level++
		case ')':
			level--
			if level == 0 {
				return b.String(), i
			}
		case '\\':
			if i >= len(s) {
				return b.String(), i
			}
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), i
}

func nonOperator(t token) bool { return t.kind != tOp }

// needSpace tells whether the string forms put a space between toks[i] and
// toks[i+1] (commas are handled by the caller).
func needSpace(toks []token, i int) bool {
	if i+1 >= len(toks) {
		return false
	}
	next := toks[i+1]
	if next.kind == tOp && next.op == '<' {
		return true
	}
	return nonOperator(toks[i]) && nonOperator(next)
}

func quoteInto(b *strings.Builder, s, special string) {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(special, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
}

// externalize renders tokens in quoted form, as postalias stores values. A
// comma is always followed by a space, even at the end (Postfix 3.7 does
// that too: "a," is stored as "a, ").
func externalize(toks []token) string {
	return render(toks, true)
}

// internalize renders tokens without quoting, as postalias stores names.
func internalize(toks []token) string {
	return render(toks, false)
}

func render(toks []token, external bool) string {
	var b strings.Builder
	for i, t := range toks {
		switch t.kind {
		case tOp:
			b.WriteByte(t.op)
			if t.op == ',' {
				b.WriteByte(' ')
				continue
			}
		case tAtom, tComment:
			b.WriteString(t.text)
		case tQuoted:
			if external {
				b.WriteByte('"')
				quoteInto(&b, t.text, "\"\\\r\n")
				b.WriteByte('"')
			} else {
				b.WriteString(t.text)
			}
		case tDomLit:
			b.WriteByte('[')
			if external {
				quoteInto(&b, t.text, "\\\r\n")
			} else {
				b.WriteString(t.text)
			}
			b.WriteByte(']')
		}
		if needSpace(toks, i) {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// addrString is the internal form of one parsed address: inside an address
// Postfix puts no spaces between tokens.
func addrString(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tOp:
			b.WriteByte(t.op)
		case tDomLit:
			b.WriteByte('[')
			b.WriteString(t.text)
			b.WriteByte(']')
		default:
			b.WriteString(t.text)
		}
	}
	return b.String()
}

// parseAddresses splits a value into addresses the way tok822_parse does
// for local(8): commas separate addresses, a missing comma between two
// words is assumed, comments are dropped, "phrase <addr>" yields addr and
// "group: a, b;" yields a and b. It walks right to left like the original
// so that the odd inputs split the same way.
func parseAddresses(toks []token) [][]token {
	var words []token
	for _, t := range toks {
		if t.kind != tComment {
			words = append(words, t)
		}
	}
	const (
		doWord = 1 << iota
		doGroup
	)
	isOpTok := func(i int, ops string) bool {
		return words[i].kind == tOp && strings.IndexByte(ops, words[i].op) >= 0
	}
	var rev [][]token
	emit := func(from, to int) {
		if from < to {
			rev = append(rev, words[from:to])
		}
	}
	state := doWord
	right := len(words)
	for i := len(words) - 1; i >= 0; {
		switch {
		case isOpTok(i, ";"):
			emit(i+1, right)
			right = i
			state = doGroup | doWord
		case isOpTok(i, ":") && state&doGroup != 0:
			emit(i+1, right)
			j := i
			for j >= 0 && !isOpTok(j, ",") {
				j--
			}
			right = max(j, 0)
			i = j
			continue
		case isOpTok(i, ">"):
			emit(i+1, right)
			j := i
			for j >= 0 && !isOpTok(j, "<") {
				j--
			}
			emit(j+1, i)
			for j >= 0 && (words[j].kind != tOp || !isOpTok(j, ">;,:")) {
				j--
			}
			right = max(j, 0)
			state |= doWord
			i = j
			continue
		case words[i].kind != tOp:
			if state&doWord == 0 {
				emit(i+1, right)
				right = i + 1
			}
			state &^= doWord
		case isOpTok(i, ","):
			emit(i+1, right)
			right = i
			state |= doWord
		default:
			state |= doWord
		}
		i--
	}
	emit(0, right)
	out := make([][]token, len(rev))
	for i, a := range rev {
		out[len(rev)-1-i] = a
	}
	return out
}
