package restrict

import (
	"fmt"
	"strings"
)

// apply evaluates one restriction (Postfix's generic_checks body).
func (e *eval) apply(s step, replyName, replyClass string) status {
	p := e.p
	c := e.c
	if s.class != "" {
		if e.recursion > 100 {
			p.warnf("restriction class %s causes unreasonable recursion", s.class)
			return e.serverError()
		}
		return e.list(p.classes[s.class], replyName, replyClass)
	}
	switch s.name {
	case "permit":
		return permitted
	case "defer":
		return e.reject(p.codes.deferAll, "4.3.2", fmt.Sprintf("<%s>: %s rejected: Try again later", replyName, replyClass))
	case "reject":
		return e.reject(p.codes.rejectAll, "5.7.1", fmt.Sprintf("<%s>: %s rejected: Access denied", replyName, replyClass))
	case "defer_if_permit":
		return e.deferIfPermitOr(false, 450, "4.7.0", fmt.Sprintf("<%s>: %s rejected: defer_if_permit requested", replyName, replyClass))
	case "defer_if_reject":
		deferIf(&e.deferIfReject, 450, "4.7.0", fmt.Sprintf("<%s>: %s rejected: defer_if_reject requested", replyName, replyClass))
	case "reject_unauth_pipelining":
		if c.Pipelined {
			return e.reject(503, "5.5.0", fmt.Sprintf("<%s>: %s rejected: Improper use of SMTP command pipelining", replyName, replyClass))
		}
	case "reject_plaintext_session":
		if !c.TLS {
			return e.reject(p.codes.plaintext, "4.7.1", "Session encryption is required")
		}

	// Client restrictions.
	case "permit_mynetworks":
		ok, err := p.mynetworks.Match(e.ctx, c.Addr)
		if err != nil {
			return e.lookupFailed(replyName, err)
		}
		if ok {
			return permitted
		}
	case "permit_inet_interfaces":
		ok, err := p.d.Rewriter.IsLocal(e.ctx, clientLiteral(c.Addr))
		if err != nil {
			return e.lookupFailed(replyName, err)
		}
		if ok {
			return permitted
		}
	case "permit_sasl_authenticated":
		if c.SASLUser != "" {
			return permitted
		}
	case "permit_tls_clientcerts", "permit_tls_all_clientcerts":
		// Client certificates are not requested: never a match.
	case "reject_unknown_client_hostname", "reject_unknown_client":
		if c.Name == "" || strings.EqualFold(c.Name, "unknown") {
			return e.reject(p.codes.unknownClient, "4.7.25", "Client host rejected: cannot find your hostname, ["+c.Addr.String()+"]")
		}
	case "reject_unknown_reverse_client_hostname":
		return e.unknownReverse()
	case "check_client_access":
		st, _ := e.namAddrAccess(s, c.Name, c.Addr.Unmap().String(), clientName(c), "Client host")
		return st
	case "reject_rbl_client", "reject_rbl":
		return e.rblAddr(s, "Client host")
	case "permit_dnswl_client":
		return e.dnswlAddr(s)
	case "reject_rhsbl_client":
		if !unknownName(c.Name) {
			return e.rblDomain(s, c.Name, "Client host")
		}
	case "permit_rhswl_client":
		if !unknownName(c.Name) {
			return e.dnswlDomain(s, c.Name)
		}

	// HELO restrictions.
	case "check_helo_access":
		if e.helo != "" {
			st, _ := e.domainAccess(s, e.helo, e.helo, "Helo command")
			return st
		}
	case "reject_invalid_helo_hostname", "reject_invalid_hostname":
		if e.helo != "" {
			if e.helo[0] != '[' {
				return e.invalidHostname(e.helo)
			}
			return e.invalidHostaddr(e.helo)
		}
	case "reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname":
		if e.helo != "" {
			if e.helo[0] != '[' {
				return e.nonFQDNHostname(e.helo)
			}
			return e.invalidHostaddr(e.helo)
		}
	case "reject_unknown_helo_hostname", "reject_unknown_hostname":
		if e.helo != "" {
			if e.helo[0] != '[' {
				return e.unknownHostname(e.helo)
			}
			return e.invalidHostaddr(e.helo)
		}
	case "reject_rhsbl_helo":
		if e.helo != "" {
			return e.rblDomain(s, e.helo, "Helo command")
		}

	// Sender restrictions.
	case "check_sender_access":
		if e.inMail {
			if e.sender != "" {
				return e.mailAccess(s, e.sender, "Sender address")
			}
			st, _ := e.access(s, p.nullKey, false, e.sender, "Sender address")
			return st
		}
	case "reject_non_fqdn_sender":
		if e.inMail && e.sender != "" {
			return e.nonFQDNAddress(e.sender, "Sender address")
		}
	case "reject_unknown_sender_domain", "reject_unknown_address":
		if e.inMail && e.sender != "" {
			return e.unknownAddress(e.sender, "Sender address")
		}
	case "reject_unlisted_sender":
		if e.inMail && e.sender != "" {
			return e.senderRcptMaps()
		}
	case "reject_rhsbl_sender":
		if e.inMail && e.sender != "" {
			return e.rblDomain(s, e.sender, "Sender address")
		}
	case "reject_sender_login_mismatch":
		if st := e.loginMismatch(true, false); st != dunno {
			return st
		}
		return e.loginMismatch(false, false)
	case "reject_authenticated_sender_login_mismatch":
		return e.loginMismatch(true, false)
	case "reject_known_sender_login_mismatch":
		if e.c.SASLUser != "" {
			return e.loginMismatch(true, true)
		}
		return e.loginMismatch(false, false)
	case "reject_unauthenticated_sender_login_mismatch":
		return e.loginMismatch(false, false)

	// Recipient restrictions.
	case "check_recipient_access":
		if e.recipient != "" {
			return e.mailAccess(s, e.recipient, "Recipient address")
		}
	case "permit_auth_destination":
		if e.recipient != "" {
			ok, done := e.authDestination(e.recipient)
			if !done {
				return rejected
			}
			if ok {
				return permitted
			}
		}
	case "reject_unauth_destination", "defer_unauth_destination":
		if e.recipient != "" {
			ok, done := e.authDestination(e.recipient)
			if !done {
				return rejected
			}
			if !ok {
				code, dsn := p.codes.relay, "5.7.1"
				if s.name == "defer_unauth_destination" {
					code, dsn = p.codes.relay-100, "4.7.1"
				}
				return e.reject(code, dsn, "<"+e.recipient+">: Relay access denied")
			}
		}
	case "reject_non_fqdn_recipient":
		if e.recipient != "" {
			return e.nonFQDNAddress(e.recipient, "Recipient address")
		}
	case "reject_unknown_recipient_domain":
		if e.recipient != "" {
			return e.unknownAddress(e.recipient, "Recipient address")
		}
	case "reject_unlisted_recipient", "check_recipient_maps":
		if e.recipient != "" {
			return e.rcptRcptMaps()
		}
	case "reject_rhsbl_recipient":
		if e.recipient != "" {
			return e.rblDomain(s, e.recipient, "Recipient address")
		}
	}
	return dunno
}

