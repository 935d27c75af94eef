package rewrite

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// memTable is an in-memory lookup table; specs "mem:NAME" open the table
// registered under NAME in a testTables set.
type memTable struct {
	m       map[string]string
	pattern bool
	fail    bool
}

func (t *memTable) Lookup(_ context.Context, key string) (string, bool, error) {
	if t.fail {
		return "", false, errors.New("table unavailable")
	}
	v, ok := t.m[strings.ToLower(key)]
	return v, ok, nil
}
func (t *memTable) Close() error  { return nil }
func (t *memTable) Pattern() bool { return t.pattern }

// baseSettings are Postfix's defaults (postconf -d) for the parameters the
// rewriter reads, with concrete host names, so that tests do not depend on
// $name expansion.
func baseSettings() map[string]string {
	return map[string]string{
		"myhostname": "mail.example.com", "mydomain": "example.com", "myorigin": "mail.example.com",
		"mydestination":   "mail.example.com, localhost.example.com, localhost",
		"inet_interfaces": "all", "proxy_interfaces": "", "relayhost": "",
		"append_at_myorigin": "yes", "append_dot_mydomain": "no", "swap_bangpath": "yes", "allow_percent_hack": "yes",
		"remote_header_rewrite_domain": "", "recipient_delimiter": "", "double_bounce_sender": "double-bounce",
		"propagate_unmatched_extensions": "canonical, virtual",
		"canonical_classes":              "envelope_sender, envelope_recipient, header_sender, header_recipient",
		"sender_canonical_classes":       "envelope_sender, header_sender",
		"recipient_canonical_classes":    "envelope_recipient, header_recipient",
		"masquerade_classes":             "envelope_sender, header_sender, header_recipient",
		"virtual_alias_expansion_limit":  "1000", "virtual_alias_recursion_limit": "1000", "virtual_alias_address_length_limit": "1000",
		"virtual_transport": "virtual", "relay_transport": "relay", "default_transport": "smtp", "local_transport": "local:mail.example.com",
		"parent_domain_matches_subdomains":        "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps",
		"empty_address_relayhost_maps_lookup_key": "<>", "empty_address_default_transport_maps_lookup_key": "<>",
		"resolve_dequoted_address": "yes", "resolve_null_domain": "no", "resolve_numeric_domain": "no", "allow_min_user": "no",
		"empty_address_recipient": "MAILER-DAEMON", "show_user_unknown_table_name": "yes",
	}
}

