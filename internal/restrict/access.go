package restrict

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/maps"
	"mailhorn/internal/rewrite"
)

// access looks one key up in an access table and applies the result;
// partial keys are not looked up in pattern tables (regexp, cidr), as
// Postfix's DICT_FLAG_FIXED lookups. found tells whether the key matched.
func (e *eval) access(s step, key string, partial bool, replyName, replyClass string) (st status, found bool) {
	if partial && maps.IsPattern(s.table) {
		return dunno, false
	}
	v, ok, err := s.table.Lookup(e.ctx, strings.ToLower(key))
	if err != nil {
		e.p.warnf("%s: table lookup problem for %s: %v", s.spec, key, err)
		return e.tableResult(s, "451 4.3.5 Server configuration error", replyName, replyClass), true
	}
	if !ok {
		return dunno, false
	}
	return e.tableResult(s, v, replyName, replyClass), true
}

// domainAccess looks a host name up, then its parent domains ("example.com"
// or ".example.com" per parent_domain_matches_subdomains); a numeric
// address is looked up alone.
func (e *eval) domainAccess(s step, domain, replyName, replyClass string) (status, bool) {
	return e.walkDomain(s, domain, false, validHostaddr(domain), replyName, replyClass)
}

// walkDomain looks domain up, then each parent domain, as partial
// lookups after the first unless partial is already set; alone stops after
// the first lookup.
func (e *eval) walkDomain(s step, domain string, partial, alone bool, replyName, replyClass string) (status, bool) {
	name := strings.ToLower(domain)
	for ; name != ""; partial = true {
		if st, found := e.access(s, name, partial, replyName, replyClass); found || st != dunno {
			return st, true
		}
		if alone {
			break
		}
		i := strings.IndexByte(name[1:], '.')
		if i < 0 {
			break
		}
		name = name[1+i:]
		if e.p.parentStyle {
			name = name[1:]
		}
	}
	return dunno, false
}

// addrAccess looks an address up, then its networks: 192.0.2.1, 192.0.2,
// 192.0, 192 (":" separated for IPv6).
func (e *eval) addrAccess(s step, addr, replyName, replyClass string) (status, bool) {
	delim := "."
	if strings.Contains(addr, ":") {
		delim = ":"
	}
	for partial := false; ; partial = true {
		if st, found := e.access(s, addr, partial, replyName, replyClass); found || st != dunno {
			return st, true
		}
		i := strings.LastIndex(addr, delim)
		if i < 0 {
			return dunno, false
		}
		addr = addr[:i]
	}
}

// namAddrAccess is check_client_access: the host name and its parents,
// then the address and its networks.
func (e *eval) namAddrAccess(s step, name, addr, replyName, replyClass string) (status, bool) {
	if st, found := e.domainAccess(s, name, replyName, replyClass); found || st != dunno {
		return st, found
	}
	return e.addrAccess(s, addr, replyName, replyClass)
}

// mailAccess is check_sender_access and check_recipient_access: the
// resolved address is looked up as user+ext@domain, user@domain, domain
// (and parent domains), user+ext@, user@ (access(5)).
func (e *eval) mailAccess(s step, addr, replyClass string) status {
	res, ok := e.resolve(addr)
	if !ok {
		return rejected
	}
	full := res.Recipient
	local, domain, hasAt := address.SplitInternal(full)
	if !hasAt {
		e.p.warnf("check_mail_access: no @domain in address: %s", full)
		return dunno
	}
	fo := e.p.d.Rewriter.FindOptions()
	base, ext := maps.SplitExtension(local, fo.Delimiters, fo.DoubleBounce)
	suspicious := replyClass == "Recipient address" && !e.p.allowUntrustedRouting && res.Flags&rewrite.FlagRouted != 0
	result := func(st status) status {
		if st == permitted && suspicious {
			return dunno
		}
		return st
	}
	keys := []string{full}
	if ext != "" {
		keys = append(keys, base+"@"+domain)
	}
	for i, k := range keys {
		if st, found := e.access(s, k, i > 0, addr, replyClass); found || st != dunno {
			return result(st)
		}
	}
	if st, found := e.walkDomain(s, domain, true, false, addr, replyClass); found || st != dunno {
		return result(st)
	}
	keys = []string{local + "@"}
	if ext != "" {
		keys = append(keys, base+"@")
	}
	for _, k := range keys {
		if st, found := e.access(s, k, true, addr, replyClass); found || st != dunno {
			return result(st)
		}
	}
	return dunno
}

