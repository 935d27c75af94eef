package restrict

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ipFilter is a DNS list result filter: "127.0.0.2" or with octet sets,
// "127.0.0.[2;4..6]" (Postfix's ip_match).
type ipFilter struct {
	octets [4][]octetRange
}

type octetRange struct{ lo, hi int }

func parseIPFilter(s string) (*ipFilter, error) {
	f := &ipFilter{}
	parts := splitOctets(s)
	if len(parts) != 4 {
		return nil, fmt.Errorf("bad result filter %q: need four octets", s)
	}
	for i, p := range parts {
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
			for _, item := range strings.Split(p[1:len(p)-1], ";") {
				lo, hi, isRange := strings.Cut(item, "..")
				a, err := octet(lo)
				if err != nil {
					return nil, fmt.Errorf("bad result filter %q: %w", s, err)
				}
				b := a
				if isRange {
					if b, err = octet(hi); err != nil || b < a {
						return nil, fmt.Errorf("bad result filter %q: bad range %q", s, item)
					}
				}
				f.octets[i] = append(f.octets[i], octetRange{a, b})
			}
			continue
		}
		a, err := octet(p)
		if err != nil {
			return nil, fmt.Errorf("bad result filter %q: %w", s, err)
		}
		f.octets[i] = []octetRange{{a, a}}
	}
	return f, nil
}

