package rewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// AddrClass says which address of a message is being rewritten, for the
// *_classes parameters.
type AddrClass int

const (
	EnvelopeSender AddrClass = iota
	EnvelopeRecipient
	HeaderSender
	HeaderRecipient
)

var addrClassNames = map[string]AddrClass{
	"envelope_sender":    EnvelopeSender,
	"envelope_recipient": EnvelopeRecipient,
	"header_sender":      HeaderSender,
	"header_recipient":   HeaderRecipient,
}

func (c AddrClass) String() string {
	for n, v := range addrClassNames {
		if v == c {
			return n
		}
	}
	return "unknown"
}

func (c AddrClass) sender() bool { return c == EnvelopeSender || c == HeaderSender }

func classSet(cfg *config.Config, param string) (map[AddrClass]bool, error) {
	m := map[AddrClass]bool{}
	for _, n := range cfg.List(param) {
		c, ok := addrClassNames[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("%s: unknown address class %q (expected envelope_sender, envelope_recipient, header_sender or header_recipient)", param, n)
		}
		m[c] = true
	}
	return m, nil
}

// ErrLimit is returned (wrapped) when virtual alias expansion exceeds a
// limit: Postfix defers such mail ("message not accepted, try again later").
var ErrLimit = errors.New("virtual alias expansion limit exceeded")

// maxCanonicalRounds bounds canonical mapping chains, as Postfix's
// cleanup_map11 does.
const maxCanonicalRounds = 10

// MapCanonical applies sender_canonical_maps or recipient_canonical_maps
// (by class), then canonical_maps, each only when the class is in its
// *_classes parameter (ADDRESS_REWRITING_README "Canonical address
// mapping"). addr is internal form and already canonicalized.
func (r *Rewriter) MapCanonical(ctx context.Context, class AddrClass, addr string) (string, error) {
	var err error
	if class.sender() {
		if r.sndCanonical != nil && r.sndClasses[class] {
			if addr, err = r.map11(ctx, r.sndCanonical, "sender_canonical_maps", addr); err != nil {
				return "", err
			}
		}
	} else if r.rcptCanonical != nil && r.rcptClasses[class] {
		if addr, err = r.map11(ctx, r.rcptCanonical, "recipient_canonical_maps", addr); err != nil {
			return "", err
		}
	}
	if r.canonical != nil && r.canonClasses[class] {
		if addr, err = r.map11(ctx, r.canonical, "canonical_maps", addr); err != nil {
			return "", err
		}
	}
	return addr, nil
}

// map11 maps one address to one address, following chains until an
// address maps to itself or is not found.
func (r *Rewriter) map11(ctx context.Context, t *maps.List, param, addr string) (string, error) {
	for range maxCanonicalRounds {
		out, ok, err := r.mapAddr(ctx, t, addr, r.propagate["canonical"])
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", param, addr, err)
		}
		if !ok {
			return addr, nil
		}
		if len(out) > 1 {
			slog.Warn("multi-valued table entry, using the first value", "param", param, "address", addr)
		}
		self := strings.EqualFold(out[0], addr)
		addr = out[0]
		if self {
			return addr, nil
		}
	}
	slog.Warn("unreasonable map nesting", "param", param, "address", addr)
	return addr, nil
}

