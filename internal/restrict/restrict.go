package restrict

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"mailhorn/internal/anvil"
	"mailhorn/internal/config"
	"mailhorn/internal/maillog"
	"mailhorn/internal/maps"
	"mailhorn/internal/rewrite"
	"mailhorn/internal/smtpd"
)

// DNSResolver is what the DNS-based restrictions ask; *net.Resolver is one.
// A *net.DNSError with IsNotFound means the name or record does not exist;
// any other error is temporary.
type DNSResolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Deps are the services a Policy uses.
type Deps struct {
	Rewriter *rewrite.Rewriter // required
	Anvil    *anvil.Anvil      // nil: no rate limits
	MailLog  *maillog.Service  // nil: no mail log lines
	Log      *slog.Logger      // nil: slog.Default()
	// Resolver answers DNS lists and reject_unknown_*; nil:
	// net.DefaultResolver.
	Resolver DNSResolver
	// Service is the master.cf service name shown in rate limit warnings
	// ("smtp", "submission"); "" is "smtp".
	Service string
	// Hostname is $myhostname, for the 421 of the connection rate limit;
	// "" reads it from the configuration.
	Hostname string
}

// Policy implements smtpd.Policy with Postfix's restriction lists. It is
// safe for concurrent use: all per-session state lives in smtpd.Info.
type Policy struct {
	d       Deps
	parser  *parser
	results *parser // for restriction lists in access table results: opens no table
	classes map[string][]step

	client, helo, sender, relay, recipient, data, eod []step
	localRewrite                                      []step

	delayReject, rejectUnlistedSender, rejectUnlistedRcpt bool
	saslEnabled, allowUntrustedRouting, parentStyle       bool
	showTable                                             bool
	nullKey                                               string

	mynetworks, limitExceptions *maps.NetList
	loginMaps, rblReplyMaps     *maps.List
	localRcpt, virtualMailbox   *maps.List
	relayRcpt                   *maps.List
	defaultRBLReply             string

	codes codes
	rates rates
}

// codes are the configurable reply codes.
type codes struct {
	relay, accessReject, accessDefer, deferAll, rejectAll    int
	unknownLocal, unknownVirtual, unknownAlias, unknownRelay int
	unknownAddr, unknownHost, unknownClient, invalidHost     int
	nonFQDN, plaintext, rbl                                  int
	addrTempfailDefer, heloTempfailDefer                     bool
}

// rates are the anvil limits; 0 is no limit.
type rates struct {
	unit                  time.Duration
	conn, msg, rcpt, auth int
}

