package restrict

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"mailhorn/internal/maillog"
	"mailhorn/internal/rewrite"
	"mailhorn/internal/smtpd"
)

// status is a restriction's answer (Postfix's SMTPD_CHECK_*).
type status int

const (
	dunno status = iota
	permitted
	rejected
)

// deferral is a postponed decision: defer_if_permit or defer_if_reject.
type deferral struct {
	active   bool
	code     int
	dsn      string
	text     string
	software bool
}

// eval is one evaluation of restriction lists for one SMTP command.
type eval struct {
	p     *Policy
	ctx   context.Context
	c     *smtpd.Info
	stage string // "CONNECT", "HELO", "MAIL", "RCPT", "VRFY", "DATA", "END-OF-MESSAGE"

	helo      string
	sender    string
	inMail    bool
	recipient string

	recursion    int
	warnIfReject int // recursion level of a pending warn_if_reject; 0: none

	deferIfPermit, deferIfReject  deferral
	dipClient, dipHelo, dipSender bool // defer_if_permit raised per stage

	rcptmapChecked, senderRcptmapChecked bool

	reply *smtpd.Reply
	abort bool // a configuration or lookup error ends the evaluation

	resolved map[string]rewrite.Result
}

func (p *Policy) newEval(ctx context.Context, c *smtpd.Info, stage string) *eval {
	return &eval{p: p, ctx: ctx, c: c, stage: stage, helo: c.Helo, sender: c.Sender, inMail: c.InMail}
}

// run evaluates and returns the reply of a rejection, or nil.
func (e *eval) run(f func() status) *smtpd.Reply {
	if f() == rejected && e.reply != nil {
		return e.reply
	}
	return nil
}

// discarding tells whether a DISCARD action already decided the
// transaction: Postfix then skips the remaining restrictions.
func (e *eval) discarding() bool { return e.c.Actions.Discard != "" }

func (e *eval) reset() {
	e.recursion, e.warnIfReject = 0, 0
	e.deferIfReject.active = false
}

func (e *eval) clientChecks() status {
	e.deferIfPermit.active = false
	e.reset()
	st := e.list(e.p.client, clientName(e.c), "Client host")
	e.dipClient = e.deferIfPermit.active
	return st
}

func (e *eval) heloChecks() status {
	if e.helo == "" {
		return dunno
	}
	e.deferIfPermit.active = e.dipClient
	e.reset()
	st := e.list(e.p.helo, e.helo, "Helo command")
	e.dipHelo = e.deferIfPermit.active
	return st
}

func (e *eval) senderChecks() status {
	if !e.inMail {
		return dunno
	}
	e.deferIfPermit.active = e.dipClient || e.dipHelo
	e.reset()
	st := e.list(e.p.sender, e.sender, "Sender address")
	e.dipSender = e.deferIfPermit.active
	if e.p.rejectUnlistedSender && st != rejected && !e.senderRcptmapChecked && !e.discarding() && e.sender != "" && !e.abort {
		st = e.senderRcptMaps()
	}
	return st
}

func (e *eval) rcptChecks() status {
	if e.p.delayReject {
		for _, f := range []func() status{e.clientChecks, e.heloChecks, e.senderChecks} {
			if f() == rejected {
				return rejected
			}
		}
	}
	e.deferIfPermit.active = e.dipSender
	e.reset()
	// A permit ends its own list only: smtpd_recipient_restrictions run
	// after smtpd_relay_restrictions permitted.
	var st status
	for _, l := range [][]step{e.p.relay, e.p.recipient} {
		if st = e.list(l, e.recipient, "Recipient address"); st == rejected {
			break
		}
	}
	if st != rejected && e.deferIfPermit.active {
		st = e.rejectDeferral(e.deferIfPermit)
	}
	if e.p.rejectUnlistedRcpt && st != rejected && !e.rcptmapChecked && !e.discarding() {
		st = e.rcptRcptMaps()
	}
	return st
}

