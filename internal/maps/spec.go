package maps

import (
	"fmt"
	"strings"

	"golang.org/x/text/cases"
)

// SplitSpec splits "type:name" at the first colon. A "proxy:" prefix is
// dropped: there is no proxymap(8) here, every process opens its tables
// itself.
func SplitSpec(spec string) (typ, name string, err error) {
	for {
		i := strings.IndexByte(spec, ':')
		if i <= 0 {
			return "", "", fmt.Errorf("table %q: need type:name", spec)
		}
		typ, name = spec[:i], spec[i+1:]
		if typ != "proxy" {
			return typ, name, nil
		}
		spec = name
	}
}

// braceBody returns what is inside "{ ... }", trimmed, or ok=false when s
// is not one brace group (unbalanced, or text after the closing brace).
func braceBody(s string) (string, bool) {
	s = strings.Trim(s, spaceChars)
	if len(s) < 2 || s[0] != '{' {
		return "", false
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				if strings.Trim(s[i+1:], spaceChars) != "" {
					return "", false
				}
				return strings.Trim(s[1:i], spaceChars), true
			}
		}
	}
	return "", false
}

// splitList splits s at commas and whitespace that are outside braces, as
// Postfix's mystrtokq does for "{...}" lists. Elements keep their braces.
func splitList(s string) ([]string, error) {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced '}' in %q", s)
			}
		case depth == 0 && (c == ',' || isSpace(c)):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("missing '}' in %q", s)
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out, nil
}

// FoldKey lower-cases a key as Postfix's dict layer does for tables
// opened with DICT_FLAG_FOLD_FIX when smtputf8_enable = yes (its default
// from compatibility_level 1, and mailhorn's): UTF-8 aware. Keys are stored
// folded the same way by mailhorn map and mailhorn alias. Non-ASCII keys
// get Unicode full case folding ("STRASSE" and "straße" both become
// "strasse"), as Postfix's ICU casefold does.
func FoldKey(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			// A Caser keeps state: one per call.
			return cases.Fold().String(s)
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if upper {
		return strings.ToLower(s)
	}
	return s
}

func fold(s string) string { return FoldKey(s) }
