package rewrite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/maps"
)

// domainList is a Postfix domain list parameter (mydestination,
// relay_domains, virtual_*_domains): names, .names, !negations,
// /file/names holding more of them, and type:table lookups, matched in
// order with the first match deciding (match_list(3)).
type domainList struct {
	param   string
	entries []domainPattern
	parent  bool // parent_domain_matches_subdomains lists this parameter
	exact   bool // string_list semantics: no subdomain matching at all
	tables  maps.List
}

type domainPattern struct {
	negate  bool
	pattern string     // lower case; "" when table is set
	table   maps.Table // a type:table entry
}

func newDomainList(param string, items []string, parent, exact bool, open OpenFunc) (*domainList, error) {
	d := &domainList{param: param, parent: parent, exact: exact}
	if err := d.add(items, open, 0); err != nil {
		d.tables.Close()
		return nil, err
	}
	return d, nil
}

func (d *domainList) add(items []string, open OpenFunc, depth int) error {
	for _, it := range items {
		neg := false
		for strings.HasPrefix(it, "!") {
			neg = !neg
			it = it[1:]
		}
		switch {
		case it == "":
			return fmt.Errorf("%s: empty pattern after '!'", d.param)
		case strings.HasPrefix(it, "/"):
			if depth > 0 || neg {
				return fmt.Errorf("%s: %s: file patterns cannot be negated or nested", d.param, it)
			}
			words, err := readPatternFile(it)
			if err != nil {
				return fmt.Errorf("%s: %w", d.param, err)
			}
			if err := d.add(words, open, depth+1); err != nil {
				return err
			}
		case strings.Contains(it, ":") && !strings.HasPrefix(it, "["):
			t, err := open(it)
			if err != nil {
				return fmt.Errorf("%s: %w", d.param, err)
			}
			d.tables.Tables = append(d.tables.Tables, t)
			d.entries = append(d.entries, domainPattern{negate: neg, table: t})
		default:
			d.entries = append(d.entries, domainPattern{negate: neg, pattern: strings.ToLower(it)})
		}
	}
	return nil
}

// readPatternFile reads the patterns of a /file/name list entry: words
// separated by white space or commas, # comments.
func readPatternFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		words = append(words, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t'
		})...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return words, nil
}

// empty tells whether the list has no patterns at all.
func (d *domainList) empty() bool { return d == nil || len(d.entries) == 0 }

// match tells whether a domain is in the list. An error is a table that
// could not answer.
func (d *domainList) match(ctx context.Context, name string) (bool, error) {
	if d.empty() {
		return false, nil
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, p := range d.entries {
		ok, err := d.matchOne(ctx, p, name)
		if err != nil {
			return false, fmt.Errorf("%s: %w", d.param, err)
		}
		if ok {
			return !p.negate, nil
		}
	}
	return false, nil
}

func (d *domainList) matchOne(ctx context.Context, p domainPattern, name string) (bool, error) {
	if p.table != nil {
		if _, ok, err := p.table.Lookup(ctx, name); err != nil || ok {
			return ok, err
		}
		if d.exact {
			return false, nil
		}
		// Parent domains: example.com for parent style, else .example.com.
		for i := strings.IndexByte(name, '.'); i >= 0; i = nextDot(name, i) {
			key := name[i:]
			if d.parent {
				key = name[i+1:]
			}
			if _, ok, err := maps.LookupPartial(ctx, p.table, key); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	if address.DomainEqual(name, p.pattern) {
		return true, nil
	}
	if d.exact {
		return false, nil
	}
	if d.parent {
		return strings.HasSuffix(name, "."+p.pattern), nil
	}
	return strings.HasPrefix(p.pattern, ".") && len(name) > len(p.pattern) && strings.HasSuffix(name, p.pattern), nil
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// IsLocal tells whether a domain is delivered here: listed in
// $mydestination, or an [address literal] of $inet_interfaces or
// $proxy_interfaces (Postfix's resolve_local).
func (r *Rewriter) IsLocal(ctx context.Context, domain string) (bool, error) {
	if len(domain) > 1 && strings.HasSuffix(domain, ".") && !strings.HasSuffix(domain, "..") {
		domain = domain[:len(domain)-1]
	}
	if domain == "" {
		return false, nil
	}
	if ok, err := r.mydest.match(ctx, domain); err != nil || ok {
		return ok, err
	}
	if ip, ok := address.LiteralAddr(domain); ok {
		ip = ip.Unmap()
		for _, a := range r.localAddrs {
			if a == ip {
				return true, nil
			}
		}
	}
	return false, nil
}