// New builds the policy from the configuration (per service: master.cf -o
// overrides applied). Every error names the parameter at fault.
func New(cfg *config.Config, d Deps) (*Policy, error) {
	if d.Rewriter == nil {
		return nil, fmt.Errorf("restrict: no rewriter")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Resolver == nil {
		d.Resolver = net.DefaultResolver
	}
	if d.Service == "" {
		d.Service = "smtp"
	}
	if d.Hostname == "" {
		d.Hostname = cfg.Get("myhostname")
	}
	p := &Policy{d: d, classes: map[string][]step{}}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	classNames := cfg.List("smtpd_restriction_classes")
	p.parser = newParser(classNames, nil)
	p.results = newParser(classNames, func(spec string) (maps.Table, error) {
		return nil, fmt.Errorf("%s: a lookup table is not allowed here", spec)
	})
	for _, c := range classNames {
		def := cfg.List(c)
		if len(def) == 0 {
			return nil, fmt.Errorf("smtpd_restriction_classes: restriction class %q needs a definition (%s = ...)", c, c)
		}
		// A class is evaluated in whichever list names it; a bare
		// type:table in it is a recipient access table, as the
		// restriction classes of SMTPD_ACCESS_README use.
		steps, err := p.parser.parse(def, "recipient")
		if err != nil {
			return nil, fmt.Errorf("%s (restriction class): %w", c, err)
		}
		p.classes[c] = steps
	}
	for _, l := range []struct {
		param, kind string
		dst         *[]step
	}{
		{"smtpd_client_restrictions", "client", &p.client},
		{"smtpd_helo_restrictions", "helo", &p.helo},
		{"smtpd_sender_restrictions", "sender", &p.sender},
		{"smtpd_relay_restrictions", "recipient", &p.relay},
		{"smtpd_recipient_restrictions", "recipient", &p.recipient},
		{"smtpd_data_restrictions", "data", &p.data},
		{"smtpd_end_of_data_restrictions", "eod", &p.eod},
	} {
		steps, err := p.parser.parse(cfg.List(l.param), l.kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.param, err)
		}
		*l.dst = steps
	}
	if !hasRelayControl(p.relay, p.classes, 0) && !hasRelayControl(p.recipient, p.classes, 0) {
		// Postfix refuses to run as an open relay by accident.
		return nil, fmt.Errorf("smtpd_relay_restrictions or smtpd_recipient_restrictions: specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, defer or defer_if_permit (otherwise this server is an open relay)")
	}
	var err error
	if p.localRewrite, err = parseLocalRewrite(p.parser, cfg.List("local_header_rewrite_clients")); err != nil {
		return nil, fmt.Errorf("local_header_rewrite_clients: %w", err)
	}
	if p.mynetworks, err = maps.ParseNetList(cfg.List("mynetworks"), nil); err != nil {
		return nil, fmt.Errorf("mynetworks: %w", err)
	}
	if p.limitExceptions, err = maps.ParseNetList(cfg.List("smtpd_client_event_limit_exceptions"), nil); err != nil {
		return nil, fmt.Errorf("smtpd_client_event_limit_exceptions: %w", err)
	}
	for _, t := range []struct {
		param string
		dst   **maps.List
	}{
		{"smtpd_sender_login_maps", &p.loginMaps}, {"rbl_reply_maps", &p.rblReplyMaps},
		{"local_recipient_maps", &p.localRcpt}, {"virtual_mailbox_maps", &p.virtualMailbox},
		{"relay_recipient_maps", &p.relayRcpt},
	} {
		specs := cfg.List(t.param)
		if len(specs) == 0 {
			continue
		}
		l, err := maps.OpenList(specs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.param, err)
		}
		*t.dst = l
	}
	p.delayReject = cfg.Bool("smtpd_delay_reject")
	p.rejectUnlistedSender = cfg.Bool("smtpd_reject_unlisted_sender")
	p.rejectUnlistedRcpt = cfg.Bool("smtpd_reject_unlisted_recipient")
	p.saslEnabled = cfg.Bool("smtpd_sasl_auth_enable")
	p.allowUntrustedRouting = cfg.Bool("allow_untrusted_routing")
	p.showTable = cfg.Bool("show_user_unknown_table_name")
	p.nullKey = cfg.Get("smtpd_null_access_lookup_key")
	// default_rbl_reply holds $rbl_* names that only the reply expands.
	p.defaultRBLReply, _ = cfg.Raw("default_rbl_reply")
	for _, s := range cfg.List("parent_domain_matches_subdomains") {
		if s == "smtpd_access_maps" {
			p.parentStyle = true
		}
	}
	p.codes = codes{
		relay: cfg.Int("relay_domains_reject_code"), accessReject: cfg.Int("access_map_reject_code"),
		accessDefer: cfg.Int("access_map_defer_code"), deferAll: cfg.Int("defer_code"),
		rejectAll: cfg.Int("reject_code"), unknownLocal: cfg.Int("unknown_local_recipient_reject_code"),
		unknownVirtual: cfg.Int("unknown_virtual_mailbox_reject_code"),
		unknownAlias:   cfg.Int("unknown_virtual_alias_reject_code"),
		unknownRelay:   cfg.Int("unknown_relay_recipient_reject_code"),
		unknownAddr:    cfg.Int("unknown_address_reject_code"), unknownHost: cfg.Int("unknown_hostname_reject_code"),
		unknownClient: cfg.Int("unknown_client_reject_code"), invalidHost: cfg.Int("invalid_hostname_reject_code"),
		nonFQDN: cfg.Int("non_fqdn_reject_code"), plaintext: cfg.Int("plaintext_reject_code"),
		rbl:               cfg.Int("maps_rbl_reject_code"),
		addrTempfailDefer: strings.EqualFold(cfg.Get("unknown_address_tempfail_action"), "defer"),
		heloTempfailDefer: strings.EqualFold(cfg.Get("unknown_helo_hostname_tempfail_action"), "defer"),
	}
	p.rates = rates{
		unit: cfg.Duration("anvil_rate_time_unit"),
		conn: cfg.Int("smtpd_client_connection_rate_limit"), msg: cfg.Int("smtpd_client_message_rate_limit"),
		rcpt: cfg.Int("smtpd_client_recipient_rate_limit"), auth: cfg.Int("smtpd_client_auth_rate_limit"),
	}
	if p.rates.unit <= 0 {
		p.rates.unit = 60 * time.Second // Postfix's anvil_rate_time_unit
	}
	ok = true
	return p, nil
}

