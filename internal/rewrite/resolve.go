package rewrite

import (
	"context"
	"fmt"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/maps"
)

// Class is the address class of a resolved recipient (ADDRESS_CLASS_README).
type Class int

const (
	ClassDefault Class = iota // any other destination: default_transport
	ClassLocal                // $mydestination, interface literals: local_transport
	ClassAlias                // $virtual_alias_domains: must be aliased, else unknown
	ClassVirtual              // $virtual_mailbox_domains: virtual_transport
	ClassRelay                // $relay_domains: relay_transport
)

func (c Class) String() string {
	switch c {
	case ClassLocal:
		return "local"
	case ClassAlias:
		return "virtual alias"
	case ClassVirtual:
		return "virtual mailbox"
	case ClassRelay:
		return "relay"
	}
	return "default"
}

// Flags qualify a Result.
type Flags int

const (
	// FlagRouted: the local part still holds a routing operator (@ ! %)
	// after resolution, e.g. user%other@relay.example. smtpd refuses to
	// relay such addresses (Postfix RESOLVE_FLAG_ROUTED).
	FlagRouted Flags = 1 << iota
	// FlagError: the address cannot be delivered as written (bad domain
	// syntax, numeric domain, recipient starting with '-'): bounce it
	// (Postfix RESOLVE_FLAG_ERROR). Transport is "error".
	FlagError
	// FlagRelayhost: the next hop is $relayhost or a sender-dependent
	// relayhost rather than the recipient domain.
	FlagRelayhost
	// FlagTransportMap: transport_maps changed the transport or next hop.
	FlagTransportMap
	// FlagRelocated: relocated_maps says the user has moved.
	FlagRelocated
)