// tableResult is Postfix's check_table_result: an access(5) action.
func (e *eval) tableResult(s step, value, replyName, replyClass string) status {
	p := e.p
	cmd, text, _ := strings.Cut(value, " ")
	if i := strings.IndexByte(cmd, '\t'); i >= 0 {
		cmd, text = cmd[:i], cmd[i+1:]+" "+text
	}
	text = strings.TrimLeft(text, " \t")
	text = strings.TrimRight(text, " \t")
	what := func(def string) string {
		if text == "" {
			return fmt.Sprintf("<%s>: %s %s", replyName, replyClass, def)
		}
		return fmt.Sprintf("<%s>: %s %s", replyName, replyClass, text)
	}
	switch strings.ToUpper(cmd) {
	case "DUNNO":
		return dunno
	case "REJECT", "DEFER":
		code, def := p.codes.accessReject, "5.7.1"
		if strings.EqualFold(cmd, "DEFER") {
			code, def = p.codes.accessDefer, "4.7.1"
		}
		dsn, t := dsnSplit(def, text)
		if t == "" {
			t = "Access denied"
		}
		return e.reject(code, dsnFix(dsn, replyClass), fmt.Sprintf("<%s>: %s rejected: %s", replyName, replyClass, t))
	case "INFO":
		e.logAction("info", text)
		return dunno
	case "WARN":
		e.logAction("warn", text)
		return dunno
	case "FILTER", "BCC", "HANGUP":
		p.warnf("access table %s: action %s is not supported; ignored", s.spec, strings.ToUpper(cmd))
		return dunno
	case "HOLD":
		if !e.canDelegate(s, "HOLD") || e.c.Actions.Hold != "" {
			return dunno
		}
		t := what("triggers HOLD action")
		e.logAction("hold", t)
		e.c.Actions.Hold = t
		return dunno
	case "DISCARD":
		if !e.canDelegate(s, "DISCARD") {
			return dunno
		}
		t := what("triggers DISCARD action")
		e.logAction("discard", t)
		e.c.Actions.Discard = t
		return permitted
	case "REDIRECT":
		if !e.canDelegate(s, "REDIRECT") {
			return dunno
		}
		if !strings.Contains(text, "@") {
			p.warnf("access table %s entry %q requires user@domain target", s.spec, value)
			return dunno
		}
		e.logAction("redirect", fmt.Sprintf("<%s>: %s triggers REDIRECT %s", replyName, replyClass, text))
		e.c.Actions.Redirect = text
		return dunno
	case "DEFER_IF_PERMIT", "DEFER_IF_REJECT":
		dsn, t := dsnSplit("4.7.1", text)
		if t == "" {
			t = "Service unavailable"
		}
		msg := fmt.Sprintf("<%s>: %s rejected: %s", replyName, replyClass, t)
		if strings.EqualFold(cmd, "DEFER_IF_PERMIT") {
			return e.deferIfPermitOr(false, p.codes.accessDefer, dsnFix(dsn, replyClass), msg)
		}
		deferIf(&e.deferIfReject, p.codes.accessDefer, dsnFix(dsn, replyClass), msg)
		return dunno
	case "PREPEND":
		if !e.notInClientHelo(s, "PREPEND") {
			return dunno
		}
		if e.stage == "END-OF-MESSAGE" {
			p.warnf("access table %s: action PREPEND must be used before smtpd_end_of_data_restrictions", s.spec)
			return dunno
		}
		if text == "" || cleanup.HeaderName([]byte(text)) == "" {
			p.warnf("access table %s entry %q requires header: text", s.spec, value)
			return dunno
		}
		e.c.Actions.Prepend = append(e.c.Actions.Prepend, text)
		return dunno
	case "OK", "RELAY":
		return permitted
	}
	if allDigits(value) {
		return permitted
	}
	if len(cmd) == 3 && text != "" && (cmd[0] == '4' || cmd[0] == '5') && allDigits(cmd) {
		var code int
		fmt.Sscan(cmd, &code)
		dsn, t := dsnSplit(cmd[:1]+".7.1", text)
		if t == "" {
			t = "Access denied"
		}
		return e.reject(code, dsnFix(dsn, replyClass), fmt.Sprintf("<%s>: %s rejected: %s", replyName, replyClass, t))
	}
	if strings.Contains(value, ":") {
		p.warnf("access table %s has entry with lookup table: %s", s.spec, value)
		p.warnf("do not specify lookup tables inside SMTPD access maps")
		p.warnf("define a restriction class and specify its name instead.")
		return e.serverError()
	}
	if e.recursion > 100 {
		p.warnf("access table %s entry %s causes unreasonable recursion", s.spec, value)
		return e.serverError()
	}
	list := splitList(value)
	if len(list) == 0 {
		p.warnf("access table %s entry %s has empty value", s.spec, value)
		return permitted
	}
	steps, err := p.results.parse(list, "recipient")
	if err != nil {
		p.warnf("access table %s: %v", s.spec, err)
		return e.serverError()
	}
	return e.list(steps, replyName, replyClass)
}

