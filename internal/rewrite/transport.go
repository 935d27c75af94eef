package rewrite

import (
	"context"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/maps"
)

// transportLookup applies transport_maps (transport(5)): the full
// address, the address without extension, the domain, its parent domains
// (.parent, or parent with parent_domain_matches_subdomains =
// transport_maps), then "*". Pattern tables see only the full address and
// "*". The first match wins.
func (r *Rewriter) transportLookup(ctx context.Context, res *Result, rcptDomain string) error {
	try := func(key string, partial bool) (bool, error) {
		var v string
		var ok bool
		var err error
		if partial {
			v, ok, err = maps.LookupPartial(ctx, r.transport, key)
		} else {
			v, ok, err = r.transport.Lookup(ctx, key)
		}
		if err != nil || !ok {
			return false, err
		}
		applyTransport(res, v, rcptDomain)
		res.Flags |= FlagTransportMap
		return true, nil
	}

	local, domain, _ := address.SplitInternal(res.Recipient)
	if ok, err := try(address.QuoteLocal(local)+"@"+domain, false); err != nil || ok {
		return err
	}
	if base, ext := maps.SplitExtension(local, r.delims, r.doubleBounce); ext != "" {
		if ok, err := try(address.QuoteLocal(base)+"@"+domain, true); err != nil || ok {
			return err
		}
	}
	name := strings.ToLower(domain)
	for i := -1; ; {
		key := name
		if i >= 0 {
			key = name[i:]
			if r.transportParentStyle {
				key = name[i+1:]
			}
		}
		if ok, err := try(key, true); err != nil || ok {
			return err
		}
		if i = nextDot(name, i); i < 0 {
			break
		}
	}
	_, err := try("*", false)
	return err
}

// applyTransport reads a transport(5) value, "transport:nexthop" with
// either part optional:
//
//	":nexthop"  keep the transport, change the next hop (if given);
//	"transport" change the transport, next hop back to the recipient domain
//	            ("Address is undeliverable" for error);
//	"transport:nexthop" change both.
//
// A next hop given in main.cf or by relayhost is reset too, so that a
// table entry can undo it.
func applyTransport(res *Result, value, rcptDomain string) {
	channel, hop, _ := strings.Cut(value, ":")
	if channel == "" {
		if hop != "" {
			res.Nexthop = hop
			res.Flags &^= FlagRelayhost
		}
		return
	}
	res.Transport = channel
	res.Flags &^= FlagRelayhost
	switch {
	case hop != "":
		res.Nexthop = hop
	case channel != "error":
		res.Nexthop = rcptDomain
	default:
		res.Nexthop = "Address is undeliverable"
	}
}
