package message

import (
	"strings"
)

// envelope builds ENVELOPE (RFC 9051 §7.5.2) from a message's header
// fields. Strings are sent as they are in the header (RFC 2047 encoded
// words are not decoded; folding line breaks are removed).
func envelope(fs []field) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '(')
	text := func(name string) {
		v, ok := first(fs, name)
		b = appendNString(b, noLF(v), ok)
	}
	list := func(name string) []addr {
		v, ok := first(fs, name)
		if !ok {
			return nil
		}
		return parseAddressList(noLF(v))
	}
	text("Date")
	b = append(b, ' ')
	text("Subject")
	from := list("From")
	sender, replyTo := list("Sender"), list("Reply-To")
	if len(sender) == 0 {
		sender = from
	}
	if len(replyTo) == 0 {
		replyTo = from
	}
	for _, l := range [][]addr{from, sender, replyTo, list("To"), list("Cc"), list("Bcc")} {
		b = append(b, ' ')
		b = appendAddrs(b, l)
	}
	b = append(b, ' ')
	text("In-Reply-To")
	b = append(b, ' ')
	text("Message-ID")
	return append(b, ')')
}

// addr is one ENVELOPE address; a group start has only mailbox (the group
// name), a group end nothing.
type addr struct {
	name, adl, mailbox, host nstr
}

// Placeholders Dovecot writes for the parts of an address that are missing.
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
	syntaxError    = "SYNTAX_ERROR"
)

func appendAddrs(b []byte, l []addr) []byte {
	if len(l) == 0 {
		return append(b, "NIL"...)
	}
	b = append(b, '(')
	for _, a := range l {
		b = append(b, '(')
		b = appendNString(b, a.name.s, a.name.ok)
		b = append(b, ' ')
		b = appendNString(b, a.adl.s, a.adl.ok)
		b = append(b, ' ')
		b = appendNString(b, a.mailbox.s, a.mailbox.ok)
		b = append(b, ' ')
		b = appendNString(b, a.host.s, a.host.ok)
		b = append(b, ')')
	}
	return append(b, ')')
}

// Address tokens.
const (
	tAtom    = iota // atom or dot-atom
	tQuoted         // quoted string (unescaped)
	tLiteral        // domain literal [..]
	tComment        // comment text
	tSpecial        // one of < > @ , : ;
)

type tok struct {
	kind int
	s    string
}

// lexAddresses splits an address header into tokens; it never fails.
func lexAddresses(s string) []tok {
	var toks []tok
	t := tokenizer{s: s}
	for t.i < len(s) {
		c := s[t.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			t.i++
		case c == '(':
			toks = append(toks, tok{tComment, strings.TrimSpace(t.comment())})
		case c == '"':
			toks = append(toks, tok{tQuoted, t.quoted()})
		case c == '[':
			j := strings.IndexByte(s[t.i:], ']')
			if j < 0 {
				j = len(s) - t.i - 1
			}
			toks = append(toks, tok{tLiteral, s[t.i : t.i+j+1]})
			t.i += j + 1
		case strings.IndexByte("<>@,:;", c) >= 0:
			toks = append(toks, tok{tSpecial, s[t.i : t.i+1]})
			t.i++
		case c == ')' || c == ']' || c == '\\':
			t.i++ // stray: ignored
		default:
			j := t.i
			for j < len(s) && strings.IndexByte("()<>@,:;\"[]\\ \t\r\n", s[j]) < 0 {
				j++
			}
			toks = append(toks, tok{tAtom, s[t.i:j]})
			t.i = j
		}
	}
	return toks
}

func isSpecial(t tok, c string) bool { return t.kind == tSpecial && t.s == c }