func (f Flags) String() string {
	var s []string
	for _, n := range []struct {
		f    Flags
		name string
	}{{FlagRouted, "routed"}, {FlagError, "error"}, {FlagRelayhost, "relayhost"}, {FlagTransportMap, "transport_maps"}, {FlagRelocated, "relocated"}} {
		if f&n.f != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Result is where a recipient goes: what the queue manager needs to pick a
// delivery agent and group recipients by destination.
type Result struct {
	Class     Class
	Transport string // master.cf service name: local, virtual, relay, smtp, error, discard, ...
	Nexthop   string // destination for that transport; the reason text for error
	Recipient string // final recipient, internal form, always user@domain
	Flags     Flags
}

// Resolve finds where mail for rcpt (internal form, already canonical)
// goes, as trivial-rewrite's resolve_addr does. sender (internal form, ""
// for the null sender) matters only to sender_dependent_relayhost_maps and
// sender_dependent_default_transport_maps. An error means a table failed:
// try again later.
func (r *Rewriter) Resolve(ctx context.Context, sender, rcpt string) (Result, error) {
	var res Result
	addr := rcpt
	savedDomain, haveSaved := "", false
	remote := false

	// Strip local domains, then routing operators, until the address is
	// local-part only (local) or has a remote domain. Each round removes at
	// least one character or operator, so the bound is never reached by
	// well-formed input; it guards against a mistake here.
	for round := 0; round <= len(rcpt)+100; round++ {
		local, domain, hasAt := address.SplitInternal(addr)
		if hasAt && len(domain) > 1 && strings.HasSuffix(domain, ".") && domain[len(domain)-2] != '.' {
			domain = domain[:len(domain)-1]
			addr = local + "@" + domain
		}
		if hasAt && domain == "" && r.nullDomain {
			hasAt, addr = false, local
		}
		if hasAt {
			if domain != "" {
				isLocal, err := r.IsLocal(ctx, domain)
				if err != nil {
					return res, fmt.Errorf("resolve %s: %w", rcpt, err)
				}
				if !isLocal {
					remote = true
					break
				}
			}
			addr, savedDomain, haveSaved = local, domain, true
		}
		// addr is now a bare local part.
		if address.IsDotString(addr) {
			if (r.swapBangpath && strings.Contains(addr, "!")) || (r.percentHack && strings.Contains(addr, "%")) {
				addr = r.canon(addr, r.myorigin, r.mydomain, false)
				continue
			}
		} else if r.resolveDequoted {
			// Look inside a quoted local part for routing operators: not
			// RFC-correct, but it stops "user@remote"@relay relay attacks
			// through Sendmail next hops.
			op := strings.LastIndexByte(addr, '@')
			if op < 0 && r.percentHack {
				op = strings.LastIndexByte(addr, '%')
			}
			if op < 0 && r.swapBangpath {
				op = strings.LastIndexByte(addr, '!')
			}
			if op >= 0 {
				if addr[op] == '%' {
					addr = addr[:op] + "@" + addr[op+1:]
				}
				addr = r.canon(addr, r.myorigin, r.mydomain, true)
				continue
			}
		}
		if addr == "" {
			addr = r.emptyRecipient
		}
		break
	}

	switch {
	case remote:
		res.Recipient = addr
	case haveSaved:
		res.Recipient = addr + "@" + savedDomain
	default:
		res.Recipient = addr + "@" + r.myhostname
	}
	_, rcptDomain, _ := address.SplitInternal(res.Recipient)

	// Bad domain syntax and bare IP addresses are errors (RFC 5321 wants
	// [1.2.3.4]), unless resolve_numeric_domain turns the latter into literals.
	if strings.HasPrefix(rcptDomain, "[") {
		if _, ok := address.LiteralAddr(rcptDomain); !ok {
			return errorResult(res, "5.1.2 bad address literal"), nil
		}
	} else if address.CheckDomain(rcptDomain, true) != nil || numeric(rcptDomain) {
		if !r.numericDomain || !numeric(rcptDomain) {
			return errorResult(res, "5.1.2 bad destination domain syntax"), nil
		}
		rcptDomain = "[" + rcptDomain + "]"
		res.Recipient = strings.TrimSuffix(res.Recipient, rcptDomain[1:len(rcptDomain)-1]) + rcptDomain
		isLocal, err := r.IsLocal(ctx, rcptDomain)
		if err != nil {
			return res, fmt.Errorf("resolve %s: %w", rcpt, err)
		}
		remote = !isLocal
	}

	// A routing operator left of the last @ means the next hop would have
	// to route again.
	if i := strings.IndexAny(res.Recipient, "@!%"); i != strings.LastIndexByte(res.Recipient, '@') {
		res.Flags |= FlagRouted
	}

	var channel, blame string
	if remote {
		var err error
		if res.Class, channel, blame, err = r.remoteClass(ctx, rcptDomain); err != nil {
			return res, fmt.Errorf("resolve %s: %w", rcpt, err)
		}
		res.Nexthop = rcptDomain
		switch res.Class {
		case ClassAlias:
			res.Nexthop = "User unknown"
			if r.showTableName {
				res.Nexthop += " in virtual alias table"
			}
		case ClassRelay, ClassDefault:
			if res.Class == ClassDefault && r.sndDefTransport != nil {
				v, ok, err := r.senderLookup(ctx, r.sndDefTransport, sender, r.nullDefXportKey)
				if err != nil {
					return res, fmt.Errorf("resolve %s: sender_dependent_default_transport_maps: %w", rcpt, err)
				}
				if ok {
					channel, blame = v, "sender_dependent_default_transport_maps"
				}
			}
			relay, ok := "", false
			if r.sndRelayhost != nil {
				var err error
				if relay, ok, err = r.senderLookup(ctx, r.sndRelayhost, sender, r.nullRelayKey); err != nil {
					return res, fmt.Errorf("resolve %s: sender_dependent_relayhost_maps: %w", rcpt, err)
				}
			}
			if !ok && r.relayhost != "" {
				relay, ok = r.relayhost, true
			}
			if ok {
				res.Nexthop = relay
				res.Flags |= FlagRelayhost
			}
		}
	} else {
		res.Class, channel, blame = ClassLocal, r.localTransport, "local_transport"
		res.Nexthop = rcptDomain
	}

	// transport:nexthop in main.cf overrides the next hop, relayhost too.
	if t, hop, ok := strings.Cut(channel, ":"); ok {
		channel = t
		if hop != "" {
			res.Nexthop = hop
			res.Flags &^= FlagRelayhost
		}
	}
	if channel == "" {
		return res, fmt.Errorf("resolve %s: parameter %s: null transport is not allowed", rcpt, blame)
	}
	res.Transport = channel

	if r.transport != nil && res.Class != ClassAlias {
		if err := r.transportLookup(ctx, &res, rcptDomain); err != nil {
			return res, fmt.Errorf("resolve %s: transport_maps: %w", rcpt, err)
		}
	}
	if r.relocated != nil {
		fr, ok, err := maps.FindAddress(ctx, r.relocated, res.Recipient, r.FindOptions())
		if err != nil {
			return res, fmt.Errorf("resolve %s: relocated_maps: %w", rcpt, err)
		}
		if ok {
			res.Transport, res.Nexthop = "error", "5.1.6 User has moved to "+fr.Value
			res.Flags |= FlagRelocated
		}
	}
	if !r.allowMinUser && strings.HasPrefix(res.Recipient, "-") {
		return errorResult(res, "5.1.3 recipient address starts with '-'"), nil
	}
	return res, nil
}

// errorResult marks an address that cannot be delivered. Postfix leaves
// transport and next hop unset there; we name the error transport and a
// reason so that the result is usable as is.
func errorResult(res Result, why string) Result {
	res.Class = ClassDefault
	res.Flags |= FlagError
	res.Transport, res.Nexthop = "error", why
	return res
}

// numeric tells whether a domain is an IP address written without
// brackets: Postfix's valid_hostname refuses an all-numeric last label.
func numeric(d string) bool {
	last := d[strings.LastIndexByte(d, '.')+1:]
	if strings.Contains(d, ":") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return last != ""
}

// remoteClass classifies a non-local domain. Postfix's order: virtual
// alias, virtual mailbox, relay, default.
func (r *Rewriter) remoteClass(ctx context.Context, domain string) (Class, string, string, error) {
	if ok, err := r.virtAlias.match(ctx, domain); err != nil || ok {
		return ClassAlias, "error", "virtual_alias_domains", err
	}
	if ok, err := r.virtMailbox.match(ctx, domain); err != nil || ok {
		return ClassVirtual, r.virtTransport, "virtual_transport", err
	}
	if ok, err := r.relayDomains.match(ctx, domain); err != nil || ok {
		return ClassRelay, r.relayTransport, "relay_transport", err
	}
	return ClassDefault, r.defTransport, "default_transport", nil
}

// senderLookup searches a sender-dependent table with the sender address
// (mail_addr_find order), the null sender as nullKey.
func (r *Rewriter) senderLookup(ctx context.Context, t *maps.List, sender, nullKey string) (string, bool, error) {
	if sender == "" {
		return t.Lookup(ctx, nullKey)
	}
	fr, ok, err := maps.FindAddress(ctx, t, sender, r.FindOptions())
	return fr.Value, ok, err
}

// FindOptions are the address-lookup settings (recipient_delimiter,
// $myorigin, local domains) for maps.FindAddress on this configuration.
func (r *Rewriter) FindOptions() maps.FindOptions {
	return maps.FindOptions{
		Delimiters:   r.delims,
		Origin:       r.myorigin,
		IsLocal:      r.IsLocal,
		DoubleBounce: r.doubleBounce,
	}
}