// canDelegate tells whether a cleanup action (HOLD, DISCARD, REDIRECT)
// can apply here: only within a mail transaction.
func (e *eval) canDelegate(s step, action string) bool {
	return e.notInClientHelo(s, action)
}

func (e *eval) notInClientHelo(s step, action string) bool {
	if !e.inMail {
		e.p.warnf("access table %s: with smtpd_delay_reject=no, action %s is always skipped in Client host or Helo command restrictions", s.spec, action)
		return false
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// findAddress looks an address up the way mail_addr_find does.
func findAddress(ctx context.Context, t maps.Table, addr string, rw *rewrite.Rewriter) (string, bool, error) {
	fr, ok, err := maps.FindAddress(ctx, t, addr, rw.FindOptions())
	return fr.Value, ok, err
}

// authDestination is permit_auth_destination: the recipient resolves to
// one of our domains (local, virtual, relay) without a routing operator.
// done is false when the evaluation ended (lookup failure).
func (e *eval) authDestination(rcpt string) (ok, done bool) {
	res, done := e.resolve(rcpt)
	if !done {
		return false, false
	}
	if !strings.Contains(res.Recipient, "@") {
		return true, true
	}
	if !e.p.allowUntrustedRouting && res.Flags&rewrite.FlagRouted != 0 {
		return false, true
	}
	return res.Class != rewrite.ClassDefault, true
}

func (e *eval) rcptRcptMaps() status {
	if e.rcptmapChecked {
		return dunno
	}
	if e.warnIfReject == 0 {
		e.rcptmapChecked = true
	}
	return e.rcptMaps(e.recipient, "Recipient address")
}

func (e *eval) senderRcptMaps() status {
	if e.senderRcptmapChecked {
		return dunno
	}
	if e.warnIfReject == 0 {
		e.senderRcptmapChecked = true
	}
	return e.rcptMaps(e.sender, "Sender address")
}

// rcptMaps is check_rcpt_maps: an address in one of our domains must be
// listed by the table of its address class.
func (e *eval) rcptMaps(addr, class string) status {
	p := e.p
	res, ok := e.resolve(addr)
	if !ok {
		return rejected
	}
	inVirtual, err := p.d.Rewriter.InVirtualAlias(e.ctx, res.Recipient)
	if err != nil {
		return e.lookupFailed(addr, err)
	}
	if inVirtual {
		return dunno
	}
	userDSN, retryDSN := "5.1.1", "4.1.1"
	if class == "Sender address" {
		userDSN, retryDSN = "5.1.0", "4.1.0"
	}
	switch res.Transport {
	case "error":
		dsn, text := dsnSplit(userDSN, res.Nexthop)
		code := 550
		if res.Class == rewrite.ClassAlias {
			code = p.codes.unknownAlias
		}
		return e.reject(code, dsnFix(dsn, class), fmt.Sprintf("<%s>: %s rejected: %s", addr, class, text))
	case "retry":
		dsn, text := dsnSplit(retryDSN, res.Nexthop)
		return e.reject(450, dsnFix(dsn, class), fmt.Sprintf("<%s>: %s rejected: %s", addr, class, text))
	}
	var table *maps.List
	var code int
	var name string
	switch res.Class {
	case rewrite.ClassLocal:
		local, _, _ := address.SplitInternal(res.Recipient)
		fo := p.d.Rewriter.FindOptions()
		for _, exempt := range []string{fo.DoubleBounce, "postmaster", "MAILER-DAEMON"} {
			if exempt != "" && strings.EqualFold(local, exempt) {
				return dunno
			}
		}
		table, code, name = p.localRcpt, p.codes.unknownLocal, " in local recipient table"
	case rewrite.ClassVirtual:
		table, code, name = p.virtualMailbox, p.codes.unknownVirtual, " in virtual mailbox table"
	case rewrite.ClassAlias:
		table, code, name = nil, p.codes.unknownAlias, " in virtual alias table"
		if !p.showTable {
			name = ""
		}
		return e.reject(code, userDSN, fmt.Sprintf("<%s>: %s rejected: User unknown%s", addr, class, name))
	case rewrite.ClassRelay:
		table, code, name = p.relayRcpt, p.codes.unknownRelay, " in relay recipient table"
	default:
		return dunno
	}
	if table == nil {
		return dunno // no table: every address is accepted, as in Postfix
	}
	_, found, err := findAddress(e.ctx, table, res.Recipient, p.d.Rewriter)
	if err != nil {
		return e.lookupFailed(addr, err)
	}
	if found {
		return dunno
	}
	if !p.showTable {
		name = ""
	}
	return e.reject(code, userDSN, fmt.Sprintf("<%s>: %s rejected: User unknown%s", addr, class, name))
}

// validHostaddr tells whether s is an IPv4 or IPv6 address (no brackets).
func validHostaddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil && !strings.Contains(s, "%")
}
