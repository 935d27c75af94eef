package maps

import (
	"context"
	"strings"

	"mailhorn/internal/address"
)

// FindOptions say how FindAddress derives partial keys from an address.
type FindOptions struct {
	// Delimiters is recipient_delimiter: any of these characters starts an
	// address extension (user+ext). Empty: no extensions.
	Delimiters string
	// Origin is $myorigin: the bare local part is looked up for addresses
	// in this domain.
	Origin string
	// IsLocal tells whether a domain is one of $mydestination or an
	// [address] of $inet_interfaces/$proxy_interfaces; the bare local part
	// is looked up for those too. Nil means none is.
	IsLocal func(ctx context.Context, domain string) (bool, error)
	// DoubleBounce is $double_bounce_sender, never split at a delimiter
	// (default "double-bounce").
	DoubleBounce string
}

// FindResult is a FindAddress answer.
type FindResult struct {
	Value string
	// Key is the lookup key that matched.
	Key string
	// Extension is the address extension, delimiter included ("+foo"),
	// when the match needed it stripped; "" otherwise. Callers propagate
	// it into the result (propagate_unmatched_extensions).
	Extension string
}

// FindAddress looks an address (internal form: local part unquoted) up in t
// the way Postfix's mail_addr_find does, stopping at the first match:
//
//	user+ext@domain, user@domain,
//	user+ext, user        (only when domain is Origin or IsLocal),
//	@domain
//
// Keys are in external form (local part quoted where RFC 5321 needs it).
// Pattern tables (regexp, pcre, cidr) see only the first, full key: partial
// keys are never matched against patterns. When t is a *List, this holds
// per table. An error from a table ends the search: it is a temporary
// failure, never "not found".
func FindAddress(ctx context.Context, t Table, addr string, opt FindOptions) (FindResult, bool, error) {
	tables := flatten(t)
	local, domain, hasAt := address.SplitInternal(addr)
	base, ext := SplitExtension(local, opt.Delimiters, opt.DoubleBounce)

	try := func(key string, partial bool) (FindResult, bool, error) {
		v, ok, err := lookupKey(ctx, tables, key, partial)
		return FindResult{Value: v, Key: key}, ok, err
	}
	withDomain := func(l string) string {
		if !hasAt {
			return address.QuoteLocal(l)
		}
		return address.QuoteLocal(l) + "@" + domain
	}

	if r, ok, err := try(withDomain(local), false); err != nil || ok {
		return r, ok, err
	}
	if ext != "" {
		if r, ok, err := try(withDomain(base), true); err != nil || ok {
			r.Extension = ext
			return r, ok, err
		}
	}
	if !hasAt {
		return FindResult{}, false, nil
	}
	isLocal := opt.Origin != "" && strings.EqualFold(domain, opt.Origin)
	if !isLocal && opt.IsLocal != nil {
		var err error
		if isLocal, err = opt.IsLocal(ctx, domain); err != nil {
			return FindResult{}, false, err
		}
	}
	if isLocal {
		if r, ok, err := try(address.QuoteLocal(local), true); err != nil || ok {
			return r, ok, err
		}
		if ext != "" {
			if r, ok, err := try(address.QuoteLocal(base), true); err != nil || ok {
				r.Extension = ext
				return r, ok, err
			}
		}
	}
	return try("@"+domain, true)
}

// SplitExtension splits a local part at the first recipient delimiter:
// "user+foo" gives "user", "+foo". Like Postfix's split_addr it leaves
// alone postmaster, MAILER-DAEMON, the double-bounce name, a local part
// starting with a delimiter, and, when '-' is a delimiter, owner-xxx and
// xxx-request (mailing-list conventions).
func SplitExtension(local, delims, doubleBounce string) (base, ext string) {
	if delims == "" {
		return local, ""
	}
	if doubleBounce == "" {
		doubleBounce = "double-bounce"
	}
	if strings.EqualFold(local, "postmaster") || strings.EqualFold(local, "MAILER-DAEMON") || strings.EqualFold(local, doubleBounce) {
		return local, ""
	}
	if strings.Contains(delims, "-") {
		lower := strings.ToLower(local)
		if strings.HasPrefix(lower, "owner-") || len(lower) > 8 && strings.HasSuffix(lower, "-request") {
			return local, ""
		}
	}
	i := strings.IndexAny(local, delims)
	if i <= 0 {
		return local, ""
	}
	return local[:i], local[i:]
}

// LookupPartial looks up a key derived from the address being resolved (a
// domain, a stripped address): pattern tables are skipped, since Postfix
// matches patterns against the full input only. In a *List this holds per
// table.
func LookupPartial(ctx context.Context, t Table, key string) (string, bool, error) {
	return lookupKey(ctx, flatten(t), key, true)
}

func flatten(t Table) []Table {
	if l, ok := t.(*List); ok {
		return l.Tables
	}
	return []Table{t}
}

func lookupKey(ctx context.Context, tables []Table, key string, partial bool) (string, bool, error) {
	for _, tb := range tables {
		if partial && IsPattern(tb) {
			continue
		}
		v, ok, err := tb.Lookup(ctx, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}