// finalChecks runs smtpd_data_restrictions or
// smtpd_end_of_data_restrictions. The recipient is known to them only when
// there is exactly one.
func (e *eval) finalChecks(list []step, name, class string) status {
	if len(e.c.Recipients) == 1 {
		e.recipient = e.c.Recipients[0]
	}
	e.deferIfPermit.active = false
	e.reset()
	st := e.list(list, name, class)
	if st != rejected && e.deferIfPermit.active {
		st = e.rejectDeferral(e.deferIfPermit)
	}
	return st
}

// list is Postfix's generic_checks: the restrictions in order until one
// permits or rejects.
func (e *eval) list(steps []step, replyName, replyClass string) status {
	saved := e.recursion
	e.recursion++
	st := dunno
	for _, s := range steps {
		if e.discarding() {
			break
		}
		if s.name == "warn_if_reject" {
			if e.warnIfReject == 0 {
				e.warnIfReject = e.recursion
			}
			continue
		}
		st = e.apply(s, replyName, replyClass)
		if e.abort {
			e.recursion = saved
			return rejected
		}
		if e.warnIfReject >= e.recursion {
			e.warnIfReject = 0
		}
		if st != dunno {
			break
		}
		if e.deferIfPermit.active && e.deferIfReject.active {
			break
		}
	}
	e.recursion = saved
	if e.warnIfReject >= e.recursion {
		e.warnIfReject = 0
	}
	return st
}

// reject is smtpd_check_reject: a rejection, a reject_warning under
// warn_if_reject, or the earlier defer_if_reject deferral instead of a 5xx.
func (e *eval) reject(code int, dsn, text string) status {
	return e.rejectClass(false, code, dsn, text)
}

func (e *eval) rejectClass(software bool, code int, dsn, text string) status {
	warn := e.warnIfReject > 0 && !software
	if code < 400 || code > 599 {
		e.p.warnf("SMTP reply code configuration error: %d %s %s", code, dsn, text)
		code, dsn, text = 450, "4.7.1", "Service unavailable"
	}
	if !validDSN(dsn) {
		e.p.warnf("DSN detail code configuration error: %d %s %s", code, dsn, text)
		code, dsn, text = 450, "4.7.1", "Service unavailable"
	}
	text = printable(text)
	if !warn && e.deferIfReject.active && code/100 == 5 {
		d := e.deferIfReject
		e.warnIfReject, e.deferIfReject.active = 0, false
		return e.rejectClass(d.software, d.code, d.dsn, d.text)
	}
	dsn = fmt.Sprint(code/100) + dsn[1:]
	if len(text) > 500 {
		text = text[:500]
	}
	if warn {
		e.logAction("reject_warning", fmt.Sprintf("%d %s %s", code, dsn, text))
		return dunno
	}
	e.reply = &smtpd.Reply{Code: code, DSN: dsn, Text: text}
	return rejected
}

func (e *eval) rejectDeferral(d deferral) status {
	return e.rejectClass(d.software, d.code, d.dsn, d.text)
}

// deferIf remembers the first reason for a deferral.
func deferIf(d *deferral, code int, dsn, text string) {
	if !d.active {
		*d = deferral{active: true, code: code, dsn: dsn, text: text}
	}
}

// deferIfPermit is Postfix's DEFER_IF_PERMIT: remember a deferral for
// when the request would be permitted, or defer now if asked to (the
// tempfail action is "defer") or under warn_if_reject.
func (e *eval) deferIfPermitOr(deferNow bool, code int, dsn, text string) status {
	if e.warnIfReject == 0 && !deferNow {
		deferIf(&e.deferIfPermit, code, dsn, text)
		return dunno
	}
	return e.reject(code, dsn, text)
}

