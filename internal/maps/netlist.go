package maps

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// NetList is a Postfix address match list (mynetworks,
// smtpd_client_event_limit_exceptions, ...): networks "192.0.2.0/24",
// "[2001:db8::]/32", addresses, "/file/name" holding more patterns, and
// "type:table" lookups of the client address; "!" negates a pattern. The
// first pattern that matches decides.
type NetList struct {
	items []netItem
}

type netItem struct {
	neg    bool
	prefix netip.Prefix
	table  Table
	spec   string
}

// ParseNetList builds a NetList from list elements (a Config.List value).
// open opens "type:table" elements; nil means Open.
func ParseNetList(elems []string, open func(string) (Table, error)) (*NetList, error) {
	if open == nil {
		open = Open
	}
	l := &NetList{}
	if err := l.add(elems, open, 0); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *NetList) add(elems []string, open func(string) (Table, error), depth int) error {
	for _, e := range elems {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		switch {
		case e == "":
			continue
		case strings.HasPrefix(e, "/"):
			if depth > 10 {
				return fmt.Errorf("%s: files nested too deep", e)
			}
			if neg {
				return fmt.Errorf("!%s: a file cannot be negated", e)
			}
			more, err := readPatterns(e)
			if err != nil {
				return err
			}
			if err := l.add(more, open, depth+1); err != nil {
				return err
			}
		case !strings.HasPrefix(e, "[") && strings.Contains(e, ":") && !isIPish(e):
			t, err := open(e)
			if err != nil {
				return err
			}
			l.items = append(l.items, netItem{neg: neg, table: t, spec: e})
		default:
			p, err := parseNet(e)
			if err != nil {
				return err
			}
			l.items = append(l.items, netItem{neg: neg, prefix: p})
		}
	}
	return nil
}

// isIPish tells an IPv6 address or network without brackets from a
// type:table spec.
func isIPish(s string) bool {
	host, _, _ := strings.Cut(s, "/")
	_, err := netip.ParseAddr(host)
	return err == nil
}

func parseNet(s string) (netip.Prefix, error) {
	host, bits, hasBits := strings.Cut(s, "/")
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad network or address %q", s)
	}
	a = a.Unmap()
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(a.String() + "/" + bits)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad network %q", s)
	}
	if p.Masked() != p {
		// Postfix refuses a network with host bits set: it is a typo more
		// often than not.
		return netip.Prefix{}, fmt.Errorf("non-null host address bits in %q, perhaps you should use %s instead", s, p.Masked())
	}
	return p, nil
}

// readPatterns reads a pattern file: elements separated by white space or
// commas, "#" comments.
func readPatterns(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		out = append(out, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t'
		})...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Match tells whether addr is in the list. A table that cannot answer is
// an error, never a non-match.
func (l *NetList) Match(ctx context.Context, addr netip.Addr) (bool, error) {
	if l == nil {
		return false, nil
	}
	addr = addr.Unmap()
	for _, it := range l.items {
		var hit bool
		if it.table != nil {
			_, ok, err := it.table.Lookup(ctx, addr.String())
			if err != nil {
				return false, fmt.Errorf("%s: %w", it.spec, err)
			}
			hit = ok
		} else {
			hit = it.prefix.Contains(addr)
		}
		if hit {
			return !it.neg, nil
		}
	}
	return false, nil
}

// Close closes the tables the list opened.
func (l *NetList) Close() error {
	if l == nil {
		return nil
	}
	for _, it := range l.items {
		if it.table != nil {
			it.table.Close()
		}
	}
	return nil
}
