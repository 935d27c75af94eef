package master

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"mailhorn/internal/config"
	"mailhorn/internal/maps"
	"mailhorn/internal/rewrite"
	"mailhorn/internal/smtpd"
)

// policy is the SMTP server's access control: smtpd_relay_restrictions,
// then smtpd_recipient_restrictions, then (smtpd_reject_unlisted_recipient)
// the check that the recipient exists in its address class's table. It
// implements the restrictions Postfix administrators use most; an unknown
// one is a configuration error when the service starts, never ignored.
type policy struct {
	smtpd.PermitAll

	rw         *rewrite.Rewriter
	mynetworks *maps.NetList
	relay      []restriction
	recipient  []restriction

	rejectUnlisted bool
	localRcpt      *maps.List // nil when local_recipient_maps is empty: no check
	virtualMailbox *maps.List
	relayRcpt      *maps.List

	relayCode, accessReject, accessDefer, deferCode, rejectCode int
	unknownLocal, unknownVirtual, unknownAlias, unknownRelay    int

	log *slog.Logger
}

type restriction struct {
	name  string
	table maps.Table // check_*_access
}

// decision is a restriction's answer.
type decision int

const (
	decDunno decision = iota
	decPermit
	decReject
)

func newPolicy(cfg *config.Config, rw *rewrite.Rewriter, log *slog.Logger) (*policy, error) {
	p := &policy{rw: rw, log: log, rejectUnlisted: cfg.Bool("smtpd_reject_unlisted_recipient")}
	var err error
	if p.mynetworks, err = maps.ParseNetList(cfg.List("mynetworks"), nil); err != nil {
		return nil, fmt.Errorf("mynetworks: %w", err)
	}
	if p.relay, err = parseRestrictions(cfg, "smtpd_relay_restrictions"); err != nil {
		return nil, err
	}
	if p.recipient, err = parseRestrictions(cfg, "smtpd_recipient_restrictions"); err != nil {
		return nil, err
	}
	if len(p.relay) == 0 && !hasRelayControl(p.recipient) {
		// Postfix refuses to run as an open relay by accident.
		return nil, fmt.Errorf("smtpd_relay_restrictions and smtpd_recipient_restrictions are both without reject_unauth_destination or defer_unauth_destination: that would be an open relay")
	}
	for _, t := range []struct {
		param string
		dst   **maps.List
	}{{"local_recipient_maps", &p.localRcpt}, {"virtual_mailbox_maps", &p.virtualMailbox}, {"relay_recipient_maps", &p.relayRcpt}} {
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
	p.relayCode = cfg.Int("relay_domains_reject_code")
	p.accessReject = cfg.Int("access_map_reject_code")
	p.accessDefer = cfg.Int("access_map_defer_code")
	p.deferCode = cfg.Int("defer_code")
	p.rejectCode = cfg.Int("reject_code")
	p.unknownLocal = cfg.Int("unknown_local_recipient_reject_code")
	p.unknownVirtual = cfg.Int("unknown_virtual_mailbox_reject_code")
	p.unknownAlias = cfg.Int("unknown_virtual_alias_reject_code")
	p.unknownRelay = cfg.Int("unknown_relay_recipient_reject_code")
	return p, nil
}

// knownRestrictions are those this policy implements at RCPT time.
var knownRestrictions = map[string]bool{
	"permit": true, "reject": true, "defer": true,
	"permit_mynetworks": true, "permit_sasl_authenticated": true,
	"reject_unauth_destination": true, "defer_unauth_destination": true,
	"permit_auth_destination": true, "reject_unlisted_recipient": true,
	"check_recipient_access": true, "check_client_access": true,
}

func parseRestrictions(cfg *config.Config, param string) ([]restriction, error) {
	var out []restriction
	list := cfg.List(param)
	for i := 0; i < len(list); i++ {
		name := list[i]
		if !knownRestrictions[name] {
			return nil, fmt.Errorf("%s: unsupported restriction %q", param, name)
		}
		r := restriction{name: name}
		if strings.HasPrefix(name, "check_") {
			if i+1 >= len(list) {
				return nil, fmt.Errorf("%s: %s needs a type:table argument", param, name)
			}
			i++
			t, err := maps.Open(list[i])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", param, name, err)
			}
			r.table = t
		}
		out = append(out, r)
	}
	return out, nil
}

