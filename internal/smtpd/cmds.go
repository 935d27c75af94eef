package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mailhorn/internal/address"
)

func (s *session) cmdHelo(arg string) error { return s.hello("HELO", arg) }
func (s *session) cmdEhlo(arg string) error { return s.hello("EHLO", arg) }
func (s *session) cmdLhlo(arg string) error { return s.hello("LHLO", arg) }

// hello handles HELO, EHLO (RFC 5321 §4.1.1.1) and LHLO (RFC 2033 §4.1).
// Like Postfix, its replies carry no enhanced status code (RFC 2034 §3).
func (s *session) hello(verb, arg string) error {
	if arg == "" {
		return s.fail(501, "", "Syntax: "+verb+" hostname")
	}
	if r := s.srv.Policy.CheckHelo(s.ctx, &s.info, arg); r != nil {
		return s.reject(verb, r, "")
	}
	// A new greeting resets the session as RSET does (§4.1.4); what the
	// policy decided for the client just now (HOLD, PREPEND...) stays.
	acts := s.info.Actions
	s.resetTxn()
	s.info.Actions = acts
	s.info.Helo = neuter(arg)
	switch verb {
	case "HELO":
		// Keep ESMTP after an earlier EHLO, as Postfix does.
		if s.info.Protocol != "ESMTP" {
			s.info.Protocol = "SMTP"
		}
		s.reply(250, "", s.opt.Hostname)
		return nil
	case "EHLO":
		s.info.Protocol = "ESMTP"
	}
	s.reply(250, "", strings.Join(s.ehloKeywords(), "\n"))
	return nil
}

// ehloKeywords lists the extensions in Postfix's order.
func (s *session) ehloKeywords() []string {
	kw := []string{s.opt.Hostname, "PIPELINING"}
	if s.opt.MessageSizeLimit > 0 {
		kw = append(kw, "SIZE "+strconv.FormatInt(s.opt.MessageSizeLimit, 10))
	} else {
		kw = append(kw, "SIZE")
	}
	if !s.opt.DisableVRFY {
		kw = append(kw, "VRFY")
	}
	if s.opt.TLS != nil && s.tlsState == nil {
		kw = append(kw, "STARTTLS")
	}
	// AUTH (RFC 4954) where Postfix puts it, with the pre-RFC form for
	// broken_sasl_auth_clients.
	if mechs := s.authMechanisms(); len(mechs) > 0 {
		list := strings.Join(mechs, " ")
		kw = append(kw, "AUTH "+list)
		if s.opt.BrokenAuthClients {
			kw = append(kw, "AUTH="+list)
		}
	}
	kw = append(kw, "ENHANCEDSTATUSCODES", "8BITMIME", "DSN")
	if s.opt.SMTPUTF8 {
		kw = append(kw, "SMTPUTF8")
	}
	return append(kw, "CHUNKING", "BINARYMIME")
}

// neuter makes a HELO name safe for logs and headers as Postfix does:
// control characters and " <>()\";@" become '?'.
func neuter(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || strings.ContainsRune(" <>()\\\";@", r) {
			return '?'
		}
		return r
	}, s)
}

func (s *session) cmdRset(arg string) error {
	if arg != "" {
		return s.fail(501, "5.5.4", "Syntax: RSET")
	}
	s.resetTxn()
	s.reply(250, "2.0.0", "Ok")
	return nil
}

// cmdNoop accepts an argument, as RFC 5321 §4.1.1.9 and Postfix do.
func (s *session) cmdNoop(string) error {
	s.reply(250, "2.0.0", "Ok")
	return nil
}

func (s *session) cmdQuit(string) error {
	s.reply(221, "2.0.0", "Bye")
	s.quit = true
	return nil
}

// cmdHelp answers HELP (RFC 5321 §4.1.1.8), which Postfix does not have.
func (s *session) cmdHelp(string) error {
	cmds := "HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP"
	if s.opt.LMTP {
		cmds = "LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP"
	}
	if !s.opt.DisableVRFY {
		cmds += " VRFY"
	}
	if s.opt.TLS != nil && s.tlsState == nil {
		cmds += " STARTTLS"
	}
	if len(s.authMechanisms()) > 0 {
		cmds += " AUTH"
	}
	s.reply(214, "2.0.0", "Commands: "+cmds)
	return nil
}

// cmdVrfy answers VRFY (RFC 5321 §3.5.1) through the policy; by default
// with Postfix's non-committal 252.
func (s *session) cmdVrfy(arg string) error {
	if s.opt.DisableVRFY {
		return s.fail(502, "5.5.1", "VRFY command is disabled")
	}
	if arg == "" {
		return s.fail(501, "5.5.4", "Syntax: VRFY address")
	}
	a, _, err := parsePath(arg, false)
	if err != nil {
		return s.fail(501, "5.1.3", "Bad recipient address syntax")
	}
	if r := s.srv.Policy.CheckVrfy(s.ctx, &s.info, a.Internal()); r != nil {
		if r.Code >= 400 {
			return s.reject("VRFY", r, a.Internal())
		}
		s.replyR(r)
		return nil
	}
	s.reply(252, "2.0.0", arg)
	return nil
}

