package local

import (
	"fmt"
	"strings"
)

// attrs are the delivery attributes local(8) offers to forward_path and
// luser_relay: user, home, shell, domain, local, mailbox, recipient,
// extension, recipient_delimiter. A missing key is undefined, which is not
// the same as empty: "$home/.forward${recipient_delimiter}${extension}" is
// skipped when the recipient has no extension.
type attrs map[string]string

// expansion is the result of expanding a pattern.
type expansion struct {
	text          string
	undefined     bool // a plain $name referred to an undefined attribute
	usedExtension bool // $extension was substituted (LOCAL_EXP_EXTENSION_MATCHED)
}

// maxExpandDepth bounds ${name?{...}} nesting in a pattern from main.cf.
const maxExpandDepth = 20

// expand performs Postfix's $name expansion (mac_expand(3)) over the
// delivery attributes: $name, ${name}, $(name), ${name?text},
// ${name:text}, ${name?{t1}:{t2}} and $$. Characters of substituted values
// that are not in filter (when filter is not empty) become underscores, as
// forward_expansion_filter asks.
//
// The configuration package has the same syntax over main.cf parameters but
// does not export an expander over arbitrary attributes; see docs/local.md.
func (a attrs) expand(pattern, filter string) (expansion, error) {
	var e expansion
	var b strings.Builder
	if err := a.expandInto(&b, &e, pattern, filter, 0); err != nil {
		return expansion{}, err
	}
	e.text = b.String()
	return e, nil
}

func (a attrs) expandInto(b *strings.Builder, e *expansion, s, filter string, depth int) error {
	if depth > maxExpandDepth {
		return fmt.Errorf("%q: too deeply nested", s)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			return fmt.Errorf("%q: $ at end of text", s)
		}
		switch s[i] {
		case '$':
			b.WriteByte('$')
			i++
		case '{', '(':
			closeCh := byte('}')
			if s[i] == '(' {
				closeCh = ')'
			}
			end := matching(s, i, closeCh)
			if end < 0 {
				return fmt.Errorf("%q: missing '%c'", s, closeCh)
			}
			if err := a.braced(b, e, s[i+1:end], filter, depth); err != nil {
				return err
			}
			i = end + 1
		default:
			j := i
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			if j == i {
				return fmt.Errorf("%q: bad $ syntax at offset %d", s, i-1)
			}
			a.use(b, e, s[i:j], filter)
			i = j
		}
	}
	return nil
}

// braced handles the inside of ${...}.
func (a attrs) braced(b *strings.Builder, e *expansion, inner, filter string, depth int) error {
	j := 0
	for j < len(inner) && isNameChar(inner[j]) {
		j++
	}
	name, rest := inner[:j], inner[j:]
	if name == "" {
		return fmt.Errorf("${%s}: missing attribute name", inner)
	}
	if rest == "" {
		a.use(b, e, name, filter)
		return nil
	}
	v, ok := a[name]
	set := ok && v != ""
	op, text := rest[0], rest[1:]
	if op != '?' && op != ':' {
		return fmt.Errorf("${%s}: unexpected %q after attribute name", inner, op)
	}
	// ${name?{t1}:{t2}}
	if op == '?' && strings.HasPrefix(text, "{") {
		if end := matching(text, 0, '}'); end >= 0 && strings.HasPrefix(text[end+1:], ":{") && strings.HasSuffix(text, "}") {
			t1, t2 := text[1:end], text[end+3:len(text)-1]
			if set {
				return a.expandInto(b, e, t1, filter, depth+1)
			}
			return a.expandInto(b, e, t2, filter, depth+1)
		}
	}
	if strings.HasPrefix(text, "{") && strings.HasSuffix(text, "}") {
		text = text[1 : len(text)-1]
	}
	if (op == '?') == set {
		return a.expandInto(b, e, text, filter, depth+1)
	}
	return nil
}

// use substitutes an attribute's value.
func (a attrs) use(b *strings.Builder, e *expansion, name, filter string) {
	v, ok := a[name]
	if !ok {
		e.undefined = true
		return
	}
	if name == "extension" {
		e.usedExtension = true
	}
	for i := 0; i < len(v); i++ {
		if filter != "" && strings.IndexByte(filter, v[i]) < 0 {
			b.WriteByte('_')
		} else {
			b.WriteByte(v[i])
		}
	}
}

// matching returns the index of the bracket closing the one at s[open],
// counting nested brackets of the same kind, or -1.
func matching(s string, open int, closeCh byte) int {
	openCh := s[open]
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case openCh:
			depth++
		case closeCh:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