func newTest(t *testing.T, settings map[string]string, tables map[string]*memTable) *Rewriter {
	t.Helper()
	s := baseSettings()
	for k, v := range settings {
		s[k] = v
	}
	cfg, err := config.FromMap(s)
	if err != nil {
		t.Fatal(err)
	}
	open := func(spec string) (maps.Table, error) {
		name, ok := strings.CutPrefix(spec, "mem:")
		if tb, found := tables[name]; ok && found {
			return tb, nil
		}
		return nil, fmt.Errorf("open %q: %w", spec, maps.ErrUnsupported)
	}
	addrs := func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, nil
	}
	r, err := New(context.Background(), cfg, Options{Open: open, InterfaceAddrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// ADDRESS_REWRITING_README "Rewrite addresses to standard form" and
// trivial-rewrite(8) rewrite_tree.
func TestCanonicalize(t *testing.T) {
	r := newTest(t, nil, nil)
	rd := newTest(t, map[string]string{"append_dot_mydomain": "yes", "remote_header_rewrite_domain": "domain.invalid"}, nil)
	noHacks := newTest(t, map[string]string{"swap_bangpath": "no", "allow_percent_hack": "no", "append_at_myorigin": "no"}, nil)
	tests := []struct {
		r    *Rewriter
		c    Context
		in   string
		want string
	}{
		{r, Local, "", ""},
		{r, Local, "@", ""},
		{r, Local, "user", "user@mail.example.com"},             // append_at_myorigin
		{r, Local, "user@host", "user@host"},                    // append_dot_mydomain=no (compat 3.6)
		{rd, Local, "user@host", "user@host.example.com"},       // append_dot_mydomain=yes
		{rd, Local, "user@[192.0.2.9]", "user@[192.0.2.9]"},     // never on literals
		{r, Local, "site!user", "user@site"},                    // swap_bangpath
		{r, Local, "a!b!user", "b!user@a"},                      // first ! only
		{r, Local, "user%remote@relay", "user%remote@relay"},    // % only without @
		{r, Local, "user%a%b", "user%a@b"},                      // rightmost %
		{r, Local, "@a,@b:user@dom", "user@dom"},                // source route
		{r, Local, "user@example.com.", "user@example.com"},     // trailing dot
		{r, Local, "user@example..", "user@example.."},          // but not dot-dot
		{r, Local, "john doe!x", "john doe!x@mail.example.com"}, // quoted local part: no operators
		{noHacks, Local, "site!user", "site!user"},
		{noHacks, Local, "user%host", "user%host"},
		{r, Remote, "user", "user"}, // remote_header_rewrite_domain empty
		{rd, Remote, "user", "user@domain.invalid"},
		{rd, Remote, "user@host", "user@host.domain.invalid"},
	}
	for _, tt := range tests {
		if got := tt.r.Canonicalize(tt.c, tt.in); got != tt.want {
			t.Errorf("Canonicalize(%v, %q) = %q, want %q", tt.c, tt.in, got, tt.want)
		}
	}
}

// trivial-rewrite(8) resolve, ADDRESS_CLASS_README, transport(5).
func TestResolve(t *testing.T) {
	ctx := context.Background()
	tables := map[string]*memTable{
		"valias":   {m: map[string]string{"alias.example": "x", "a@alias.example": "b@example.net"}},
		"vmailbox": {m: map[string]string{"vmail.example": "x"}},
		"transport": {m: map[string]string{
			"special@example.org":    "smtp:[10.0.0.1]:2525",
			"tagged@example.org":     "lmtp:unix:/run/lmtp",
			"transport.example":      "uucp:gateway",
			".sub.transport.example": ":[relay.inside]",
			"bounce.example":         "error",
			"discard.example":        "discard:",
			"keep.example":           ":",
		}},
		"relocated": {m: map[string]string{"gone@example.org": "new@example.net"}},
		"sndrelay":  {m: map[string]string{"@sender.example": "[sender-relay]:587", "<>": "[null-relay]"}},
	}
	base := map[string]string{
		"virtual_alias_domains": "mem:valias", "virtual_mailbox_domains": "mem:vmailbox",
		"relay_domains": "!no.relay.example, relay.example", "transport_maps": "mem:transport",
		"relocated_maps": "mem:relocated", "recipient_delimiter": "+",
	}
	r := newTest(t, base, tables)
	withRelayhost := newTest(t, map[string]string{"relayhost": "[smarthost]:587", "relay_domains": "relay.example", "relay_transport": "relay:[relay-gw]"}, tables)
	sndRelay := newTest(t, map[string]string{"relayhost": "[smarthost]", "sender_dependent_relayhost_maps": "mem:sndrelay"}, tables)
	nullDom := newTest(t, map[string]string{"resolve_null_domain": "yes", "resolve_numeric_domain": "yes"}, nil)
	parentTransport := newTest(t, map[string]string{"transport_maps": "mem:transport", "parent_domain_matches_subdomains": "transport_maps"}, tables)

	type want struct {
		class          Class
		transport, hop string
		rcpt           string
		flags          Flags
	}
	tests := []struct {
		r      *Rewriter
		sender string
		in     string
		want   want
	}{
		// Local class: mydestination, interface literals, no domain.
		{r, "", "user@mail.example.com", want{ClassLocal, "local", "mail.example.com", "user@mail.example.com", 0}},
		{r, "", "User@LOCALHOST", want{ClassLocal, "local", "mail.example.com", "User@LOCALHOST", 0}},
		{r, "", "user@[192.0.2.1]", want{ClassLocal, "local", "mail.example.com", "user@[192.0.2.1]", 0}},
		{r, "", "user@[IPv6:2001:db8::1]", want{ClassLocal, "local", "mail.example.com", "user@[IPv6:2001:db8::1]", 0}},
		{r, "", "user", want{ClassLocal, "local", "mail.example.com", "user@mail.example.com", 0}},
		{r, "", "", want{ClassLocal, "local", "mail.example.com", "MAILER-DAEMON@mail.example.com", 0}},
		// Routing operators after a local domain are followed.
		{r, "", "user%remote.example@localhost", want{ClassDefault, "smtp", "remote.example", "user@remote.example", 0}},
		{r, "", "remote.example!user@localhost", want{ClassDefault, "smtp", "remote.example", "user@remote.example", 0}},
		{r, "", "user@remote.example@localhost", want{ClassDefault, "smtp", "remote.example", "user@remote.example", 0}}, // resolve_dequoted_address
		// ...but left in place, and flagged, before a remote one.
		{r, "", "user%other.example@relay.example", want{ClassRelay, "relay", "relay.example", "user%other.example@relay.example", FlagRouted}},
		{r, "", "user@other.example@remote.example", want{ClassDefault, "smtp", "remote.example", "user@other.example@remote.example", FlagRouted}},
		// Classes.
		{r, "", "x@alias.example", want{ClassAlias, "error", "User unknown in virtual alias table", "x@alias.example", 0}},
		{r, "", "x@vmail.example", want{ClassVirtual, "virtual", "vmail.example", "x@vmail.example", 0}},
		{r, "", "x@relay.example", want{ClassRelay, "relay", "relay.example", "x@relay.example", 0}},
		{r, "", "x@sub.relay.example", want{ClassRelay, "relay", "sub.relay.example", "x@sub.relay.example", 0}}, // parent style
		{r, "", "x@no.relay.example", want{ClassDefault, "smtp", "no.relay.example", "x@no.relay.example", 0}},
		{r, "", "x@example.net", want{ClassDefault, "smtp", "example.net", "x@example.net", 0}},
		// relayhost: default and relay class; relay_transport nexthop wins.
		{withRelayhost, "", "x@example.net", want{ClassDefault, "smtp", "[smarthost]:587", "x@example.net", FlagRelayhost}},
		{withRelayhost, "", "x@relay.example", want{ClassRelay, "relay", "[relay-gw]", "x@relay.example", 0}},
		{withRelayhost, "", "x@mail.example.com", want{ClassLocal, "local", "mail.example.com", "x@mail.example.com", 0}},
		{sndRelay, "a@sender.example", "x@example.net", want{ClassDefault, "smtp", "[sender-relay]:587", "x@example.net", FlagRelayhost}},
		{sndRelay, "", "x@example.net", want{ClassDefault, "smtp", "[null-relay]", "x@example.net", FlagRelayhost}},
		{sndRelay, "b@other.example", "x@example.net", want{ClassDefault, "smtp", "[smarthost]", "x@example.net", FlagRelayhost}},
		// transport_maps.
		{r, "", "special@example.org", want{ClassDefault, "smtp", "[10.0.0.1]:2525", "special@example.org", FlagTransportMap}},
		{r, "", "tagged+x@example.org", want{ClassDefault, "lmtp", "unix:/run/lmtp", "tagged+x@example.org", FlagTransportMap}},
		{r, "", "u@transport.example", want{ClassDefault, "uucp", "gateway", "u@transport.example", FlagTransportMap}},
		{r, "", "u@a.sub.transport.example", want{ClassDefault, "smtp", "[relay.inside]", "u@a.sub.transport.example", FlagTransportMap}},
		{r, "", "u@other.transport.example", want{ClassDefault, "smtp", "other.transport.example", "u@other.transport.example", 0}}, // no parent match
		{parentTransport, "", "u@other.transport.example", want{ClassDefault, "uucp", "gateway", "u@other.transport.example", FlagTransportMap}},
		{r, "", "u@bounce.example", want{ClassDefault, "error", "Address is undeliverable", "u@bounce.example", FlagTransportMap}},
		{r, "", "u@discard.example", want{ClassDefault, "discard", "discard.example", "u@discard.example", FlagTransportMap}},
		{r, "", "u@keep.example", want{ClassDefault, "smtp", "keep.example", "u@keep.example", FlagTransportMap}},
		{r, "", "a@alias.example", want{ClassAlias, "error", "User unknown in virtual alias table", "a@alias.example", 0}}, // transport_maps never overrides
		// relocated_maps.
		{r, "", "gone@example.org", want{ClassDefault, "error", "5.1.6 User has moved to new@example.net", "gone@example.org", FlagRelocated}},
		// Errors.
		{r, "", "user@1.2.3.4", want{ClassDefault, "error", "5.1.2 bad destination domain syntax", "user@1.2.3.4", FlagError}},
		{r, "", "user@bad_domain!", want{ClassDefault, "error", "5.1.2 bad destination domain syntax", "user@bad_domain!", FlagError}},
		{r, "", "user@", want{ClassDefault, "error", "5.1.2 bad destination domain syntax", "user@", FlagError}},
		{r, "", "-opt@example.net", want{ClassDefault, "error", "5.1.3 recipient address starts with '-'", "-opt@example.net", FlagError}},
		{nullDom, "", "user@", want{ClassLocal, "local", "mail.example.com", "user@mail.example.com", 0}},
		{nullDom, "", "user@192.0.2.1", want{ClassLocal, "local", "mail.example.com", "user@[192.0.2.1]", 0}},
		{nullDom, "", "user@198.51.100.7", want{ClassDefault, "smtp", "[198.51.100.7]", "user@[198.51.100.7]", 0}},
	}
	for _, tt := range tests {
		got, err := tt.r.Resolve(ctx, tt.sender, tt.in)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.in, err)
			continue
		}
		w := Result{tt.want.class, tt.want.transport, tt.want.hop, tt.want.rcpt, tt.want.flags}
		if got != w {
			t.Errorf("Resolve(%q)\n got  %+v\n want %+v", tt.in, got, w)
		}
	}
}