func hasRelayControl(rs []restriction) bool {
	for _, r := range rs {
		if r.name == "reject_unauth_destination" || r.name == "defer_unauth_destination" || r.name == "reject" || r.name == "defer" {
			return true
		}
	}
	return false
}

func (p *policy) close() {
	p.mynetworks.Close()
	for _, l := range []*maps.List{p.localRcpt, p.virtualMailbox, p.relayRcpt} {
		if l != nil {
			l.Close()
		}
	}
	for _, r := range append(p.relay, p.recipient...) {
		if r.table != nil {
			r.table.Close()
		}
	}
}

func tempFail(rcpt string) *smtpd.Reply {
	return &smtpd.Reply{Code: 451, DSN: "4.3.0", Text: "<" + rcpt + ">: Temporary lookup failure"}
}

// rcptCheck is one RCPT TO being decided.
type rcptCheck struct {
	info *smtpd.Info
	rcpt string // as the client wrote it (internal form)
	addr string // canonical
	res  rewrite.Result
}

// CheckRcpt implements smtpd.Policy.
func (p *policy) CheckRcpt(ctx context.Context, info *smtpd.Info, rcpt string) *smtpd.Reply {
	c := &rcptCheck{info: info, rcpt: rcpt, addr: p.rw.Canonicalize(rewrite.Local, rcpt)}
	var err error
	if c.res, err = p.rw.Resolve(ctx, info.Sender, c.addr); err != nil {
		p.log.Warn("resolve recipient", "rcpt", rcpt, "err", err)
		return tempFail(rcpt)
	}
	// A permit ends its own list only: smtpd_recipient_restrictions still
	// run after smtpd_relay_restrictions permitted, and the unlisted check
	// after both, as in Postfix.
	for _, list := range [][]restriction{p.relay, p.recipient} {
		if _, reply := p.evaluate(ctx, c, list); reply != nil {
			return reply
		}
	}
	if p.rejectUnlisted {
		return p.unlisted(ctx, c)
	}
	return nil
}

// evaluate runs one restriction list: the first permit or reject ends it.
func (p *policy) evaluate(ctx context.Context, c *rcptCheck, list []restriction) (decision, *smtpd.Reply) {
	for _, r := range list {
		d, reply := p.apply(ctx, c, r)
		if reply != nil {
			return decReject, reply
		}
		if d != decDunno {
			return d, nil
		}
	}
	return decDunno, nil
}

func (p *policy) apply(ctx context.Context, c *rcptCheck, r restriction) (decision, *smtpd.Reply) {
	switch r.name {
	case "permit":
		return decPermit, nil
	case "reject":
		return decReject, &smtpd.Reply{Code: p.rejectCode, DSN: "5.7.1", Text: "<" + c.rcpt + ">: Recipient address rejected: Access denied"}
	case "defer":
		return decReject, &smtpd.Reply{Code: p.deferCode, DSN: "4.7.1", Text: "<" + c.rcpt + ">: Recipient address rejected: Try again later"}
	case "permit_mynetworks":
		ok, err := p.mynetworks.Match(ctx, c.info.Addr)
		if err != nil {
			p.log.Warn("mynetworks lookup", "err", err)
			return decReject, tempFail(c.rcpt)
		}
		if ok {
			return decPermit, nil
		}
	case "permit_sasl_authenticated":
		// SMTP AUTH arrives with the submission issue; nobody is
		// authenticated yet.
	case "permit_auth_destination":
		if authDestination(c.res) {
			return decPermit, nil
		}
	case "reject_unauth_destination":
		if !authDestination(c.res) {
			return decReject, &smtpd.Reply{Code: p.relayCode, DSN: "5.7.1", Text: "<" + c.rcpt + ">: Relay access denied"}
		}
	case "defer_unauth_destination":
		if !authDestination(c.res) {
			return decReject, &smtpd.Reply{Code: 454, DSN: "4.7.1", Text: "<" + c.rcpt + ">: Relay access denied"}
		}
	case "reject_unlisted_recipient":
		if reply := p.unlisted(ctx, c); reply != nil {
			return decReject, reply
		}
	case "check_recipient_access":
		fr, ok, err := maps.FindAddress(ctx, r.table, c.addr, p.rw.FindOptions())
		if err != nil {
			return decReject, tempFail(c.rcpt)
		}
		if ok {
			return p.accessResult(fr.Value, c.rcpt, "Recipient address rejected")
		}
	case "check_client_access":
		v, ok, err := r.table.Lookup(ctx, c.info.Addr.String())
		if err != nil {
			return decReject, tempFail(c.rcpt)
		}
		if ok {
			return p.accessResult(v, maillogClient(c.info), "Client host rejected")
		}
	}
	return decDunno, nil
}

