package restrict

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/rewrite"
)

// truncateDot drops one trailing dot, not two (Postfix's dup_if_truncate).
func truncateDot(s string) string {
	if len(s) > 1 && s[len(s)-1] == '.' && s[len(s)-2] != '.' {
		return s[:len(s)-1]
	}
	return s
}

// validHostname is Postfix's valid_hostname: labels of letters, digits,
// '-' and '_', not starting or ending with '-', at most 63 bytes, 255 in
// all, and not all-numeric.
func validHostname(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	numeric := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				numeric = false
			default:
				return false
			}
		}
	}
	return !numeric
}

// validMailhostAddr is valid_mailhost_addr: the inside of an address
// literal, "192.0.2.1" or "IPv6:2001:db8::1".
func validMailhostAddr(s string) bool {
	if len(s) > 5 && strings.EqualFold(s[:5], "IPv6:") {
		return validHostaddr(s[5:]) && strings.Contains(s[5:], ":")
	}
	return validHostaddr(s) && !strings.Contains(s, ":")
}

func (e *eval) invalidHostaddr(name string) status {
	addr := name
	if len(addr) > 2 && addr[0] == '[' && addr[len(addr)-1] == ']' {
		addr = addr[1 : len(addr)-1]
	}
	if validMailhostAddr(addr) {
		return dunno
	}
	return e.reject(e.p.codes.invalidHost, "5.5.2", fmt.Sprintf("<%s>: Helo command rejected: invalid ip address", name))
}

func (e *eval) invalidHostname(name string) status {
	t := truncateDot(name)
	if validHostname(t) || validHostaddr(t) {
		return dunno
	}
	return e.reject(e.p.codes.invalidHost, "5.5.2", fmt.Sprintf("<%s>: Helo command rejected: Invalid name", name))
}

func (e *eval) nonFQDNHostname(name string) status {
	t := truncateDot(name)
	if validHostname(t) && strings.Contains(t, ".") {
		return dunno
	}
	return e.reject(e.p.codes.nonFQDN, "5.5.2", fmt.Sprintf("<%s>: Helo command rejected: need fully-qualified hostname", name))
}

// nonFQDNAddress is reject_non_fqdn_sender / reject_non_fqdn_recipient.
func (e *eval) nonFQDNAddress(addr, class string) status {
	domain := ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		domain = addr[i+1:]
	}
	if len(domain) > 1 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		return dunno
	}
	t := truncateDot(domain)
	if t != "" && validHostname(t) && strings.Contains(t, ".") {
		return dunno
	}
	return e.reject(e.p.codes.nonFQDN, "4.5.2", fmt.Sprintf("<%s>: %s rejected: need fully-qualified address", addr, class))
}

// dnsStatus is the outcome of a host or mail host lookup.
type dnsStatus int

const (
	dnsOK dnsStatus = iota
	dnsNotFound
	dnsNullMX
	dnsRetry
)

func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// lookupHostOrMX asks for MX records first (mailhost) or address records
// first (hostname); either kind existing is enough.
func (e *eval) lookupHostOrMX(name string, mxFirst bool) dnsStatus {
	r := e.p.d.Resolver
	mx := func() dnsStatus {
		mxs, err := r.LookupMX(e.ctx, name)
		switch {
		case err == nil && len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == ""):
			return dnsNullMX
		case err == nil && len(mxs) > 0:
			return dnsOK
		case err == nil || notFound(err):
			return dnsNotFound
		}
		return dnsRetry
	}
	host := func() dnsStatus {
		addrs, err := r.LookupHost(e.ctx, name)
		switch {
		case err == nil && len(addrs) > 0:
			return dnsOK
		case err == nil || notFound(err):
			return dnsNotFound
		}
		return dnsRetry
	}
	first, second := host, mx
	if mxFirst {
		first, second = mx, host
	}
	st := first()
	if st == dnsOK || st == dnsNullMX {
		return st
	}
	st2 := second()
	if st2 == dnsNullMX && !mxFirst {
		st2 = dnsOK // a host name may have a null MX
	}
	if st2 == dnsOK || st2 == dnsNullMX {
		return st2
	}
	if st == dnsRetry || st2 == dnsRetry {
		return dnsRetry
	}
	return dnsNotFound
}

// unknownHostname is reject_unknown_helo_hostname.
func (e *eval) unknownHostname(name string) status {
	switch e.lookupHostOrMX(name, false) {
	case dnsNotFound:
		return e.reject(e.p.codes.unknownHost, "4.7.1", fmt.Sprintf("<%s>: Helo command rejected: Host not found", name))
	case dnsRetry:
		return e.deferIfPermitOr(e.p.codes.heloTempfailDefer, 450, "4.7.1", fmt.Sprintf("<%s>: Helo command rejected: Host not found", name))
	}
	return dunno
}

// unknownAddress is reject_unknown_sender_domain and
// reject_unknown_recipient_domain: the domain of an address that is not
// ours must have MX or address records.
func (e *eval) unknownAddress(addr, class string) status {
	res, ok := e.resolve(addr)
	if !ok {
		return rejected
	}
	_, domain, hasAt := address.SplitInternal(res.Recipient)
	if !hasAt || (res.Class == rewrite.ClassLocal || res.Class == rewrite.ClassAlias || res.Class == rewrite.ClassVirtual) || (strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]")) {
		return dunno
	}
	dsn, nullCode, nullDSN := "4.1.2", 556, "4.1.10"
	if class == "Sender address" {
		dsn, nullCode, nullDSN = "4.1.8", 550, "4.7.27"
	}
	switch e.lookupHostOrMX(domain, true) {
	case dnsNullMX:
		return e.reject(nullCode, nullDSN, fmt.Sprintf("<%s>: %s rejected: Domain %s does not accept mail (nullMX)", addr, class, domain))
	case dnsNotFound:
		return e.reject(e.p.codes.unknownAddr, dsn, fmt.Sprintf("<%s>: %s rejected: Domain not found", addr, class))
	case dnsRetry:
		return e.deferIfPermitOr(e.p.codes.addrTempfailDefer, 450, dsn, fmt.Sprintf("<%s>: %s rejected: Domain not found", addr, class))
	}
	return dunno
}

// unknownReverse is reject_unknown_reverse_client_hostname: the client
// address must have a PTR record (verified or not).
func (e *eval) unknownReverse() status {
	c := e.c
	if !unknownName(c.Name) {
		return dunno
	}
	names, err := e.p.d.Resolver.LookupAddr(e.ctx, c.Addr.Unmap().String())
	if err == nil && len(names) > 0 {
		return dunno
	}
	code := e.p.codes.unknownClient
	if err != nil && !notFound(err) {
		code = 450
	}
	return e.reject(code, "4.7.1", "Client host rejected: cannot find your reverse hostname, ["+c.Addr.String()+"]")
}