func TestResolveTableFailure(t *testing.T) {
	r := newTest(t, map[string]string{"transport_maps": "mem:down"}, map[string]*memTable{"down": {fail: true}})
	if _, err := r.Resolve(context.Background(), "", "x@example.net"); err == nil {
		t.Error("failing transport_maps: no error")
	}
	r = newTest(t, map[string]string{"mydestination": "mem:down"}, map[string]*memTable{"down": {fail: true}})
	if _, err := r.Resolve(context.Background(), "", "x@example.net"); err == nil {
		t.Error("failing mydestination table: no error")
	}
}

func TestNewErrors(t *testing.T) {
	cfg, _ := config.FromMap(map[string]string{"canonical_maps": "nosuch:/x"})
	if _, err := New(context.Background(), cfg, Options{Open: func(s string) (maps.Table, error) { return nil, maps.ErrUnsupported }}); err == nil || !strings.Contains(err.Error(), "canonical_maps") {
		t.Errorf("error %v should name canonical_maps", err)
	}
	s := baseSettings()
	s["masquerade_classes"] = "envelope_sender, bogus"
	cfg, _ = config.FromMap(s)
	if _, err := New(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("error %v should name the bad class", err)
	}
}

// canonical(5), ADDRESS_REWRITING_README "Canonical address mapping".
func TestMapCanonical(t *testing.T) {
	ctx := context.Background()
	tables := map[string]*memTable{
		"canon": {m: map[string]string{
			"wietse":            "Wietse.Venema", // local part: domain is $myorigin
			"@old.example":      "@new.example",
			"chain@example.org": "step@example.org",
			"step@example.org":  "end@example.org",
			"loop@example.org":  "loop@example.org",
			"list@example.org":  "first@example.org, second@example.org",
		}},
		"sender": {m: map[string]string{"joe@example.org": "joe.sender@example.org"}},
		"rcpt":   {m: map[string]string{"joe@example.org": "joe.rcpt@example.org"}},
	}
	r := newTest(t, map[string]string{"canonical_maps": "mem:canon", "sender_canonical_maps": "mem:sender",
		"recipient_canonical_maps": "mem:rcpt", "recipient_delimiter": "+"}, tables)
	noProp := newTest(t, map[string]string{"canonical_maps": "mem:canon", "recipient_delimiter": "+", "propagate_unmatched_extensions": ""}, tables)
	hdrOnly := newTest(t, map[string]string{"canonical_maps": "mem:canon", "canonical_classes": "header_sender"}, tables)
	tests := []struct {
		r     *Rewriter
		class AddrClass
		in    string
		want  string
	}{
		{r, EnvelopeSender, "wietse@mail.example.com", "Wietse.Venema@mail.example.com"},
		{r, EnvelopeSender, "wietse+ext@mail.example.com", "Wietse.Venema+ext@mail.example.com"},
		{noProp, EnvelopeSender, "wietse+ext@mail.example.com", "Wietse.Venema@mail.example.com"},
		{r, EnvelopeSender, "wietse@elsewhere.example", "wietse@elsewhere.example"}, // not local: no bare user lookup
		{r, EnvelopeRecipient, "any@old.example", "any@new.example"},
		{r, EnvelopeRecipient, "any+x@old.example", "any+x@new.example"},
		{noProp, EnvelopeRecipient, "any+x@old.example", "any+x@new.example"}, // @domain match: nothing was stripped
		{r, EnvelopeSender, "chain@example.org", "end@example.org"},
		{r, EnvelopeSender, "loop@example.org", "loop@example.org"},
		{r, EnvelopeSender, "list@example.org", "first@example.org"},
		{r, EnvelopeSender, "joe@example.org", "joe.sender@example.org"}, // sender_canonical_maps first
		{r, HeaderRecipient, "joe@example.org", "joe.rcpt@example.org"},
		{hdrOnly, EnvelopeSender, "wietse@mail.example.com", "wietse@mail.example.com"},
		{hdrOnly, HeaderSender, "wietse@mail.example.com", "Wietse.Venema@mail.example.com"},
	}
	for _, tt := range tests {
		got, err := tt.r.MapCanonical(ctx, tt.class, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("MapCanonical(%v, %q) = %q, %v; want %q", tt.class, tt.in, got, err, tt.want)
		}
	}
}

