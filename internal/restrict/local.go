package restrict

import (
	"context"
	"fmt"
	"strings"

	"mailhorn/internal/smtpd"
)

// parseLocalRewrite reads local_header_rewrite_clients: permit_mynetworks,
// permit_inet_interfaces, permit_sasl_authenticated,
// permit_tls_clientcerts, permit_tls_all_clientcerts, check_address_map
// type:table, or a bare type:table (the client address is looked up;
// static:all matches every client).
func parseLocalRewrite(p *parser, elems []string) ([]step, error) {
	var out []step
	for i := 0; i < len(elems); i++ {
		e := elems[i]
		name := strings.ToLower(e)
		switch {
		case strings.Contains(e, ":"):
			t, err := p.table(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e, err)
			}
			out = append(out, step{name: "check_address_map", table: t, spec: e})
		case name == "check_address_map":
			if i+1 >= len(elems) || !strings.Contains(elems[i+1], ":") {
				return nil, fmt.Errorf("%s needs a type:table argument", e)
			}
			i++
			t, err := p.table(elems[i])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", e, elems[i], err)
			}
			out = append(out, step{name: name, table: t, spec: elems[i]})
		case name == "permit_mynetworks" || name == "permit_inet_interfaces" || name == "permit_sasl_authenticated" ||
			name == "permit_tls_clientcerts" || name == "permit_tls_all_clientcerts":
			out = append(out, step{name: name})
		default:
			return nil, fmt.Errorf("invalid request %q", e)
		}
	}
	return out, nil
}

// LocalHeaderRewrite implements smtpd.Policy (local_header_rewrite_clients).
// A table that fails is logged and counts as no match.
func (p *Policy) LocalHeaderRewrite(ctx context.Context, c *smtpd.Info) bool {
	for _, s := range p.localRewrite {
		var ok bool
		var err error
		switch s.name {
		case "permit_mynetworks":
			ok, err = p.mynetworks.Match(ctx, c.Addr)
		case "permit_inet_interfaces":
			ok, err = p.d.Rewriter.IsLocal(ctx, clientLiteral(c.Addr))
		case "permit_sasl_authenticated":
			ok = c.SASLUser != ""
		case "check_address_map":
			_, ok, err = s.table.Lookup(ctx, c.Addr.Unmap().String())
		}
		if err != nil {
			p.d.Log.Warn("local_header_rewrite_clients lookup failed", "client", clientName(c), "err", err)
			return false
		}
		if ok {
			return true
		}
	}
	return false
}
