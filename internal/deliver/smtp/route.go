package smtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Resolver is what the client asks of DNS; *net.Resolver is one.
// LookupMX must return the records sorted by preference, equal
// preferences in random order (as net.Resolver does, RFC 5321 §5.1).
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewResolver returns the system resolver when server is empty, or a
// resolver that sends every query to server ("host:port",
// mailhorn_dns_resolver).
func NewResolver(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
}

// destination is a parsed next hop.
type destination struct {
	unix   string // LMTP over a UNIX-domain socket: its path
	host   string // host or domain name, or address literal
	port   string
	lookMX bool   // look up MX records for host
	domain string // for TLS "secure" matching and SASL lookups
}

// parseNexthop reads Postfix's next-hop forms: "domain", "host:port",
// "[host]", "[host]:port", and for LMTP also "unix:/path",
// "inet:host:port". LMTP never looks up MX records (lmtp(8)).
func parseNexthop(nexthop, defPort string, lmtp bool) (destination, error) {
	s := nexthop
	if lmtp {
		switch {
		case strings.HasPrefix(s, "unix:"):
			p := strings.TrimPrefix(s, "unix:")
			if p == "" {
				return destination{}, fmt.Errorf("bad next hop %q: empty socket path", nexthop)
			}
			return destination{unix: p, domain: p}, nil
		case strings.HasPrefix(s, "inet:"):
			s = strings.TrimPrefix(s, "inet:")
		}
	}
	d := destination{port: defPort, lookMX: !lmtp}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return destination{}, fmt.Errorf("bad next hop %q: missing ]", nexthop)
		}
		d.host, s = s[1:end], s[end+1:]
		d.lookMX = false
		if s != "" {
			if s[0] != ':' {
				return destination{}, fmt.Errorf("bad next hop %q", nexthop)
			}
			d.port = s[1:]
		}
	} else if h, p, ok := strings.Cut(s, ":"); ok {
		d.host, d.port = h, p
	} else {
		d.host = s
	}
	d.host = strings.TrimSuffix(d.host, ".")
	if d.host == "" || d.port == "" || strings.ContainsAny(d.host, " /\\@") {
		return destination{}, fmt.Errorf("bad next hop %q", nexthop)
	}
	if _, err := net.LookupPort("tcp", d.port); err != nil {
		return destination{}, fmt.Errorf("bad next hop %q: unknown port %q", nexthop, d.port)
	}
	d.domain = strings.ToLower(d.host)
	return d, nil
}

// target is one address to connect to.
type target struct {
	name string     // host name as looked up ("mx1.example"), or the literal
	addr netip.Addr // invalid for a UNIX socket
	port string
	unix string
}

// label is "name[addr]:port" for logs and Result.Relay.
func (t target) label() string {
	if t.unix != "" {
		return t.name + "[" + t.unix + "]"
	}
	return t.name + "[" + t.addr.String() + "]:" + t.port
}

// hostLabel is "name[addr]" as in "host name[addr] said:".
func (t target) hostLabel() string {
	if t.unix != "" {
		return t.name + "[" + t.unix + "]"
	}
	return t.name + "[" + t.addr.String() + "]"
}

// routeError is a failure to find any address: Status and DSN say what
// to answer.
type routeError struct {
	dsn  string
	text string
}

func (e *routeError) Error() string { return e.text }

// route finds the addresses to try for d, in order, at most limit (0: no
// limit). network is "ip", "ip4" or "ip6" (inet_protocols).
func route(ctx context.Context, r Resolver, d destination, network string, limit int) ([]target, error) {
	if d.unix != "" {
		return []target{{name: "localhost", unix: d.unix}}, nil
	}
	if a, err := netip.ParseAddr(strings.TrimPrefix(d.host, "ipv6:")); err == nil {
		if !family(network, a) {
			return nil, &routeError{"4.4.4", fmt.Sprintf("address %s is not of the enabled inet_protocols", a)}
		}
		return []target{{name: a.String(), addr: a, port: d.port}}, nil
	}
	hosts := []string{d.host}
	if d.lookMX {
		mx, err := r.LookupMX(ctx, d.host+".")
		switch {
		case err == nil && len(mx) == 1 && mx[0].Pref == 0 && (mx[0].Host == "." || mx[0].Host == ""):
			// RFC 7505 §3: a null MX says the domain accepts no mail.
			return nil, &routeError{"5.1.10", fmt.Sprintf("Domain %s does not accept mail (nullMX)", d.host)}
		case err == nil && len(mx) > 0:
			hosts = hosts[:0]
			for _, m := range mx {
				if h := strings.TrimSuffix(m.Host, "."); h != "" {
					hosts = append(hosts, h)
				}
			}
		case err == nil || isNotFound(err):
			// No MX: the domain itself is the implicit MX (RFC 5321 §5.1).
		default:
			return nil, dnsFailure(d.host, "MX", err)
		}
	}
	var out []target
	var last error
	for _, h := range hosts {
		addrs, err := r.LookupNetIP(ctx, network, h+".")
		if err != nil {
			last = err
			continue
		}
		for _, a := range addrs {
			a = a.Unmap()
			if !family(network, a) {
				continue
			}
			out = append(out, target{name: h, addr: a, port: d.port})
			if limit > 0 && len(out) >= limit {
				return out, nil
			}
		}
	}
	if len(out) == 0 {
		if last == nil || isNotFound(last) {
			if len(hosts) == 1 && hosts[0] == d.host {
				return nil, &routeError{"5.1.2", fmt.Sprintf("Host or domain name not found. Name service error for name=%s type=A: Host not found", d.host)}
			}
			return nil, &routeError{"5.4.4", fmt.Sprintf("Host or domain name not found: no MX host of %s has an address", d.host)}
		}
		return nil, dnsFailure(hosts[len(hosts)-1], "A", last)
	}
	return out, nil
}

func family(network string, a netip.Addr) bool {
	switch network {
	case "ip4":
		return a.Is4()
	case "ip6":
		return a.Is6()
	}
	return true
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// dnsFailure is a temporary name service failure: defer, never bounce.
func dnsFailure(name, typ string, err error) error {
	return &routeError{"4.4.3", fmt.Sprintf("Host or domain name not found. Name service error for name=%s type=%s: Host not found, try again (%v)", name, typ, err)}
}

// networkFor maps inet_protocols to a net network name.
func networkFor(protocols []string) string {
	v4, v6 := false, false
	for _, p := range protocols {
		switch strings.ToLower(p) {
		case "all":
			v4, v6 = true, true
		case "ipv4":
			v4 = true
		case "ipv6":
			v6 = true
		}
	}
	switch {
	case v4 && !v6:
		return "ip4"
	case v6 && !v4:
		return "ip6"
	}
	return "ip"
}

// dialer connects to a target with the connect timeout and source
// address.
func dial(ctx context.Context, t target, timeout time.Duration, bind4, bind6 string) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if t.unix != "" {
		return d.DialContext(ctx, "unix", t.unix)
	}
	bind := bind4
	if t.addr.Is6() {
		bind = bind6
	}
	if bind != "" {
		a, err := netip.ParseAddr(bind)
		if err != nil {
			return nil, fmt.Errorf("bad bind address %q: %w", bind, err)
		}
		d.LocalAddr = &net.TCPAddr{IP: a.AsSlice()}
	}
	return d.DialContext(ctx, "tcp", net.JoinHostPort(t.addr.String(), t.port))
}