// postconf(5) masquerade_domains, masquerade_exceptions, masquerade_classes.
func TestMasquerade(t *testing.T) {
	r := newTest(t, map[string]string{"masquerade_domains": "!sub.example.com, example.com", "masquerade_exceptions": "root"}, nil)
	tests := []struct {
		class    AddrClass
		in, want string
	}{
		{EnvelopeSender, "user@host.example.com", "user@example.com"},
		{EnvelopeSender, "user@any.thing.example.com", "user@example.com"},
		{EnvelopeSender, "user@example.com", "user@example.com"},
		{EnvelopeSender, "user@sub.example.com", "user@sub.example.com"},
		{EnvelopeSender, "user@host.sub.example.com", "user@host.sub.example.com"}, // "!sub.example.com" also covers its subdomains (first match)
		{EnvelopeSender, "root@host.example.com", "root@host.example.com"},
		{EnvelopeRecipient, "user@host.example.com", "user@host.example.com"}, // not in masquerade_classes
		{HeaderRecipient, "user@Host.Example.COM", "user@Example.COM"},
		{EnvelopeSender, "user@example.net", "user@example.net"},
	}
	for _, tt := range tests {
		if got := r.Masquerade(tt.class, tt.in); got != tt.want {
			t.Errorf("Masquerade(%v, %q) = %q, want %q", tt.class, tt.in, got, tt.want)
		}
	}
}