func maillogClient(info *smtpd.Info) string {
	return info.Name + "[" + info.Addr.String() + "]"
}

// accessResult interprets an access(5) table result.
func (p *policy) accessResult(v, what, reason string) (decision, *smtpd.Reply) {
	word, text, _ := strings.Cut(strings.TrimSpace(v), " ")
	text = strings.TrimSpace(text)
	switch strings.ToUpper(word) {
	case "OK", "PERMIT":
		return decPermit, nil
	case "DUNNO", "":
		return decDunno, nil
	case "REJECT":
		if text == "" {
			text = "Access denied"
		}
		return decReject, &smtpd.Reply{Code: p.accessReject, DSN: "5.7.1", Text: "<" + what + ">: " + reason + ": " + text}
	case "DEFER":
		if text == "" {
			text = "Access denied"
		}
		return decReject, &smtpd.Reply{Code: p.accessDefer, DSN: "4.7.1", Text: "<" + what + ">: " + reason + ": " + text}
	}
	if code, err := strconv.Atoi(word); err == nil && (code/100 == 4 || code/100 == 5) {
		dsn := fmt.Sprintf("%d.7.1", code/100)
		if f := strings.Fields(text); len(f) > 0 && strings.Count(f[0], ".") == 2 && f[0][0] == word[0] {
			dsn, text = f[0], strings.TrimSpace(strings.TrimPrefix(text, f[0]))
		}
		return decReject, &smtpd.Reply{Code: code, DSN: dsn, Text: "<" + what + ">: " + reason + ": " + text}
	}
	// Postfix logs "unknown action" and continues; so do we.
	p.log.Warn("access table: unknown action", "result", v)
	return decDunno, nil
}

// authDestination is Postfix's permit_auth_destination test: the resolved
// domain is one of ours (local, virtual, relay) and the local part holds
// no routing operator that could send the mail elsewhere.
func authDestination(res rewrite.Result) bool {
	return res.Class != rewrite.ClassDefault && res.Flags&rewrite.FlagRouted == 0
}

// unlisted rejects a recipient that no table of its address class lists
// (Postfix's smtpd_reject_unlisted_recipient / check_rcpt_maps).
func (p *policy) unlisted(ctx context.Context, c *rcptCheck) *smtpd.Reply {
	if c.res.Class == rewrite.ClassDefault {
		return nil
	}
	ok, err := p.rw.InVirtualAlias(ctx, c.addr)
	if err != nil {
		return tempFail(c.rcpt)
	}
	if ok {
		return nil
	}
	var table *maps.List
	var code int
	var name string
	switch c.res.Class {
	case rewrite.ClassLocal:
		table, code, name = p.localRcpt, p.unknownLocal, "local recipient table"
	case rewrite.ClassVirtual:
		table, code, name = p.virtualMailbox, p.unknownVirtual, "virtual mailbox table"
	case rewrite.ClassAlias:
		return &smtpd.Reply{Code: p.unknownAlias, DSN: "5.1.1", Text: "<" + c.rcpt + ">: Recipient address rejected: User unknown in virtual alias table"}
	case rewrite.ClassRelay:
		table, code, name = p.relayRcpt, p.unknownRelay, "relay recipient table"
	}
	if table == nil {
		return nil // no table: every recipient is accepted, as Postfix does
	}
	_, ok, err = maps.FindAddress(ctx, table, c.addr, p.rw.FindOptions())
	if err != nil {
		p.log.Warn("recipient lookup", "rcpt", c.rcpt, "err", err)
		return tempFail(c.rcpt)
	}
	if !ok {
		return &smtpd.Reply{Code: code, DSN: "5.1.1", Text: "<" + c.rcpt + ">: Recipient address rejected: User unknown in " + name}
	}
	return nil
}
