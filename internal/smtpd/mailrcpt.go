package smtpd

import (
	"errors"
	"strconv"
	"strings"

	"mailhorn/internal/address"
	"mailhorn/internal/cleanup"
	"mailhorn/internal/queue"
)

// cmdMail handles MAIL FROM (RFC 5321 §4.1.1.2) with the parameters of
// SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and
// RET/ENVID (RFC 3461).
func (s *session) cmdMail(arg string) error {
	if s.opt.HeloRequired && s.info.Helo == "" {
		return s.fail(503, "5.5.1", "Error: send HELO/EHLO first")
	}
	if s.txn != nil {
		if s.txn.bdat != nil {
			return s.fail(503, "5.5.1", "Error: MAIL after BDAT")
		}
		return s.fail(503, "5.5.1", "Error: nested MAIL command")
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok || rest == "" {
		return s.fail(501, "5.5.4", "Syntax: MAIL FROM:<address>")
	}
	a, params, err := parsePath(rest, true)
	var pe errParams
	switch {
	case errors.As(err, &pe):
		return s.fail(501, "5.5.4", "Syntax: MAIL FROM:<address>")
	case err != nil:
		return s.fail(501, "5.1.7", "Bad sender address syntax")
	}
	t := &txn{sender: a.Internal()}
	for _, p := range params {
		if err := s.mailParam(t, p); err != nil {
			return err
		}
	}
	if !t.smtputf8 && !isASCII(t.sender) {
		return s.fail(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address")
	}
	if s.opt.MessageSizeLimit > 0 && t.size > s.opt.MessageSizeLimit {
		return s.rejectMail(t, &Reply{Code: 552, DSN: "5.3.4", Text: "Message size exceeds fixed limit"})
	}
	s.info.Sender, s.info.Size = t.sender, t.size
	if r := s.srv.Policy.CheckMail(s.ctx, &s.info, t.sender); r != nil {
		s.info.Sender, s.info.Size = "", 0
		return s.rejectMail(t, r)
	}
	s.txn = t
	s.info.InMail = true
	s.reply(250, "2.1.0", "Ok")
	return nil
}

// rejectMail refuses MAIL, logging the sender that was refused.
func (s *session) rejectMail(t *txn, r *Reply) error {
	s.txn = t
	err := s.reject("MAIL", r, "")
	s.txn = nil
	return err
}

func (s *session) mailParam(t *txn, p address.Param) error {
	switch p.Key {
	case "SIZE":
		n, err := strconv.ParseInt(p.Value, 10, 64)
		if err != nil || n < 0 || p.Value == "" || p.Value[0] == '+' {
			return s.fail(501, "5.5.4", "Bad message size syntax")
		}
		t.size = n
	case "BODY":
		switch v := strings.ToUpper(p.Value); v {
		case "7BIT", "8BITMIME", "BINARYMIME":
			t.body = v
		default:
			return s.fail(501, "5.5.4", "Bad BODY keyword syntax")
		}
	case "SMTPUTF8":
		if !s.opt.SMTPUTF8 {
			return s.unsupported(p)
		}
		if p.Value != "" {
			return s.fail(501, "5.5.4", "Bad SMTPUTF8 parameter syntax")
		}
		t.smtputf8 = true
	case "RET":
		switch v := strings.ToUpper(p.Value); {
		case t.ret != "" || v != "FULL" && v != "HDRS":
			return s.fail(501, "5.5.4", "Bad RET parameter syntax")
		default:
			t.ret = v
		}
	case "AUTH":
		// RFC 4954 §5: accepted and not used, as Postfix does; only
		// where AUTH is offered (elsewhere it is an unknown option).
		if s.opt.Auth == nil || s.opt.LMTP {
			return s.unsupported(p)
		}
		if t.auth {
			return s.fail(503, "5.5.4", "Error: multiple AUTH= options")
		}
		if _, err := address.DecodeXtext(p.Value); err != nil || p.Value == "" {
			return s.fail(501, "5.5.4", "Bad AUTH parameter syntax")
		}
		t.auth = true
	case "ENVID":
		v, err := address.DecodeXtext(p.Value)
		if t.envid != "" || p.Value == "" || err != nil || len(v) > 100 || !isPrintable(v) {
			return s.fail(501, "5.5.4", "Bad ENVID parameter syntax")
		}
		t.envid = v
	default:
		return s.unsupported(p)
	}
	return nil
}

func (s *session) unsupported(p address.Param) error {
	opt := p.Key
	if p.Value != "" {
		opt += "=" + p.Value
	}
	return s.fail(555, "5.5.4", "Unsupported option: "+opt)
}

// cmdRcpt handles RCPT TO (RFC 5321 §4.1.1.3) with NOTIFY and ORCPT
// (RFC 3461 §4).
func (s *session) cmdRcpt(arg string) error {
	if s.txn == nil {
		return s.fail(503, "5.5.1", "Error: need MAIL command")
	}
	if s.txn.bdat != nil {
		return s.fail(503, "5.5.1", "Error: RCPT after BDAT")
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok || rest == "" {
		return s.fail(501, "5.5.4", "Syntax: RCPT TO:<address>")
	}
	s.txn.rcptAttempts++
	if s.opt.RecipientLimit > 0 && len(s.txn.rcpts) >= s.opt.RecipientLimit {
		s.reply(452, "4.5.3", "Error: too many recipients")
		// Postfix counts this as an error only after
		// smtpd_recipient_overshoot_limit of them.
		if s.overshoot++; s.overshoot < s.opt.RcptOvershootLimit {
			return nil
		}
		return errFail
	}
	a, params, err := parsePath(rest, false)
	var pe errParams
	switch {
	case errors.As(err, &pe):
		return s.fail(501, "5.5.4", "Syntax: RCPT TO:<address>")
	case err != nil:
		return s.fail(501, "5.1.3", "Bad recipient address syntax")
	}
	r := cleanup.Recipient{Address: a.Internal()}
	for _, p := range params {
		switch p.Key {
		case "NOTIFY":
			n, ok := parseNotify(p.Value)
			if !ok || r.Notify != 0 {
				return s.fail(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
			}
			r.Notify = n
		case "ORCPT":
			o, ok := parseORCPT(p.Value)
			if !ok || r.ORCPT != "" {
				return s.fail(501, "5.5.4", "Error: Bad ORCPT parameter syntax")
			}
			r.ORCPT = o
		default:
			return s.unsupported(p)
		}
	}
	if !s.txn.smtputf8 && !isASCII(r.Address) {
		return s.fail(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address")
	}
	if rep := s.srv.Policy.CheckRcpt(s.ctx, &s.info, r.Address); rep != nil {
		return s.reject("RCPT", rep, r.Address)
	}
	s.txn.rcpts = append(s.txn.rcpts, r)
	s.info.Recipients = append(s.info.Recipients, r.Address)
	s.reply(250, "2.1.5", "Ok")
	return nil
}

// parseNotify reads NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY.
func parseNotify(v string) (byte, bool) {
	if strings.EqualFold(v, "NEVER") {
		return queue.NotifyNever, true
	}
	var n byte
	for _, w := range strings.Split(v, ",") {
		switch strings.ToUpper(w) {
		case "SUCCESS":
			n |= queue.NotifySuccess
		case "FAILURE":
			n |= queue.NotifyFailure
		case "DELAY":
			n |= queue.NotifyDelay
		default:
			return 0, false
		}
	}
	return n, true
}

// parseORCPT reads "addr-type;xtext" (RFC 3461 §4.2) and returns it
// decoded: "rfc822;user@example.com".
func parseORCPT(v string) (string, bool) {
	typ, xt, ok := strings.Cut(v, ";")
	if !ok || typ == "" || xt == "" {
		return "", false
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", false
		}
	}
	addr, err := address.DecodeXtext(xt)
	if err != nil || !isPrintable(addr) {
		return "", false
	}
	return typ + ";" + addr, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isPrintable: printable ASCII only (DSN ENVID and ORCPT values).
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 32 || s[i] > 126 {
			return false
		}
	}
	return true
}