func unknownName(name string) bool {
	return name == "" || strings.EqualFold(name, "unknown")
}

// loginMismatch implements reject_authenticated_sender_login_mismatch
// (authenticated) and reject_unauthenticated_sender_login_mismatch. Like
// Postfix, both are skipped when SMTP AUTH is off.
func (e *eval) loginMismatch(authenticated, allowUnknown bool) status {
	p := e.p
	if !p.saslEnabled {
		p.warnf("restriction `reject_sender_login_mismatch' ignored: no SASL support")
		return dunno
	}
	if p.loginMaps == nil || !e.inMail || e.sender == "" {
		return dunno
	}
	user := e.c.SASLUser
	if authenticated != (user != "") {
		return dunno
	}
	res, ok := e.resolve(e.sender)
	if !ok {
		return rejected
	}
	fr, found, err := findAddress(e.ctx, p.loginMaps, res.Recipient, p.d.Rewriter)
	if err != nil {
		return e.lookupFailed(e.sender, err)
	}
	if !authenticated {
		if found {
			return e.reject(553, "5.7.1", "<"+e.sender+">: Sender address rejected: not logged in")
		}
		return dunno
	}
	if !found {
		if allowUnknown {
			return dunno
		}
	} else {
		for _, owner := range splitList(fr) {
			if strings.EqualFold(owner, user) {
				return dunno
			}
		}
	}
	return e.reject(553, "5.7.1", "<"+e.sender+">: Sender address rejected: not owned by user "+user)
}
