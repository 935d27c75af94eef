package smtpd

import (
	"context"
	"net"
	"net/netip"
	"strings"
)

// ResolveName gives the client host name as Postfix verifies it: the
// first PTR name whose forward lookup includes the address, else "" (the
// client is then "unknown"). Use it as Options.LookupName.
func ResolveName(ctx context.Context, r *net.Resolver, ip netip.Addr) string {
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil {
		return ""
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		addrs, err := r.LookupNetIP(ctx, "ip", n)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip.Unmap() {
				return n
			}
		}
	}
	return ""
}
