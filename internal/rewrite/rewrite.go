package rewrite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
)

// OpenFunc opens a lookup table from its "type:name" spec. maps.Open is
// the real one; tests pass in-memory tables.
type OpenFunc func(spec string) (maps.Table, error)

// Options are what New needs besides the configuration.
type Options struct {
	// Open opens tables; nil means maps.Open.
	Open OpenFunc
	// InterfaceAddrs lists this host's addresses, for inet_interfaces =
	// all; nil means the system's.
	InterfaceAddrs func() ([]netip.Addr, error)
	// LookupHost resolves the host names in inet_interfaces and
	// proxy_interfaces; nil means net.DefaultResolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Rewriter rewrites and resolves addresses. See the package comment.
type Rewriter struct {
	myhostname, mydomain, myorigin string
	relayhost                      string
	appendAtMyorigin, appendDotMy  bool
	swapBangpath, percentHack      bool
	remoteDomain                   string
	delims, doubleBounce           string
	propagate                      map[string]bool
	resolveDequoted, nullDomain    bool
	numericDomain, allowMinUser    bool
	emptyRecipient                 string
	showTableName                  bool

	localTransport, virtTransport string
	relayTransport, defTransport  string

	mydest       *domainList
	relayDomains *domainList
	virtAlias    *domainList // string_list semantics: exact names and tables
	virtMailbox  *domainList
	localAddrs   []netip.Addr

	canonical, sndCanonical, rcptCanonical *maps.List
	canonClasses, sndClasses, rcptClasses  map[AddrClass]bool
	masqDomains                            []string
	masqExceptions                         map[string]bool
	masqClasses                            map[AddrClass]bool

	virtualAlias                           *maps.List
	virtExpansionLimit, virtRecursionLimit int
	virtAddrLenLimit                       int

	transport                     *maps.List
	transportParentStyle          bool
	sndRelayhost, sndDefTransport *maps.List
	nullRelayKey, nullDefXportKey string
	relocated                     *maps.List

	tables []*maps.List // everything opened, for Close
}

// New builds a Rewriter from the configuration, opening every table it
// names. Errors name the parameter at fault.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Rewriter, error) {
	if opt.Open == nil {
		opt.Open = maps.Open
	}
	r := &Rewriter{
		myhostname:         cfg.Get("myhostname"),
		mydomain:           cfg.Get("mydomain"),
		myorigin:           cfg.Get("myorigin"),
		relayhost:          cfg.Get("relayhost"),
		appendAtMyorigin:   cfg.Bool("append_at_myorigin"),
		appendDotMy:        cfg.Bool("append_dot_mydomain"),
		swapBangpath:       cfg.Bool("swap_bangpath"),
		percentHack:        cfg.Bool("allow_percent_hack"),
		remoteDomain:       cfg.Get("remote_header_rewrite_domain"),
		delims:             cfg.Get("recipient_delimiter"),
		doubleBounce:       cfg.Get("double_bounce_sender"),
		propagate:          lowerSet(cfg.List("propagate_unmatched_extensions")),
		resolveDequoted:    cfg.Bool("resolve_dequoted_address"),
		nullDomain:         cfg.Bool("resolve_null_domain"),
		numericDomain:      cfg.Bool("resolve_numeric_domain"),
		allowMinUser:       cfg.Bool("allow_min_user"),
		emptyRecipient:     cfg.Get("empty_address_recipient"),
		showTableName:      cfg.Bool("show_user_unknown_table_name"),
		localTransport:     cfg.Get("local_transport"),
		virtTransport:      cfg.Get("virtual_transport"),
		relayTransport:     cfg.Get("relay_transport"),
		defTransport:       cfg.Get("default_transport"),
		nullRelayKey:       cfg.Get("empty_address_relayhost_maps_lookup_key"),
		nullDefXportKey:    cfg.Get("empty_address_default_transport_maps_lookup_key"),
		masqExceptions:     lowerSet(cfg.List("masquerade_exceptions")),
		virtExpansionLimit: cfg.Int("virtual_alias_expansion_limit"),
		virtRecursionLimit: cfg.Int("virtual_alias_recursion_limit"),
		virtAddrLenLimit:   cfg.Int("virtual_alias_address_length_limit"),
	}
	if r.emptyRecipient == "" {
		r.emptyRecipient = "MAILER-DAEMON"
	}
	for _, d := range cfg.List("masquerade_domains") {
		r.masqDomains = append(r.masqDomains, strings.ToLower(d))
	}
	parent := lowerSet(cfg.List("parent_domain_matches_subdomains"))
	r.transportParentStyle = parent["transport_maps"]

	var err error
	fail := func(e error) (*Rewriter, error) {
		r.Close()
		return nil, e
	}
	if r.canonClasses, err = classSet(cfg, "canonical_classes"); err != nil {
		return fail(err)
	}
	if r.sndClasses, err = classSet(cfg, "sender_canonical_classes"); err != nil {
		return fail(err)
	}
	if r.rcptClasses, err = classSet(cfg, "recipient_canonical_classes"); err != nil {
		return fail(err)
	}
	if r.masqClasses, err = classSet(cfg, "masquerade_classes"); err != nil {
		return fail(err)
	}

	lists := []struct {
		param string
		dst   **maps.List
	}{
		{"canonical_maps", &r.canonical},
		{"sender_canonical_maps", &r.sndCanonical},
		{"recipient_canonical_maps", &r.rcptCanonical},
		{"virtual_alias_maps", &r.virtualAlias},
		{"transport_maps", &r.transport},
		{"sender_dependent_relayhost_maps", &r.sndRelayhost},
		{"sender_dependent_default_transport_maps", &r.sndDefTransport},
		{"relocated_maps", &r.relocated},
	}
	for _, l := range lists {
		if *l.dst, err = r.openList(cfg, l.param, opt.Open); err != nil {
			return fail(err)
		}
	}
	doms := []struct {
		param  string
		dst    **domainList
		parent bool
		exact  bool
	}{
		{"mydestination", &r.mydest, parent["mydestination"], false},
		{"relay_domains", &r.relayDomains, parent["relay_domains"], false},
		{"virtual_alias_domains", &r.virtAlias, false, true},
		{"virtual_mailbox_domains", &r.virtMailbox, false, true},
	}
	for _, d := range doms {
		if *d.dst, err = newDomainList(d.param, cfg.List(d.param), d.parent, d.exact, opt.Open); err != nil {
			return fail(err)
		}
		r.tables = append(r.tables, &(*d.dst).tables)
	}
	if r.localAddrs, err = interfaceAddrs(ctx, cfg, opt); err != nil {
		return fail(err)
	}
	return r, nil
}

