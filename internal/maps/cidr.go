package maps

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// cidrRule is one rule of a cidr: table.
type cidrRule struct {
	op     int
	lineno int
	prefix netip.Prefix
	v6     bool // address family, decided as Postfix does: by a ':'
	match  bool // false for a !negated pattern
	value  string
	endif  int
}

type cidrTable struct {
	rules []cidrRule
}

func openCIDR(name string, o Options) (Table, error) {
	return newFileTable(name, true, func(path string) (matcher, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return parseCIDRSource(f, path, o.warn)
	})
}

// parseCIDRSource reads cidr_table(5) rules: "pattern result",
// "if pattern", "endif". Bad rules are skipped with a warning, as Postfix
// does.
func parseCIDRSource(r io.Reader, path string, warn func(string)) (*cidrTable, error) {
	t := &cidrTable{}
	var stack []int
	lr := NewLineReader(r, path, warn)
	for {
		l, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		skip := func(why string) {
			warn(fmt.Sprintf("cidr map %s, line %d: %s: skipping this rule", path, l.Lineno, why))
		}
		var key, value string
		if i := strings.IndexAny(l.Text, spaceChars); i >= 0 {
			key, value = l.Text[:i], strings.Trim(l.Text[i:], spaceChars)
		} else {
			key, value = strings.Trim(l.Text, spaceChars), ""
		}
		rule := cidrRule{lineno: l.Lineno, endif: -1}
		switch {
		case strings.EqualFold(key, "if"):
			if value == "" {
				skip("no address pattern")
				continue
			}
			if why := parseCIDRPattern(value, &rule); why != "" {
				skip(why)
				continue
			}
			rule.op = opIf
			stack = append(stack, len(t.rules))
		case strings.EqualFold(key, "endif"):
			if value != "" {
				skip("garbage after ENDIF")
				continue
			}
			if len(stack) == 0 {
				skip("ENDIF without IF")
				continue
			}
			rule.op = opEndif
			t.rules[stack[len(stack)-1]].endif = len(t.rules)
			stack = stack[:len(stack)-1]
		default:
			if value == "" {
				skip("no lookup result")
				continue
			}
			if why := parseCIDRPattern(key, &rule); why != "" {
				skip(why)
				continue
			}
			rule.op, rule.value = opMatch, value
		}
		t.rules = append(t.rules, rule)
	}
	for i := len(stack) - 1; i >= 0; i-- {
		warn(fmt.Sprintf("cidr map %s, line %d: IF has no matching ENDIF", path, t.rules[stack[i]].lineno))
	}
	return t, nil
}

// parseCIDRAddr parses an address the way inet_pton(3) does for the family
// that a ':' implies; ok=false for anything else (zones, leading zeros).
func parseCIDRAddr(s string) (netip.Addr, bool, bool) {
	v6 := strings.Contains(s, ":")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is6() != v6 {
		return netip.Addr{}, v6, false
	}
	return a, v6, true
}

// parseCIDRPattern fills in rule from [!]addr[/len] or [!][addr][/len];
// it returns why the pattern is bad, or "".
func parseCIDRPattern(p string, rule *cidrRule) string {
	rule.match = true
	for strings.HasPrefix(p, "!") {
		rule.match = !rule.match
		p = p[1:]
	}
	if p == "" {
		return "no pattern"
	}
	addr, mask, hasMask := p, "", false
	if strings.HasPrefix(p, "[") {
		inner, after, ok := strings.Cut(p[1:], "]")
		if !ok {
			return fmt.Sprintf("missing ']' character after \"%s\"", p)
		}
		if after != "" && after[0] != '/' {
			return fmt.Sprintf("garbage after \"%s]\"", p[:len(inner)+1])
		}
		addr = inner
		if after != "" {
			mask, hasMask = after[1:], true
		}
	} else if i := strings.IndexByte(p, '/'); i >= 0 {
		addr, mask, hasMask = p[:i], p[i+1:], true
	}
	a, v6, ok := parseCIDRAddr(addr)
	bits := 32
	if v6 {
		bits = 128
	}
	if !hasMask {
		if !ok {
			return fmt.Sprintf("bad address pattern: \"%s\"", addr)
		}
		rule.prefix, rule.v6 = netip.PrefixFrom(a, bits), v6
		return ""
	}
	n := 0
	for _, c := range []byte(mask) {
		if c < '0' || c > '9' {
			n = -1
			break
		}
	}
	if n == 0 && mask != "" {
		var err error
		if n, err = strconv.Atoi(mask); err != nil {
			n = -1
		}
	}
	if ok && (n < 0 || n > bits) {
		return fmt.Sprintf("bad mask length in \"%s/%s\"", addr, mask)
	}
	if !ok {
		return fmt.Sprintf("bad net/mask pattern: \"%s/%s\"", addr, mask)
	}
	pfx := netip.PrefixFrom(a, n)
	if m := pfx.Masked(); m.Addr() != a {
		return fmt.Sprintf("non-null host address bits in \"%s/%s\", perhaps you should use \"%s/%d\" instead", addr, mask, m.Addr(), n)
	}
	rule.prefix, rule.v6 = pfx, v6
	return ""
}

// hit tells whether the rule's pattern applies to a; an address of the
// other family matches neither a pattern nor its negation.
func (r *cidrRule) hit(a netip.Addr, v6 bool) bool {
	return r.v6 == v6 && r.prefix.Contains(a) == r.match
}

func (t *cidrTable) match(key string) (string, bool) {
	a, v6, ok := parseCIDRAddr(key)
	if !ok {
		return "", false
	}
	for i := 0; i < len(t.rules); i++ {
		r := &t.rules[i]
		switch r.op {
		case opMatch:
			if r.hit(a, v6) {
				return r.value, true
			}
		case opIf:
			if r.hit(a, v6) {
				continue
			}
			if r.endif < 0 {
				return "", false
			}
			i = r.endif
		}
	}
	return "", false
}