// cmdStarttls starts TLS (RFC 3207). Whatever the client sent after the
// STARTTLS line and before the handshake is thrown away unread: executing
// it would let a man in the middle inject commands into the protected
// session (CVE-2011-0411).
func (s *session) cmdStarttls(arg string) error {
	if arg != "" {
		return s.fail(501, "5.5.4", "Syntax: STARTTLS")
	}
	if s.tlsState != nil {
		return s.fail(554, "5.5.1", "Error: TLS already active")
	}
	if s.opt.TLS == nil {
		return s.fail(502, "5.5.1", "Error: command not implemented")
	}
	s.reply(220, "2.0.0", "Ready to start TLS")
	if err := s.w.Flush(); err != nil {
		return err
	}
	s.resetTxn()
	s.info.Helo = ""
	// RFC 3207 §4.2: forget what the client said before TLS, AUTH too.
	s.info.SASLMethod, s.info.SASLUser, s.saslLogMethod = "", "", ""
	if !s.handshake() {
		return errHangup
	}
	return nil
}

// handshake runs the TLS server handshake on the raw connection (after
// STARTTLS, or at connect in wrapper mode) and reports success. On failure
// it logs Postfix's "SSL_accept error" line and the session must end.
func (s *session) handshake() bool {
	tc := tls.Server(s.raw, s.opt.TLS)
	ctx := s.ctx
	if s.opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opt.Timeout)
		defer cancel()
		s.raw.SetDeadline(time.Now().Add(s.opt.Timeout))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Printf("SSL_accept error from %s: %v", s.client, err)
		s.reason = "lost connection"
		return false
	}
	st := tc.ConnectionState()
	s.conn, s.tlsState, s.info.TLS = tc, &st, true
	// A new reader: the old one's buffered plaintext is dropped here.
	s.r = bufio.NewReaderSize(connIO{s}, 4096)
	s.log.Printf("Anonymous TLS connection established from %s: %s", s.client, strings.TrimSuffix(strings.TrimPrefix(strings.ReplaceAll(tlsSummary(&st), "\n\t", ""), "(using "), ")"))
	return true
}

// startWrapperTLS starts TLS at connect for smtpd_tls_wrappermode (RFC
// 8314 implicit TLS, port 465) and reports whether the session may go on.
func (s *session) startWrapperTLS() bool {
	if s.opt.TLS == nil {
		s.log.Warning("Wrapper-mode request dropped from %s for service %s. TLS context initialization failed. For details see earlier warnings in your logs.", s.client, s.service())
		return false
	}
	return s.handshake()
}

// parsePath parses a MAIL FROM or RCPT TO argument after the colon:
// "<path> params", leniently like Postfix without
// strict_rfc821_envelopes: a bare address without brackets and an
// unqualified "<user>" are accepted. The UTF-8 check is left to the caller
// (it depends on the SMTPUTF8 parameter).
func parsePath(s string, reverse bool) (address.Addr, []address.Param, error) {
	path, rest := splitPath(s)
	if !strings.HasPrefix(path, "<") {
		path = "<" + path + ">"
	}
	opt := address.Options{SMTPUTF8: true, NoLimits: true}
	a, err := parsePathOnly(path, reverse, opt)
	if err != nil && strings.HasSuffix(path, ".>") && !strings.HasSuffix(path, "..>") {
		// Postfix takes "user@example.com." (the root's dot, as in DNS)
		// and drops the dot when it resolves the address.
		if b, err2 := parsePathOnly(path[:len(path)-2]+">", reverse, opt); err2 == nil && b.Domain != "" {
			a, err = b, nil
		}
	}
	if err != nil {
		if len(path) < 2 || !strings.HasSuffix(path, ">") {
			return address.Addr{}, nil, err
		}
		inner := path[1 : len(path)-1]
		if !address.IsDotString(inner) || strings.ContainsRune(inner, '@') {
			return address.Addr{}, nil, err
		}
		a = address.Addr{Local: inner}
	}
	if d := a.Domain; d != "" && d[0] != '[' {
		// An address literal needs its brackets (RFC 5321 §4.1.3);
		// Postfix refuses user@192.0.2.1 as bad syntax too.
		if _, perr := netip.ParseAddr(d); perr == nil {
			return address.Addr{}, nil, errors.New("address literal without brackets")
		}
	}
	_, params, err := address.ParseMailArg("<>"+rest, opt)
	if err != nil {
		return address.Addr{}, nil, errParams{err}
	}
	return a, params, nil
}

func parsePathOnly(path string, reverse bool, opt address.Options) (address.Addr, error) {
	if reverse {
		return address.ParseReversePath(path, opt)
	}
	return address.ParseForwardPath(path, opt)
}

// errParams is a syntax error in the ESMTP parameters, not in the path.
type errParams struct{ error }
