package smtp

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// TestRouteOrder: MX preference order, random order among equal
// preferences (RFC 5321 §5.1), smtp_mx_address_limit.
func TestRouteOrder(t *testing.T) {
	z := &dnsServer{
		mx: map[string][]*dns.MX{"eq.test.": {
			{Preference: 20, Mx: "c.eq.test."}, {Preference: 10, Mx: "a.eq.test."}, {Preference: 10, Mx: "b.eq.test."},
		}},
		a: map[string][]string{"a.eq.test.": {"127.0.0.11"}, "b.eq.test.": {"127.0.0.12"}, "c.eq.test.": {"127.0.0.13", "127.0.0.14"}},
	}
	r := NewResolver(startDNS(t, z))
	d, _ := parseNexthop("eq.test", "25", false)
	seen := map[string]bool{}
	for range 40 {
		ts, err := route(context.Background(), r, d, "ip", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 4 || ts[2].label() != "c.eq.test[127.0.0.13]:25" || ts[3].name != "c.eq.test" {
			t.Fatalf("route %+v", ts)
		}
		seen[ts[0].name] = true
	}
	if !seen["a.eq.test"] || !seen["b.eq.test"] {
		t.Errorf("equal preferences not randomised: first hosts seen %v", seen)
	}
	ts, err := route(context.Background(), r, d, "ip", 3)
	if err != nil || len(ts) != 3 {
		t.Errorf("limit 3: %v %v", ts, err)
	}
}

func TestParseNexthop(t *testing.T) {
	for _, tc := range []struct {
		in   string
		lmtp bool
		want destination
		bad  bool
	}{
		{in: "Example.COM", want: destination{host: "Example.COM", port: "25", lookMX: true, domain: "example.com"}},
		{in: "example.com:587", want: destination{host: "example.com", port: "587", lookMX: true, domain: "example.com"}},
		{in: "[mail.example.com]:587", want: destination{host: "mail.example.com", port: "587", domain: "mail.example.com"}},
		{in: "[192.0.2.1]", want: destination{host: "192.0.2.1", port: "25", domain: "192.0.2.1"}},
		{in: "[ipv6:2001:db8::1]", want: destination{host: "ipv6:2001:db8::1", port: "25", domain: "ipv6:2001:db8::1"}},
		{in: "unix:/run/lmtp", lmtp: true, want: destination{unix: "/run/lmtp", domain: "/run/lmtp"}},
		{in: "inet:localhost:24", lmtp: true, want: destination{host: "localhost", port: "24", domain: "localhost"}},
		{in: "localhost", lmtp: true, want: destination{host: "localhost", port: "25", domain: "localhost"}},
		{in: "", bad: true},
		{in: "[x", bad: true},
		{in: "[x]y", bad: true},
		{in: "x:nosuchport", bad: true},
		{in: "a b", bad: true},
		{in: "unix:", lmtp: true, bad: true},
	} {
		got, err := parseNexthop(tc.in, "25", tc.lmtp)
		if tc.bad != (err != nil) || !tc.bad && got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
