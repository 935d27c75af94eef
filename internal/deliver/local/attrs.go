package local

import (
	"strings"

	"mailhorn/internal/config"
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

// expand performs Postfix's $name expansion (mac_expand(3), the syntax of
// main.cf: config.ExpandWith) over the delivery attributes. Characters of
// substituted values that are not in filter (when filter is not empty)
// become underscores, as forward_expansion_filter asks.
func (a attrs) expand(pattern, filter string) (expansion, error) {
	var e expansion
	text, err := config.ExpandWith(pattern, func(name string, use bool) (string, bool) {
		v, ok := a[name]
		if !use {
			return v, ok
		}
		if !ok {
			e.undefined = true
			return "", false
		}
		if name == "extension" {
			e.usedExtension = true
		}
		return filtered(v, filter), true
	})
	if err != nil {
		return expansion{}, err
	}
	e.text = text
	return e, nil
}

// filtered replaces the bytes of v that are not in filter with
// underscores; an empty filter keeps them all.
func filtered(v, filter string) string {
	if filter == "" {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if strings.IndexByte(filter, c) < 0 {
			b[i] = '_'
		}
	}
	return string(b)
}