// virtual(5): recursive expansion, self-reference, limits.
func TestExpandVirtual(t *testing.T) {
	ctx := context.Background()
	tables := map[string]*memTable{"v": {m: map[string]string{
		"list@example.org":  "a@example.org, b@example.org, list-archive@example.org",
		"a@example.org":     "a@example.net",
		"b@example.org":     "b@example.org, b-copy@example.net", // keeps itself
		"@catch.example":    "catchall@example.org",
		"loop1@example.org": "loop2@example.org",
		"loop2@example.org": "loop1@example.org",
		"dup@example.org":   "x@example.net, X@example.net",
		"user@example.org":  "user@example.net",
		"fan@example.org":   "f1@example.net, f2@example.net, f3@example.net",
	}}}
	r := newTest(t, map[string]string{"virtual_alias_maps": "mem:v", "recipient_delimiter": "+"}, tables)
	small := newTest(t, map[string]string{"virtual_alias_maps": "mem:v", "virtual_alias_expansion_limit": "2"}, tables)
	tests := []struct {
		r    *Rewriter
		in   string
		want []string
		err  error
	}{
		{r, "nobody@example.com", []string{"nobody@example.com"}, nil},
		{r, "list@example.org", []string{"a@example.net", "b@example.org", "list-archive@example.org", "b-copy@example.net"}, nil},
		{r, "who@catch.example", []string{"catchall@example.org"}, nil},
		{r, "user+tag@example.org", []string{"user+tag@example.net"}, nil},
		{r, "dup@example.org", []string{"x@example.net"}, nil},
		{r, "loop1@example.org", nil, ErrLimit},
		{small, "fan@example.org", nil, ErrLimit},
	}
	for _, tt := range tests {
		got, err := tt.r.ExpandVirtual(ctx, tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ExpandVirtual(%q): error %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ExpandVirtual(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzResolve checks that no address makes the resolver panic or loop, and
// that the recipient always has a domain.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"", "user", "a%b@localhost", "a!b!c", "x@y@localhost", "@a:b@c", "user@1.2.3.4", "\"\"@localhost", "u@.", "%@!"} {
		f.Add(s)
	}
	cfg, err := config.FromMap(baseSettings())
	if err != nil {
		f.Fatal(err)
	}
	r, err := New(context.Background(), cfg, Options{InterfaceAddrs: func() ([]netip.Addr, error) { return nil, nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, err := r.Resolve(context.Background(), "", r.Canonicalize(Local, s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !strings.Contains(res.Recipient, "@") || res.Transport == "" {
			t.Fatalf("%q: bad result %+v", s, res)
		}
	})
}