// mapAddr looks addr up and returns the addresses of the value, each
// canonicalized, as Postfix's mail_addr_map: a value "@domain" keeps the
// original local part, and an extension that had to be stripped to match
// is put back into each result when propagate is set.
func (r *Rewriter) mapAddr(ctx context.Context, t *maps.List, addr string, propagate bool) ([]string, bool, error) {
	fr, ok, err := maps.FindAddress(ctx, t, addr, r.FindOptions())
	if err != nil || !ok {
		return nil, false, err
	}
	value := strings.TrimSpace(fr.Value)
	if strings.HasPrefix(value, "@") {
		local, _, _ := address.SplitInternal(addr)
		value = address.QuoteLocal(strings.TrimSuffix(local, fr.Extension)) + value
	}
	var out []string
	for _, a := range parseValue(value) {
		a = r.Canonicalize(Local, a)
		if propagate && fr.Extension != "" {
			if i := strings.LastIndexByte(a, '@'); i >= 0 {
				a = a[:i] + fr.Extension + a[i:]
			} else {
				a += fr.Extension
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, false, fmt.Errorf("key %s: empty or unparsable value %q", fr.Key, fr.Value)
	}
	return out, true, nil
}

// parseValue splits a table value into addresses (internal form). Values
// are RFC 5322 address lists; what does not parse as one is split at
// commas, as Postfix's tolerant tokenizer would.
func parseValue(v string) []string {
	var out []string
	if l, err := address.ParseList(v); err == nil {
		for _, a := range l.Addrs() {
			out = append(out, a.Internal())
		}
		return out
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Masquerade strips subdomains per masquerade_domains when class is in
// masquerade_classes (ADDRESS_REWRITING_README "Address masquerading"):
// the first entry that equals the domain stops masquerading; the first
// entry the domain is a subdomain of replaces it, unless that entry is a
// !exception. Local parts in masquerade_exceptions are left alone.
func (r *Rewriter) Masquerade(class AddrClass, addr string) string {
	if len(r.masqDomains) == 0 || !r.masqClasses[class] {
		return addr
	}
	local, domain, hasAt := address.SplitInternal(addr)
	if !hasAt || domain == "" {
		return addr
	}
	if r.masqExceptions[strings.ToLower(local)] {
		return addr
	}
	lower := strings.ToLower(domain)
	for _, m := range r.masqDomains {
		excluded := strings.HasPrefix(m, "!")
		m = strings.TrimPrefix(m, "!")
		if m == "" {
			continue
		}
		if lower == m {
			return addr
		}
		if strings.HasSuffix(lower, "."+m) {
			if excluded {
				return addr
			}
			return local + "@" + domain[len(domain)-len(m):]
		}
	}
	return addr
}

// ExpandVirtual expands a recipient through virtual_alias_maps
// recursively (virtual(5)), as Postfix's cleanup does: each result is
// expanded again; an address that maps to itself (among others) stays and
// is not expanded further; a chain deeper than
// virtual_alias_recursion_limit, a result list longer than
// virtual_alias_expansion_limit or an address longer than
// virtual_alias_address_length_limit is an ErrLimit error (defer the mail).
// The result has duplicates (case-insensitive) removed, order kept. An
// address not in the maps comes back alone.
func (r *Rewriter) ExpandVirtual(ctx context.Context, addr string) ([]string, error) {
	if r.virtualAlias == nil {
		return []string{addr}, nil
	}
	list := []string{addr}
	self := map[string]bool{}
	for i := 0; i < len(list); i++ {
		if r.virtExpansionLimit > 0 && len(list) > r.virtExpansionLimit {
			return nil, fmt.Errorf("virtual_alias_maps: unreasonable expansion size for %s: %w", addr, ErrLimit)
		}
		for depth := 0; ; depth++ {
			if self[strings.ToLower(list[i])] {
				break
			}
			if r.virtRecursionLimit > 0 && depth >= r.virtRecursionLimit {
				return nil, fmt.Errorf("virtual_alias_maps: unreasonable nesting for %s: %w", addr, ErrLimit)
			}
			out, ok, err := r.mapAddr(ctx, r.virtualAlias, list[i], r.propagate["virtual"])
			if err != nil {
				return nil, fmt.Errorf("virtual_alias_maps: %s: %w", list[i], err)
			}
			if !ok {
				break
			}
			lhs := list[i]
			for j, a := range out {
				if r.virtAddrLenLimit > 0 && len(a) > r.virtAddrLenLimit {
					return nil, fmt.Errorf("virtual_alias_maps: unreasonable result length for %s: %w", lhs, ErrLimit)
				}
				if j == 0 {
					list[i] = a
				} else {
					list = append(list, a)
				}
				if strings.EqualFold(a, lhs) {
					self[strings.ToLower(lhs)] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	out := list[:0]
	for _, a := range list {
		if k := strings.ToLower(a); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// InVirtualAlias tells whether virtual_alias_maps has an entry for addr
// (internal form), with the lookup order of FindAddress: smtpd accepts
// such a recipient whatever its address class.
func (r *Rewriter) InVirtualAlias(ctx context.Context, addr string) (bool, error) {
	if r.virtualAlias == nil || len(r.virtualAlias.Tables) == 0 {
		return false, nil
	}
	_, ok, err := maps.FindAddress(ctx, r.virtualAlias, addr, r.FindOptions())
	return ok, err
}