// Close closes every table the policy opened.
func (p *Policy) Close() error {
	if p.parser != nil {
		p.parser.close()
	}
	p.mynetworks.Close()
	p.limitExceptions.Close()
	for _, l := range []*maps.List{p.loginMaps, p.rblReplyMaps, p.localRcpt, p.virtualMailbox, p.relayRcpt} {
		if l != nil {
			l.Close()
		}
	}
	return nil
}

var _ smtpd.Policy = (*Policy)(nil)

// CheckConnect implements smtpd.Policy: the connection rate limit, then,
// with smtpd_delay_reject = no, smtpd_client_restrictions.
func (p *Policy) CheckConnect(ctx context.Context, c *smtpd.Info) *smtpd.Reply {
	if n, over := p.overLimit(ctx, c, anvil.Connect, p.rates.conn); over {
		p.warnf("Connection rate limit exceeded: %d from %s for service %s", n, clientName(c), p.d.Service)
		return &smtpd.Reply{Code: 421, DSN: "4.7.0", Text: p.d.Hostname + " Error: too many connections from " + c.Addr.String()}
	}
	if p.delayReject {
		return nil
	}
	e := p.newEval(ctx, c, "CONNECT")
	return e.run(func() status { return e.clientChecks() })
}

// CheckHelo implements smtpd.Policy: smtpd_helo_restrictions, unless they
// wait for RCPT TO (smtpd_delay_reject).
func (p *Policy) CheckHelo(ctx context.Context, c *smtpd.Info, helo string) *smtpd.Reply {
	if p.delayReject {
		return nil
	}
	e := p.newEval(ctx, c, "HELO")
	e.helo = helo
	return e.run(func() status { return e.heloChecks() })
}

// CheckMail implements smtpd.Policy: the message rate limit, then (without
// smtpd_delay_reject) smtpd_sender_restrictions.
func (p *Policy) CheckMail(ctx context.Context, c *smtpd.Info, sender string) *smtpd.Reply {
	if n, over := p.overLimit(ctx, c, anvil.Message, p.rates.msg); over {
		p.warnf("Message delivery request rate limit exceeded: %d from %s for service %s", n, clientName(c), p.d.Service)
		return &smtpd.Reply{Code: 450, DSN: "4.7.1", Text: "Error: too much mail from " + c.Addr.String()}
	}
	if p.delayReject {
		return nil
	}
	e := p.newEval(ctx, c, "MAIL")
	e.sender, e.inMail = sender, true
	return e.run(func() status { return e.senderChecks() })
}

