package rewrite

import (
	"strings"

	"mailhorn/internal/address"
)

// Context is a rewriting context (trivial-rewrite(8), "rewrite" request).
type Context int

const (
	// Local completes incomplete addresses with $myorigin and $mydomain:
	// envelopes, and headers of mail from local clients.
	Local Context = iota
	// Remote completes them with $remote_header_rewrite_domain, or leaves
	// them alone when that is empty: headers of mail from remote clients.
	Remote
)

func (c Context) String() string {
	if c == Remote {
		return "remote"
	}
	return "local"
}

// Canonicalize puts an address (internal form) in canonical form, as
// trivial-rewrite's rewrite_tree does (ADDRESS_REWRITING_README "Rewrite
// addresses to standard form"):
//
//   - the null address and a lone "@" give the null address;
//   - a source route @a,@b:user@domain loses the route;
//   - without @: site!user becomes user@site (swap_bangpath), else
//     user%domain becomes user@domain at the rightmost % (allow_percent_hack),
//     else @$myorigin is appended (append_at_myorigin; Remote context:
//     @$remote_header_rewrite_domain if set);
//   - a domain without a dot gets .$mydomain (append_dot_mydomain; Remote:
//     .$remote_header_rewrite_domain);
//   - one trailing dot is removed from the domain.
//
// Routing operators count only in a local part that needs no quotes, as in
// Postfix where a quoted local part is a single token.
func (r *Rewriter) Canonicalize(c Context, addr string) string {
	origin, domain := r.myorigin, r.mydomain
	if c == Remote {
		origin, domain = r.remoteDomain, r.remoteDomain
	}
	return r.canon(addr, origin, domain, false)
}

// canon does Canonicalize; opsInQuoted makes routing operators count even
// in a local part that needs quotes (the resolver's dequoting step).
func (r *Rewriter) canon(addr, origin, mydomain string, opsInQuoted bool) string {
	if addr == "" || addr == "@" {
		return ""
	}
	if strings.HasPrefix(addr, "@") {
		if i := strings.IndexByte(addr, ':'); i >= 0 && i < len(addr)-1 {
			addr = addr[i+1:]
		}
	}
	local, domain, hasAt := address.SplitInternal(addr)
	ops := opsInQuoted || address.IsDotString(local)
	if !hasAt {
		switch {
		case r.swapBangpath && ops && strings.Contains(local, "!"):
			site, user, _ := strings.Cut(local, "!")
			local, domain, hasAt = user, site, true
		case r.percentHack && ops && strings.Contains(local, "%"):
			i := strings.LastIndexByte(local, '%')
			local, domain, hasAt = local[:i], local[i+1:], true
		case r.appendAtMyorigin && origin != "":
			domain, hasAt = origin, true
		}
	}
	if r.appendDotMy && mydomain != "" && hasAt && domain != "" &&
		!strings.HasPrefix(domain, "[") && !strings.Contains(domain, ".") {
		domain += "." + mydomain
	}
	if len(domain) > 1 && strings.HasSuffix(domain, ".") && domain[len(domain)-2] != '.' {
		domain = domain[:len(domain)-1]
	}
	if !hasAt {
		return local
	}
	return local + "@" + domain
}