// openList opens the tables of a list parameter; nil when it is empty.
func (r *Rewriter) openList(cfg *config.Config, param string, open OpenFunc) (*maps.List, error) {
	specs := cfg.List(param)
	if len(specs) == 0 {
		return nil, nil
	}
	l := &maps.List{}
	r.tables = append(r.tables, l)
	for _, s := range specs {
		t, err := open(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", param, err)
		}
		l.Tables = append(l.Tables, t)
	}
	return l, nil
}

// Close closes every table the Rewriter opened.
func (r *Rewriter) Close() error {
	var errs []error
	for _, l := range r.tables {
		errs = append(errs, l.Close())
	}
	r.tables = nil
	return errors.Join(errs...)
}

func lowerSet(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[strings.ToLower(s)] = true
	}
	return m
}

// interfaceAddrs gives the addresses of inet_interfaces and
// proxy_interfaces, whose [literals] are local destinations.
func interfaceAddrs(ctx context.Context, cfg *config.Config, opt Options) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, param := range []string{"inet_interfaces", "proxy_interfaces"} {
		for _, name := range cfg.List(param) {
			switch strings.ToLower(name) {
			case "all":
				if param != "inet_interfaces" {
					return nil, fmt.Errorf("%s: \"all\" is not allowed here", param)
				}
				addrs, err := systemAddrs(opt)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", param, err)
				}
				out = append(out, addrs...)
				continue
			case "loopback-only":
				out = append(out, netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback())
				continue
			}
			h := strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
			if a, err := netip.ParseAddr(h); err == nil {
				out = append(out, a.Unmap())
				continue
			}
			lookup := opt.LookupHost
			if lookup == nil {
				lookup = net.DefaultResolver.LookupHost
			}
			hosts, err := lookup(ctx, h)
			if err != nil {
				return nil, fmt.Errorf("%s: host %s: %w", param, h, err)
			}
			for _, s := range hosts {
				if a, err := netip.ParseAddr(s); err == nil {
					out = append(out, a.Unmap())
				}
			}
		}
	}
	return out, nil
}

func systemAddrs(opt Options) ([]netip.Addr, error) {
	if opt.InterfaceAddrs != nil {
		return opt.InterfaceAddrs()
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}