// splitOctets splits at dots outside brackets.
func splitOctets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func octet(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 || s == "" || (len(s) > 1 && s[0] == '+') {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	return n, nil
}

func (f *ipFilter) match(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, rs := range f.octets {
		ok := false
		for _, r := range rs {
			if int(b[i]) >= r.lo && int(b[i]) <= r.hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// dnsxlResult is a DNS list answer.
type dnsxlResult struct {
	listed bool
	soft   bool   // the lookup failed temporarily
	txt    string // TXT records joined with " / "
}

// dnsxlQuery asks a DNS list about name (a reversed address or a domain)
// under s.arg, with its result filter.
func (e *eval) dnsxlQuery(s step, name string) dnsxlResult {
	domain, _, _ := strings.Cut(s.arg, "=")
	query := name + "." + domain
	r := e.p.d.Resolver
	addrs, err := r.LookupHost(e.ctx, query)
	if err != nil {
		if notFound(err) {
			return dnsxlResult{}
		}
		e.p.warnf("%s: RBL lookup error: %v", query, err)
		return dnsxlResult{soft: true}
	}
	listed := false
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Unmap().Is4() {
			continue
		}
		if s.filt == nil || s.filt.match(ip.Unmap()) {
			listed = true
			break
		}
	}
	if !listed {
		return dnsxlResult{}
	}
	res := dnsxlResult{listed: true}
	if txts, err := r.LookupTXT(e.ctx, query); err == nil {
		const limit = 500
		var b strings.Builder
		for i, t := range txts {
			if i > 0 && limit-b.Len() > 3 {
				b.WriteString(" / ")
			}
			if room := limit - b.Len(); len(t) > room {
				t = t[:max(room, 0)]
			}
			b.WriteString(t)
			if b.Len() >= limit {
				break
			}
		}
		res.txt = b.String()
	}
	return res
}

// reversedAddr is the DNS list query name of an address: reversed octets
// for IPv4, reversed nibbles for IPv6 (RFC 5782 §2.1, §2.4).
func reversedAddr(a netip.Addr) string {
	a = a.Unmap()
	var parts []string
	if a.Is4() {
		b := a.As4()
		for i := 3; i >= 0; i-- {
			parts = append(parts, strconv.Itoa(int(b[i])))
		}
	} else {
		b := a.As16()
		for i := 15; i >= 0; i-- {
			parts = append(parts, strconv.FormatInt(int64(b[i]&0xf), 16), strconv.FormatInt(int64(b[i]>>4), 16))
		}
	}
	return strings.Join(parts, ".")
}

// rblDomainName extracts what an RHS list is asked about, or "" to skip.
func rblDomainName(what string) string {
	domain := what
	if i := strings.LastIndexByte(what, '@'); i >= 0 {
		domain = what[i+1:]
		if strings.HasPrefix(domain, "[") {
			return ""
		}
	}
	if domain == "" {
		return ""
	}
	last := domain
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		last = domain[i+1:]
	}
	if allDigits(last) || !validHostname(domain) {
		return ""
	}
	return domain
}

func (e *eval) rblAddr(s step, class string) status {
	addr := e.c.Addr.Unmap().String()
	res := e.dnsxlQuery(s, reversedAddr(e.c.Addr))
	if !res.listed {
		return dunno
	}
	return e.rblReply(s, res, addr, class)
}

func (e *eval) rblDomain(s step, what, class string) status {
	domain := rblDomainName(what)
	if domain == "" {
		return dunno
	}
	res := e.dnsxlQuery(s, domain)
	if !res.listed {
		return dunno
	}
	return e.rblReply(s, res, what, class)
}

// dnswlAddr is permit_dnswl_client. As in Postfix it never permits an
// unauthorized recipient.
func (e *eval) dnswlAddr(s step) status {
	return e.dnswl(s, reversedAddr(e.c.Addr), e.c.Addr.Unmap().String())
}

func (e *eval) dnswlDomain(s step, name string) status {
	domain := rblDomainName(name)
	if domain == "" {
		return dunno
	}
	return e.dnswl(s, domain, name)
}

func (e *eval) dnswl(s step, query, what string) status {
	if e.stage == "RCPT" && e.recipient != "" {
		ok, done := e.authDestination(e.recipient)
		if !done {
			return rejected
		}
		if !ok {
			return dunno
		}
	}
	res := e.dnsxlQuery(s, query)
	switch {
	case res.soft:
		deferIf(&e.deferIfReject, 450, "4.7.1", fmt.Sprintf("<%s>: Client host rejected: Service unavailable", what))
	case res.listed:
		return permitted
	}
	return dunno
}

// rblReply formats the rejection from rbl_reply_maps or default_rbl_reply.
func (e *eval) rblReply(s step, res dnsxlResult, what, class string) status {
	p := e.p
	domain, _, _ := strings.Cut(s.arg, "=")
	vars := map[string]string{
		"rbl_code": strconv.Itoa(p.codes.rbl), "rbl_domain": domain,
		"rbl_reason": res.txt, "rbl_txt": res.txt, "rbl_what": what, "rbl_class": class,
		"client": clientName(e.c), "client_address": e.c.Addr.Unmap().String(),
		"client_name": e.c.Name, "reverse_client_name": e.c.Name, "helo_name": e.helo,
	}
	for _, a := range []struct{ name, v string }{{"sender", e.sender}, {"recipient", e.recipient}} {
		v := a.v
		local, dom, _ := strings.Cut(v, "@")
		if v == "" {
			v, local = "<>", "<>"
		}
		vars[a.name], vars[a.name+"_name"], vars[a.name+"_domain"] = v, local, dom
	}
	var template string
	if p.rblReplyMaps != nil {
		v, ok, err := p.rblReplyMaps.Lookup(e.ctx, s.arg)
		if err != nil {
			return e.lookupFailed(s.arg, err)
		}
		if ok {
			template = v
		}
	}
	var why string
	for {
		if template == "" {
			template = p.defaultRBLReply
		}
		var err error
		why, err = expandTemplate(template, vars)
		if err == nil {
			break
		}
		if template == p.defaultRBLReply {
			p.warnf("bad default rbl reply template: %s", template)
			why = ""
			break
		}
		p.warnf("bad rbl reply template for domain %s: %s", s.arg, template)
		template = ""
	}
	why = printable(why)
	if len(why) < 4 || (why[0] != '4' && why[0] != '5') || !allDigits(why[1:3]) || why[3] != ' ' {
		p.warnf("rbl response code configuration error: %s", why)
		return e.reject(450, "4.7.1", "Service unavailable")
	}
	code, _ := strconv.Atoi(why[:3])
	dsn, text := dsnSplit("4.7.1", why[4:])
	if text == "" {
		text = "Service unavailable"
	}
	return e.reject(code, dsnFix(dsn, class), text)
}

// expandTemplate expands $name, ${name}, ${name?text} (text when name is
// not empty) and ${name:text} (text when it is) as Postfix's mac_expand
// does for reply templates. An unknown name is an error.
func expandTemplate(t string, vars map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(t) {
			return "", fmt.Errorf("trailing $")
		}
		switch t[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{', '(':
			open, closer := t[i+1], byte('}')
			if open == '(' {
				closer = ')'
			}
			depth, j := 0, i+1
			for ; j < len(t); j++ {
				if t[j] == open {
					depth++
				} else if t[j] == closer {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(t) {
				return "", fmt.Errorf("unbalanced %c", open)
			}
			body := t[i+2 : j]
			name, rest := body, ""
			op := byte(0)
			if k := strings.IndexAny(body, "?:"); k >= 0 {
				name, op, rest = body[:k], body[k], body[k+1:]
			}
			v, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("unknown name %q", name)
			}
			switch op {
			case 0:
				b.WriteString(v)
			case '?', ':':
				if (op == '?') == (v != "") {
					x, err := expandTemplate(rest, vars)
					if err != nil {
						return "", err
					}
					b.WriteString(x)
				}
			}
			i = j
		default:
			j := i + 1
			for j < len(t) && (t[j] == '_' || t[j] >= 'a' && t[j] <= 'z' || t[j] >= 'A' && t[j] <= 'Z' || t[j] >= '0' && t[j] <= '9') {
				j++
			}
			if j == i+1 {
				return "", fmt.Errorf("bad $ at %d", i)
			}
			v, ok := vars[t[i+1:j]]
			if !ok {
				return "", fmt.Errorf("unknown name %q", t[i+1:j])
			}
			b.WriteString(v)
			i = j - 1
		}
	}
	return b.String(), nil
}