// CheckRcpt implements smtpd.Policy: the recipient rate limit, the delayed
// client, helo and sender restrictions, smtpd_relay_restrictions, then
// smtpd_recipient_restrictions, then the unlisted recipient check.
func (p *Policy) CheckRcpt(ctx context.Context, c *smtpd.Info, rcpt string) *smtpd.Reply {
	if n, over := p.overLimit(ctx, c, anvil.Recipient, p.rates.rcpt); over {
		p.warnf("Recipient address rate limit exceeded: %d from %s for service %s", n, clientName(c), p.d.Service)
		return &smtpd.Reply{Code: 450, DSN: "4.7.1", Text: "Error: too many recipients from " + c.Addr.String()}
	}
	return p.checkRecipient(ctx, c, rcpt, "RCPT")
}

// CheckVrfy implements smtpd.Policy: VRFY runs the recipient restrictions,
// as Postfix's does.
func (p *Policy) CheckVrfy(ctx context.Context, c *smtpd.Info, addr string) *smtpd.Reply {
	return p.checkRecipient(ctx, c, addr, "VRFY")
}

func (p *Policy) checkRecipient(ctx context.Context, c *smtpd.Info, rcpt, stage string) *smtpd.Reply {
	// RFC 5321 §4.1.1.3: "postmaster" is accepted without a domain.
	if strings.EqualFold(rcpt, "postmaster") {
		return nil
	}
	e := p.newEval(ctx, c, stage)
	e.recipient = rcpt
	return e.run(func() status { return e.rcptChecks() })
}

// CheckData implements smtpd.Policy (smtpd_data_restrictions).
func (p *Policy) CheckData(ctx context.Context, c *smtpd.Info) *smtpd.Reply {
	e := p.newEval(ctx, c, "DATA")
	return e.run(func() status { return e.finalChecks(p.data, "DATA", "Data command") })
}

// CheckEndOfData implements smtpd.Policy (smtpd_end_of_data_restrictions).
func (p *Policy) CheckEndOfData(ctx context.Context, c *smtpd.Info) *smtpd.Reply {
	e := p.newEval(ctx, c, "END-OF-MESSAGE")
	return e.run(func() status { return e.finalChecks(p.eod, "END-OF-MESSAGE", "End-of-data") })
}

// CheckAuth implements smtpd.Policy: smtpd_client_auth_rate_limit.
func (p *Policy) CheckAuth(ctx context.Context, c *smtpd.Info) *smtpd.Reply {
	if n, over := p.overLimit(ctx, c, anvil.AuthCommand, p.rates.auth); over {
		p.warnf("AUTH command rate limit exceeded: %d from %s for service %s", n, clientName(c), p.d.Service)
		return &smtpd.Reply{Code: 450, DSN: "4.7.1", Text: "Error: too many AUTH commands from " + c.Addr.String()}
	}
	return nil
}

// overLimit counts one event of kind for the client and tells whether it
// is over limit; clients in smtpd_client_event_limit_exceptions are
// neither counted nor limited.
func (p *Policy) overLimit(ctx context.Context, c *smtpd.Info, kind string, limit int) (int, bool) {
	if limit <= 0 || p.d.Anvil == nil {
		return 0, false
	}
	exempt, err := p.limitExceptions.Match(ctx, c.Addr)
	if err != nil {
		p.d.Log.Warn("smtpd_client_event_limit_exceptions lookup", "client", clientName(c), "err", err)
		return 0, false
	}
	if exempt {
		return 0, false
	}
	n := p.d.Anvil.Add(kind, c.Addr, 1, p.rates.unit)
	return n, n > limit
}

// warnf logs a mail log warning.
func (p *Policy) warnf(format string, args ...any) {
	if p.d.MailLog != nil {
		p.d.MailLog.Warning(format, args...)
	} else {
		p.d.Log.Warn(fmt.Sprintf(format, args...))
	}
}

// clientName is Postfix's namaddr: name[addr].
func clientName(c *smtpd.Info) string {
	return maillog.Client(c.Name, c.Addr.String())
}
