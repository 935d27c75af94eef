package restrict

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailhorn/internal/smtpd"
)

// run plays CONNECT, EHLO, MAIL FROM and RCPT TO as smtpd does and returns
// the first rejection ("" if none) with the stage it came at.
func run(s *setup, c *smtpd.Info, helo, sender, rcpt string) (stage, got string) {
	ctx := context.Background()
	if r := s.p.CheckConnect(ctx, c); r != nil {
		return "CONNECT", reply(r)
	}
	if helo != "" {
		if r := s.p.CheckHelo(ctx, c, helo); r != nil {
			return "EHLO", reply(r)
		}
		c.Helo = helo
	}
	c.Sender = sender
	if r := s.p.CheckMail(ctx, c, sender); r != nil {
		return "MAIL", reply(r)
	}
	c.InMail = true
	if r := s.p.CheckRcpt(ctx, c, rcpt); r != nil {
		return "RCPT", reply(r)
	}
	c.Recipients = append(c.Recipients, rcpt)
	if r := s.p.CheckData(ctx, c); r != nil {
		return "DATA", reply(r)
	}
	if r := s.p.CheckEndOfData(ctx, c); r != nil {
		return "END-OF-MESSAGE", reply(r)
	}
	return "", ""
}

// Each restriction against Postfix 3.7's documented reply (the texts are
// those of src/smtpd/smtpd_check.c).
func TestRestrictions(t *testing.T) {
	const outside, inside = "198.51.100.7", "192.0.2.5"
	access := map[string]string{
		"client":  "198.51.100.7 REJECT go away\n198.51.100.8 550 5.7.0 custom text\n198.51.100 DEFER\nbad.example OK\n",
		"helo":    "bad.helo REJECT\n.sub.helo.test 450 4.7.1 slow down\nhelo.test DUNNO\n",
		"sender":  "spammer@example.org REJECT\nexample.net 554 5.1.1 no such sender\nuser@ DISCARD\n<> 550 no bounces\nwarnme@example.org WARN watch this\n",
		"rcpt":    "bob@example.test REJECT\ncarol+x@example.test OK\nheld@example.test HOLD\nredir@example.test REDIRECT carol@example.test\npre@example.test PREPEND X-Tag: yes\nclass@example.test strict\nlist@example.test reject_unauth_pipelining, permit\nbad@example.test no_such_restriction\ntbl@example.test hash:/etc/x\ndefer@example.test DEFER_IF_PERMIT please wait\n",
		"cidr":    "198.51.100.0/24 REJECT cidr says no\n",
		"logins":  "alice@example.org alice, alicia\nshared@example.org bob\n",
		"rblmaps": "rbl.test 521 5.7.1 custom reply for $client_address ($rbl_reason)\n",
	}
	type tc struct {
		name   string
		conf   string
		setup  func(c *smtpd.Info)
		addr   string
		helo   string
		sender string
		rcpt   string
		stage  string
		want   string
	}
	cases := []tc{
		// Generic restrictions.
		{name: "default relay restrictions refuse relaying", rcpt: "x@example.com", stage: "RCPT", want: "554 5.7.1 <x@example.com>: Relay access denied"},
		{name: "mynetworks may relay", addr: inside, rcpt: "x@example.com"},
		{name: "local recipient accepted", rcpt: "bob@example.test"},
		{name: "unknown local recipient", rcpt: "nobody@example.test", stage: "RCPT", want: "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table"},
		{name: "postmaster always", rcpt: "postmaster", conf: "smtpd_recipient_restrictions = reject"},
		{name: "relay domain", rcpt: "x@relay.test"},
		{name: "percent hack not relayed", rcpt: "x%example.com@example.test", stage: "RCPT", want: "554 5.7.1 <x%example.com@example.test>: Relay access denied"},
		{name: "reject", conf: "smtpd_client_restrictions = reject", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"},
		{name: "defer", conf: "smtpd_helo_restrictions = defer", helo: "h.test", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.3.2 <h.test>: Helo command rejected: Try again later"},
		{name: "defer_unauth_destination", conf: "smtpd_relay_restrictions = permit_mynetworks defer_unauth_destination", rcpt: "x@example.com", stage: "RCPT", want: "454 4.7.1 <x@example.com>: Relay access denied"},
		{name: "permit ends its own list only", conf: "smtpd_relay_restrictions = permit\nsmtpd_recipient_restrictions = reject_unauth_destination", rcpt: "x@example.com", stage: "RCPT", want: "554 5.7.1 <x@example.com>: Relay access denied"},
		{name: "permit ends its list", conf: "smtpd_recipient_restrictions = permit, reject", rcpt: "bob@example.test"},
		{name: "permit_sasl_authenticated", setup: func(c *smtpd.Info) { c.SASLUser = "alice" }, rcpt: "x@example.com"},
		{name: "permit_auth_destination", conf: "smtpd_relay_restrictions = permit_auth_destination, reject", rcpt: "bob@example.test"},
		{name: "reject_unauth_pipelining", conf: "smtpd_data_restrictions = reject_unauth_pipelining", setup: func(c *smtpd.Info) { c.Pipelined = true }, rcpt: "bob@example.test", stage: "DATA", want: "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"},
		{name: "defer_if_permit restriction", conf: "smtpd_sender_restrictions = defer_if_permit", sender: "a@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.0 <a@example.org>: Sender address rejected: defer_if_permit requested"},
		{name: "defer_if_reject turns a later reject into 450", conf: "smtpd_recipient_restrictions = defer_if_reject, reject", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.0 <bob@example.test>: Recipient address rejected: defer_if_reject requested"},
		{name: "defer_if_reject ends with its list", conf: "smtpd_sender_restrictions = defer_if_reject\nsmtpd_recipient_restrictions = reject", sender: "a@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <bob@example.test>: Recipient address rejected: Access denied"},

		// Client restrictions.
		{name: "check_client_access REJECT text", conf: "smtpd_client_restrictions = check_client_access texthash:@DIR@/client", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: go away"},
		{name: "check_client_access code and DSN", addr: "198.51.100.8", conf: "smtpd_client_restrictions = check_client_access texthash:@DIR@/client", rcpt: "bob@example.test", stage: "RCPT", want: "550 5.7.0 <unknown[198.51.100.8]>: Client host rejected: custom text"},
		{name: "check_client_access network prefix", addr: "198.51.100.9", conf: "smtpd_client_restrictions = check_client_access texthash:@DIR@/client", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.1 <unknown[198.51.100.9]>: Client host rejected: Access denied"},
		{name: "check_client_access parent domain of name", addr: "198.51.100.7", setup: func(c *smtpd.Info) { c.Name = "host.bad.example" }, conf: "smtpd_client_restrictions = check_client_access texthash:@DIR@/client, reject", rcpt: "bob@example.test"},
		{name: "implicit client table (cidr)", conf: "smtpd_client_restrictions = cidr:@DIR@/cidr", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: cidr says no"},
		{name: "reject_unknown_client_hostname", conf: "smtpd_client_restrictions = reject_unknown_client_hostname", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]"},
		{name: "reject_unknown_reverse_client_hostname", conf: "smtpd_client_restrictions = reject_unknown_reverse_client_hostname", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.7]"},
		{name: "reverse name present", addr: "192.0.2.20", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = reject_unknown_reverse_client_hostname", rcpt: "bob@example.test"},
		{name: "reject_rbl_client default reply with TXT", addr: "192.0.2.66", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = reject_rbl_client rbl.test", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 Service unavailable; Client host [192.0.2.66] blocked using rbl.test; listed for spam / see http://rbl.test/"},
		{name: "reject_rbl_client filter mismatch", addr: "192.0.2.67", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = reject_rbl_client rbl.test=127.0.0.2", rcpt: "bob@example.test"},
		{name: "reject_rbl_client filter set", addr: "192.0.2.67", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = reject_rbl_client rbl.test=127.0.0.[3..5]", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 Service unavailable; Client host [192.0.2.67] blocked using rbl.test"},
		{name: "rbl_reply_maps", addr: "192.0.2.66", conf: "mynetworks = 127.0.0.0/8\nrbl_reply_maps = texthash:@DIR@/rblmaps\nsmtpd_client_restrictions = reject_rbl_client rbl.test", rcpt: "bob@example.test", stage: "RCPT", want: "521 5.7.1 custom reply for 192.0.2.66 (listed for spam / see http://rbl.test/)"},
		{name: "permit_dnswl_client", addr: "192.0.2.10", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = permit_dnswl_client wl.test, reject", rcpt: "bob@example.test"},
		{name: "permit_dnswl_client never permits relaying", addr: "192.0.2.10", conf: "mynetworks = 127.0.0.0/8\nsmtpd_relay_restrictions = permit_dnswl_client wl.test, reject_unauth_destination", rcpt: "x@example.com", stage: "RCPT", want: "554 5.7.1 <x@example.com>: Relay access denied"},
		{name: "permit_dnswl_client tempfail defers a later reject", addr: "192.0.2.11", conf: "mynetworks = 127.0.0.0/8\nsmtpd_client_restrictions = permit_dnswl_client wl.test, reject", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.1 <192.0.2.11>: Client host rejected: Service unavailable"},
		{name: "reject_rhsbl_client", setup: func(c *smtpd.Info) { c.Name = "spammer.test" }, conf: "smtpd_client_restrictions = reject_rhsbl_client rhsbl.test", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 Service unavailable; Client host [spammer.test] blocked using rhsbl.test"},

		// HELO restrictions.
		{name: "check_helo_access", conf: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo", helo: "bad.helo", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <bad.helo>: Helo command rejected: Access denied"},
		{name: "check_helo_access .domain without smtpd_access_maps in parent_domain_matches_subdomains", conf: "parent_domain_matches_subdomains =\nsmtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo", helo: "a.sub.helo.test", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.1 <a.sub.helo.test>: Helo command rejected: slow down"},
		{name: "reject_invalid_helo_hostname", conf: "smtpd_helo_restrictions = reject_invalid_helo_hostname", helo: "bad_host!", rcpt: "bob@example.test", stage: "RCPT", want: "501 5.5.2 <bad_host!>: Helo command rejected: Invalid name"},
		{name: "reject_invalid_helo_hostname literal", conf: "smtpd_helo_restrictions = reject_invalid_helo_hostname", helo: "[1.2.3]", rcpt: "bob@example.test", stage: "RCPT", want: "501 5.5.2 <[1.2.3]>: Helo command rejected: invalid ip address"},
		{name: "reject_non_fqdn_helo_hostname", conf: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", helo: "localbox", rcpt: "bob@example.test", stage: "RCPT", want: "504 5.5.2 <localbox>: Helo command rejected: need fully-qualified hostname"},
		{name: "fqdn helo with trailing dot", conf: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", helo: "box.example.test.", rcpt: "bob@example.test"},
		{name: "reject_unknown_helo_hostname", conf: "smtpd_helo_restrictions = reject_unknown_helo_hostname", helo: "nx.example.test", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.7.1 <nx.example.test>: Helo command rejected: Host not found"},
		{name: "known helo hostname", conf: "smtpd_helo_restrictions = reject_unknown_helo_hostname", helo: "helo.example.test", rcpt: "bob@example.test"},

		// Sender restrictions.
		{name: "check_sender_access full address", conf: "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/sender", sender: "spammer@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <spammer@example.org>: Sender address rejected: Access denied"},
		{name: "check_sender_access parent domain with DSN fixed for sender", conf: "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/sender", sender: "x@sub.example.net", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.1.0 <x@sub.example.net>: Sender address rejected: no such sender"},
		{name: "check_sender_access null sender key", conf: "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/sender", sender: "", rcpt: "bob@example.test", stage: "RCPT", want: "550 5.7.1 <>: Sender address rejected: no bounces"},
		{name: "reject_non_fqdn_sender", conf: "smtpd_sender_restrictions = reject_non_fqdn_sender", sender: "joe@localhost", rcpt: "bob@example.test", stage: "RCPT", want: "504 5.5.2 <joe@localhost>: Sender address rejected: need fully-qualified address"},
		{name: "reject_unknown_sender_domain", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain", sender: "joe@nx.test", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.1.8 <joe@nx.test>: Sender address rejected: Domain not found"},
		{name: "reject_unknown_sender_domain with A only", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain", sender: "joe@a-only.test", rcpt: "bob@example.test"},
		{name: "unknown_address_reject_code", conf: "unknown_address_reject_code = 550\nsmtpd_sender_restrictions = reject_unknown_sender_domain", sender: "joe@nx.test", rcpt: "bob@example.test", stage: "RCPT", want: "550 5.1.8 <joe@nx.test>: Sender address rejected: Domain not found"},
		{name: "sender domain tempfail is defer_if_permit", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain", sender: "joe@tempfail.test", rcpt: "bob@example.test", stage: "RCPT", want: "450 4.1.8 <joe@tempfail.test>: Sender address rejected: Domain not found"},
		{name: "defer_if_permit from tempfail yields to a reject", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\nsmtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", sender: "joe@tempfail.test", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <bob@example.test>: Recipient address rejected: Access denied"},
		{name: "null MX sender", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain", sender: "joe@nullmx.test", rcpt: "bob@example.test", stage: "RCPT", want: "550 5.7.27 <joe@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)"},
		{name: "reject_unlisted_sender", conf: "smtpd_sender_restrictions = reject_unlisted_sender", sender: "nobody@example.test", rcpt: "bob@example.test", stage: "RCPT", want: "550 5.1.0 <nobody@example.test>: Sender address rejected: User unknown in local recipient table"},
		{name: "reject_rhsbl_sender", conf: "smtpd_sender_restrictions = reject_rhsbl_sender rhsbl.test", sender: "x@spammer.test", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 Service unavailable; Sender address [x@spammer.test] blocked using rhsbl.test"},

		// Recipient restrictions.
		{name: "check_recipient_access REJECT", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <bob@example.test>: Recipient address rejected: Access denied"},
		{name: "check_recipient_access extension then base", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt, reject", rcpt: "carol+x@example.test"},
		{name: "reject_non_fqdn_recipient", conf: "smtpd_recipient_restrictions = reject_non_fqdn_recipient", addr: inside, rcpt: "joe@box", stage: "RCPT", want: "504 5.5.2 <joe@box>: Recipient address rejected: need fully-qualified address"},
		{name: "reject_unknown_recipient_domain", conf: "smtpd_recipient_restrictions = reject_unknown_recipient_domain", addr: inside, rcpt: "joe@nx.test", stage: "RCPT", want: "450 4.1.2 <joe@nx.test>: Recipient address rejected: Domain not found"},
		{name: "known recipient domain (MX)", conf: "smtpd_recipient_restrictions = reject_unknown_recipient_domain", addr: inside, rcpt: "joe@example.org"},
		{name: "reject_unlisted_recipient explicit", conf: "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_unlisted_recipient", rcpt: "nobody@example.test", stage: "RCPT", want: "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in local recipient table"},
		{name: "unlisted recipient check off", conf: "smtpd_reject_unlisted_recipient = no", rcpt: "nobody@example.test"},

		// Access table results.
		{name: "restriction class as result", conf: "smtpd_restriction_classes = strict\nstrict = reject_unknown_client_hostname\nsmtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", rcpt: "class@example.test", stage: "RCPT", want: "450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]"},
		{name: "restriction class by name", conf: "smtpd_restriction_classes = strict\nstrict = reject\nsmtpd_sender_restrictions = strict", sender: "a@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <a@example.org>: Sender address rejected: Access denied"},
		{name: "list of restrictions as result", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt, reject", setup: func(c *smtpd.Info) { c.Pipelined = true }, rcpt: "list@example.test", stage: "RCPT", want: "503 5.5.0 <list@example.test>: Recipient address rejected: Improper use of SMTP command pipelining"},
		{name: "unknown restriction in result", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", rcpt: "bad@example.test", stage: "RCPT", want: "451 4.3.5 Server configuration error"},
		{name: "table in result", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", rcpt: "tbl@example.test", stage: "RCPT", want: "451 4.3.5 Server configuration error"},
		{name: "DEFER_IF_PERMIT result", conf: "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt", rcpt: "defer@example.test", stage: "RCPT", want: "450 4.7.1 <defer@example.test>: Recipient address rejected: please wait"},
		{name: "DISCARD ends the evaluation", conf: "smtpd_sender_restrictions = check_sender_access texthash:@DIR@/sender\nsmtpd_recipient_restrictions = reject", sender: "user@example.org", rcpt: "nobody@example.test"},

		// Sender login checks.
		{name: "login mismatch: not owned", conf: "smtpd_sasl_auth_enable = yes\nsmtpd_sender_login_maps = texthash:@DIR@/logins\nsmtpd_sender_restrictions = reject_sender_login_mismatch", setup: func(c *smtpd.Info) { c.SASLUser = "mallory" }, sender: "alice@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "553 5.7.1 <alice@example.org>: Sender address rejected: not owned by user mallory"},
		{name: "login mismatch: owner", conf: "smtpd_sasl_auth_enable = yes\nsmtpd_sender_login_maps = texthash:@DIR@/logins\nsmtpd_sender_restrictions = reject_sender_login_mismatch", setup: func(c *smtpd.Info) { c.SASLUser = "Alicia" }, sender: "alice@example.org", rcpt: "bob@example.test"},
		{name: "login mismatch: unlisted sender when authenticated", conf: "smtpd_sasl_auth_enable = yes\nsmtpd_sender_login_maps = texthash:@DIR@/logins\nsmtpd_sender_restrictions = reject_authenticated_sender_login_mismatch", setup: func(c *smtpd.Info) { c.SASLUser = "alice" }, sender: "other@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "553 5.7.1 <other@example.org>: Sender address rejected: not owned by user alice"},
		{name: "login mismatch: not logged in", conf: "smtpd_sasl_auth_enable = yes\nsmtpd_sender_login_maps = texthash:@DIR@/logins\nsmtpd_sender_restrictions = reject_unauthenticated_sender_login_mismatch", sender: "shared@example.org", rcpt: "bob@example.test", stage: "RCPT", want: "553 5.7.1 <shared@example.org>: Sender address rejected: not logged in"},
		{name: "login mismatch ignored without SASL", conf: "smtpd_sender_login_maps = texthash:@DIR@/logins\nsmtpd_sender_restrictions = reject_sender_login_mismatch", sender: "shared@example.org", rcpt: "bob@example.test"},

		// smtpd_delay_reject = no: rejections at their own stage.
		{name: "no delay: client reject at CONNECT", conf: "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject", rcpt: "bob@example.test", stage: "CONNECT", want: "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"},
		{name: "no delay: helo reject at EHLO", conf: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname", helo: "box", rcpt: "bob@example.test", stage: "EHLO", want: "504 5.5.2 <box>: Helo command rejected: need fully-qualified hostname"},
		{name: "no delay: sender reject at MAIL", conf: "smtpd_delay_reject = no\nsmtpd_sender_restrictions = reject_non_fqdn_sender", sender: "a@box", rcpt: "bob@example.test", stage: "MAIL", want: "504 5.5.2 <a@box>: Sender address rejected: need fully-qualified address"},

		// warn_if_reject.
		{name: "warn_if_reject", conf: "smtpd_client_restrictions = warn_if_reject reject_unknown_client_hostname", rcpt: "bob@example.test"},
		{name: "warn_if_reject covers only the next", conf: "smtpd_client_restrictions = warn_if_reject reject_unknown_client_hostname, reject", rcpt: "bob@example.test", stage: "RCPT", want: "554 5.7.1 <unknown[198.51.100.7]>: Client host rejected: Access denied"},

		// DATA and END-OF-DATA.
		{name: "data restrictions", conf: "smtpd_data_restrictions = reject", rcpt: "bob@example.test", stage: "DATA", want: "554 5.7.1 <DATA>: Data command rejected: Access denied"},
		{name: "end-of-data restrictions", conf: "smtpd_end_of_data_restrictions = reject_plaintext_session", rcpt: "bob@example.test", stage: "END-OF-MESSAGE", want: "450 4.7.1 Session encryption is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, c.conf, access)
			addr := c.addr
			if addr == "" {
				addr = outside
			}
			info := client(addr)
			if c.setup != nil {
				c.setup(info)
			}
			stage, got := run(s, info, c.helo, c.sender, c.rcpt)
			if got != c.want || (c.want != "" && stage != c.stage) {
				t.Errorf("got %s %q, want %s %q\nlog:\n%s", stage, got, c.stage, c.want, s.log)
			}
		})
	}
}

// Actions recorded for cleanup and the log lines Postfix writes for them.
func TestActionsAndLogs(t *testing.T) {
	files := map[string]string{
		"rcpt":   "held@example.test HOLD\nredir@example.test REDIRECT carol@example.test\npre@example.test PREPEND X-Tag: yes\nbadpre@example.test PREPEND no header\nwarn@example.test WARN be careful\ninfo@example.test INFO noted\n",
		"sender": "user@ DISCARD\n",
	}
	s := newSetup(t, "smtpd_recipient_restrictions = check_recipient_access texthash:@DIR@/rcpt\nsmtpd_sender_restrictions = check_sender_access texthash:@DIR@/sender\nlocal_recipient_maps =", files)
	ctx := context.Background()
	c := client("198.51.100.7")
	c.Helo, c.Sender, c.InMail = "client.test", "joe@example.org", true
	for _, r := range []string{"held@example.test", "redir@example.test", "pre@example.test", "badpre@example.test", "warn@example.test", "info@example.test"} {
		if rep := s.p.CheckRcpt(ctx, c, r); rep != nil {
			t.Errorf("%s: %v", r, rep)
		}
	}
	want := smtpd.Actions{Hold: "<held@example.test>: Recipient address triggers HOLD action", Redirect: "carol@example.test", Prepend: []string{"X-Tag: yes"}}
	if c.Actions.Hold != want.Hold || c.Actions.Redirect != want.Redirect || strings.Join(c.Actions.Prepend, "|") != "X-Tag: yes" {
		t.Errorf("actions %+v, want %+v", c.Actions, want)
	}
	log := s.log.String()
	for _, line := range []string{
		"NOQUEUE: hold: RCPT from unknown[198.51.100.7]: <held@example.test>: Recipient address triggers HOLD action; from=<joe@example.org> to=<held@example.test> proto=ESMTP helo=<client.test>",
		"NOQUEUE: redirect: RCPT from unknown[198.51.100.7]: <redir@example.test>: Recipient address triggers REDIRECT carol@example.test; from=<joe@example.org> to=<redir@example.test> proto=ESMTP helo=<client.test>",
		"NOQUEUE: warn: RCPT from unknown[198.51.100.7]: be careful; from=<joe@example.org> to=<warn@example.test> proto=ESMTP helo=<client.test>",
		"NOQUEUE: info: RCPT from unknown[198.51.100.7]: noted;",
		`warning: access table texthash:` + s.dir + `/rcpt entry "PREPEND no header" requires header: text`,
	} {
		if !strings.Contains(log, line) {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}

	// DISCARD from the sender restrictions: the recipient checks are
	// skipped (nobody@ would be relayed otherwise).
	c2 := client("198.51.100.7")
	c2.Helo, c2.Sender, c2.InMail = "client.test", "user@example.org", true
	if rep := s.p.CheckRcpt(ctx, c2, "nobody@example.com"); rep != nil {
		t.Errorf("after DISCARD: %v", rep)
	}
	if c2.Actions.Discard != "<user@example.org>: Sender address triggers DISCARD action" {
		t.Errorf("discard %q", c2.Actions.Discard)
	}
	if !strings.Contains(s.log.String(), "NOQUEUE: discard: RCPT from unknown[198.51.100.7]: <user@example.org>: Sender address triggers DISCARD action; from=<user@example.org> to=<nobody@example.com>") {
		t.Errorf("no discard line:\n%s", s.log)
	}
}

func TestWarnIfRejectLog(t *testing.T) {
	s := newSetup(t, "smtpd_client_restrictions = warn_if_reject reject_unknown_client_hostname", nil)
	c := client("198.51.100.7")
	c.Helo, c.Sender, c.InMail = "client.test", "joe@example.org", true
	if r := s.p.CheckRcpt(context.Background(), c, "bob@example.test"); r != nil {
		t.Fatalf("warn_if_reject rejected: %v", r)
	}
	want := "NOQUEUE: reject_warning: RCPT from unknown[198.51.100.7]: 450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.7]; from=<joe@example.org> to=<bob@example.test> proto=ESMTP helo=<client.test>"
	if !strings.Contains(s.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, s.log)
	}
}

// Rate limits with anvil, exempt clients, and the reset after the window.
func TestRateLimits(t *testing.T) {
	s := newSetup(t, `smtpd_client_connection_rate_limit = 2
smtpd_client_message_rate_limit = 1
smtpd_client_recipient_rate_limit = 2
smtpd_client_auth_rate_limit = 1
smtpd_client_event_limit_exceptions = 192.0.2.0/28`, nil)
	ctx := context.Background()
	c := client("198.51.100.7")
	for i, want := range []string{"", "", "421 4.7.0 mx.example.test Error: too many connections from 198.51.100.7"} {
		if got := reply(s.p.CheckConnect(ctx, c)); got != want {
			t.Errorf("connect %d: %q, want %q", i+1, got, want)
		}
	}
	for i, want := range []string{"", "450 4.7.1 Error: too much mail from 198.51.100.7"} {
		if got := reply(s.p.CheckMail(ctx, c, "a@example.org")); got != want {
			t.Errorf("mail %d: %q, want %q", i+1, got, want)
		}
	}
	c.InMail = true
	for i, want := range []string{"", "", "450 4.7.1 Error: too many recipients from 198.51.100.7"} {
		if got := reply(s.p.CheckRcpt(ctx, c, "bob@example.test")); got != want {
			t.Errorf("rcpt %d: %q, want %q", i+1, got, want)
		}
	}
	for i, want := range []string{"", "450 4.7.1 Error: too many AUTH commands from 198.51.100.7"} {
		if got := reply(s.p.CheckAuth(ctx, c)); got != want {
			t.Errorf("auth %d: %q, want %q", i+1, got, want)
		}
	}
	if !strings.Contains(s.log.String(), "warning: Connection rate limit exceeded: 3 from unknown[198.51.100.7] for service smtp") ||
		!strings.Contains(s.log.String(), "warning: AUTH command rate limit exceeded: 2 from unknown[198.51.100.7] for service smtp") {
		t.Errorf("log:\n%s", s.log)
	}
	exempt := client("192.0.2.5")
	for i := 0; i < 5; i++ {
		if r := s.p.CheckConnect(ctx, exempt); r != nil {
			t.Fatalf("exempt client limited: %v", r)
		}
	}
	*s.clock = s.clock.Add(61 * time.Second)
	if r := s.p.CheckConnect(ctx, c); r != nil {
		t.Errorf("after anvil_rate_time_unit: %v", r)
	}
}

func TestLocalHeaderRewrite(t *testing.T) {
	for _, tc := range []struct {
		conf string
		addr string
		sasl string
		want bool
	}{
		{"local_header_rewrite_clients = permit_inet_interfaces", "192.0.2.254", "", true},
		{"local_header_rewrite_clients = permit_inet_interfaces", "192.0.2.5", "", false},
		{"local_header_rewrite_clients = permit_mynetworks", "192.0.2.5", "", true},
		{"local_header_rewrite_clients = permit_inet_interfaces permit_sasl_authenticated", "198.51.100.7", "alice", true},
		{"local_header_rewrite_clients = static:all", "198.51.100.7", "", true},
		{"local_header_rewrite_clients = check_address_map inline:{198.51.100.8=yes}", "198.51.100.7", "", false},
	} {
		s := newSetup(t, tc.conf, nil)
		c := client(tc.addr)
		c.SASLUser = tc.sasl
		if got := s.p.LocalHeaderRewrite(context.Background(), c); got != tc.want {
			t.Errorf("%s, client %s sasl %q: %v, want %v", tc.conf, tc.addr, tc.sasl, got, tc.want)
		}
	}
}

// Configuration mistakes are errors naming the parameter.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"smtpd_client_restrictions = reject_everything", `smtpd_client_restrictions: unknown restriction "reject_everything"`},
		{"smtpd_sender_restrictions = check_sender_access", "smtpd_sender_restrictions: check_sender_access needs a type:table argument"},
		{"smtpd_client_restrictions = reject_rbl_client", "smtpd_client_restrictions: reject_rbl_client needs a domain name argument"},
		{"smtpd_client_restrictions = reject_rbl_client rbl.test=127.0.0.300", "bad octet"},
		{"smtpd_data_restrictions = hash:/etc/x", "smtpd_data_restrictions: specify one of"},
		{"smtpd_relay_restrictions = permit_mynetworks\nsmtpd_recipient_restrictions = permit_sasl_authenticated", "open relay"},
		{"smtpd_restriction_classes = empty_class", `restriction class "empty_class" needs a definition`},
		{"local_header_rewrite_clients = permit_everyone", `local_header_rewrite_clients: invalid request "permit_everyone"`},
	} {
		_, err := trySetup(t, tc.conf, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.conf, err, tc.want)
		}
	}
}