// serverError ends the evaluation with Postfix's reply to a configuration
// mistake found at run time.
func (e *eval) serverError() status {
	e.rejectClass(true, 451, "4.3.5", "Server configuration error")
	e.abort = true
	return rejected
}

// lookupFailed ends the evaluation with a temporary failure.
func (e *eval) lookupFailed(name string, err error) status {
	e.p.d.Log.Warn("restriction lookup failed", "name", name, "err", err)
	e.rejectClass(true, 451, "4.3.0", "<"+name+">: Temporary lookup failure")
	e.abort = true
	return rejected
}

// logAction logs a restriction event (hold, discard, reject_warning, ...).
func (e *eval) logAction(what, text string) {
	if e.p.d.MailLog == nil {
		e.p.d.Log.Info("restriction", "action", what, "stage", e.stage, "client", clientName(e.c), "text", text)
		return
	}
	e.p.d.MailLog.Restriction(maillog.Restriction{
		What: what, Stage: e.stage, Client: clientName(e.c), Text: text,
		Sender: e.sender, InMail: e.inMail, Recipient: e.recipient,
		Proto: e.c.Protocol, Helo: e.helo,
	})
}

// resolve canonicalises and resolves an envelope address, as smtpd's
// resolve cache does; a failure ends the evaluation.
func (e *eval) resolve(addr string) (rewrite.Result, bool) {
	if r, ok := e.resolved[addr]; ok {
		return r, true
	}
	rw := e.p.d.Rewriter
	canon := rw.Canonicalize(rewrite.Local, addr)
	res, err := rw.Resolve(e.ctx, e.sender, canon)
	if err != nil {
		e.lookupFailed(addr, err)
		return res, false
	}
	if res.Recipient == "" {
		res.Recipient = canon
	}
	if e.resolved == nil {
		e.resolved = map[string]rewrite.Result{}
	}
	e.resolved[addr] = res
	return res, true
}

// clientLiteral is the client address as a domain literal, for IsLocal.
func clientLiteral(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		return "[IPv6:" + a.String() + "]"
	}
	return "[" + a.String() + "]"
}

// printable replaces control characters, as Postfix's printable() does.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// validDSN tells whether s is an RFC 3463 status code "c.sss.ddd" with
// class 2, 4 or 5.
func validDSN(s string) bool {
	return dsnLen(s) == len(s) && len(s) > 0
}

// dsnLen is the length of the RFC 3463 status code at the start of s, or 0.
func dsnLen(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(s) && j-i < 3 && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0
		}
		i = j
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return 0
			}
			i++
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		return 0
	}
	return i
}

// dsnSplit is Postfix's dsn_split: an optional status code at the start
// of text, else def.
func dsnSplit(def, text string) (dsn, rest string) {
	n := dsnLen(text)
	if n == 0 || (n < len(text) && text[n] != ' ' && text[n] != '\t') {
		return def, text
	}
	return text[:n], strings.TrimLeft(text[n:], " \t")
}

// dsnFix is smtpd_dsn_fix: an address status (x.1.y) is made to fit what
// is rejected.
func dsnFix(dsn, class string) string {
	if len(dsn) < 5 || dsn[1:4] != ".1." {
		return dsn
	}
	micro := dsn[4:]
	type m struct{ sender, rcpt string }
	table := map[string]m{
		"1": {"4.1.0", "4.1.1"}, "2": {"4.1.8", "4.1.2"}, "3": {"4.1.7", "4.1.3"},
		"4": {"4.1.0", "4.1.4"}, "5": {"4.1.0", "4.1.5"}, "6": {"4.1.0", "4.1.6"},
		"7": {"4.1.7", "4.1.3"}, "8": {"4.1.8", "4.1.2"},
	}
	r, ok := table[micro]
	if !ok {
		r = m{"4.1.0", "4.1.0"}
	}
	switch class {
	case "Sender address":
		return r.sender
	case "Recipient address":
		return r.rcpt
	}
	return "4.0.0"
}