// parseAddressList reads an address list tolerantly, the way Dovecot's
// message-address parser reports it: groups as a start entry (NIL NIL
// name NIL) and an end entry (NIL NIL NIL NIL), missing parts as
// MISSING_MAILBOX / MISSING_DOMAIN, an unclosed "<" as host SYNTAX_ERROR.
// Unlike Dovecot, a bad address does not end the list: the next ones are
// still read.
func parseAddressList(s string) []addr {
	toks := lexAddresses(s)
	var out []addr
	i := 0
	for i < len(toks) {
		// One element: up to a ',' outside <>, or a group's ':'.
		j, angle := i, false
		for ; j < len(toks); j++ {
			t := toks[j]
			if isSpecial(t, "<") {
				angle = true
			} else if isSpecial(t, ">") {
				angle = false
			} else if !angle && (isSpecial(t, ",") || isSpecial(t, ":")) {
				break
			}
		}
		if j < len(toks) && isSpecial(toks[j], ":") {
			name := phrase(toks[i:j])
			out = append(out, addr{mailbox: nstr{name, true}})
			i = j + 1
			for i < len(toks) && !isSpecial(toks[i], ";") {
				k, angle := i, false
				for ; k < len(toks); k++ {
					t := toks[k]
					if isSpecial(t, "<") {
						angle = true
					} else if isSpecial(t, ">") {
						angle = false
					} else if !angle && (isSpecial(t, ",") || isSpecial(t, ";")) {
						break
					}
				}
				if k > i {
					out = append(out, mailbox(toks[i:k]))
				}
				i = k
				if i < len(toks) && isSpecial(toks[i], ",") {
					i++
				}
			}
			out = append(out, addr{})
			for i < len(toks) && !isSpecial(toks[i], ",") {
				i++ // ';' and anything after it up to the next ','
			}
			i++
			continue
		}
		if j > i {
			out = append(out, mailbox(toks[i:j]))
		} else if j < len(toks) && len(out) > 0 {
			// An empty element between two commas.
			out = append(out, addr{mailbox: nstr{missingMailbox, true}, host: nstr{missingDomain, true}})
		}
		i = j + 1
	}
	return out
}

// phrase joins the words of a display name with single spaces.
func phrase(toks []tok) string {
	var words []string
	for _, t := range toks {
		if t.kind == tAtom || t.kind == tQuoted {
			words = append(words, t.s)
		}
	}
	return strings.Join(words, " ")
}

// mailbox reads one mailbox: [phrase] <[route:]addr-spec> or addr-spec.
func mailbox(toks []tok) addr {
	var a addr
	comment := ""
	for _, t := range toks {
		if t.kind == tComment && comment == "" {
			comment = t.s
		}
	}
	lt := -1
	for k, t := range toks {
		if isSpecial(t, "<") {
			lt = k
			break
		}
	}
	var spec []tok
	closed := true
	if lt >= 0 {
		if name := phrase(toks[:lt]); name != "" {
			a.name = nstr{name, true}
		}
		rest := toks[lt+1:]
		closed = false
		for k, t := range rest {
			if isSpecial(t, ">") {
				rest, closed = rest[:k], true
				break
			}
		}
		// An obsolete route: @a,@b:
		if len(rest) > 0 && isSpecial(rest[0], "@") {
			for k, t := range rest {
				if isSpecial(t, ":") {
					var adl strings.Builder
					for _, r := range rest[:k] {
						if r.kind != tComment {
							adl.WriteString(r.s)
						}
					}
					a.adl = nstr{adl.String(), true}
					rest = rest[k+1:]
					break
				}
			}
		}
		spec = rest
	} else {
		spec = toks
	}
	// addr-spec: local-part "@" domain.
	at := -1
	for k, t := range spec {
		if isSpecial(t, "@") {
			at = k
			break
		}
	}
	words := 0
	for _, t := range spec {
		if t.kind == tAtom || t.kind == tQuoted {
			words++
		}
	}
	local, domain := "", ""
	switch {
	case at >= 0:
		local = joinTokens(spec[:at])
		domain = joinTokens(spec[at+1:])
	case lt < 0 && words > 1:
		// Only a phrase: Dovecot takes it as a display name.
		a.name = nstr{phrase(spec), true}
	default:
		local = joinTokens(spec)
	}
	if !a.name.ok && comment != "" {
		a.name = nstr{comment, true}
	}
	if local == "" {
		a.mailbox = nstr{missingMailbox, true}
	} else {
		a.mailbox = nstr{local, true}
	}
	switch {
	case !closed:
		a.host = nstr{syntaxError, true}
	case domain == "":
		a.host = nstr{missingDomain, true}
	default:
		a.host = nstr{domain, true}
	}
	return a
}

// joinTokens concatenates the words of a local part or domain.
func joinTokens(toks []tok) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tAtom || t.kind == tQuoted || t.kind == tLiteral {
			b.WriteString(t.s)
		}
	}
	return b.String()
}
