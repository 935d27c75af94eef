package imapd

import (
	"encoding/base64"
	"errors"
	"strings"

	"mailhorn/internal/auth"
)

// appendCapabilities appends the capability list for the session's state.
func (s *session) appendCapabilities(b []byte) []byte {
	b = append(b, "CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE"...)
	if s.state == stateNotAuth {
		if s.opt.TLS != nil && !s.tls {
			b = append(b, " STARTTLS"...)
		}
		if s.loginDisabled() {
			return append(b, " LOGINDISABLED"...)
		}
		if s.srv.Auth != nil {
			for _, m := range s.srv.Auth.Mechanisms(s.tls) {
				b = append(b, " AUTH="...)
				b = append(b, m...)
			}
		}
		return b
	}
	return append(b, " BINARY NAMESPACE UNSELECT UIDPLUS CHILDREN SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED LIST-STATUS"+
		" MOVE CONDSTORE QRESYNC ESEARCH SEARCHRES SORT MULTIAPPEND STATUS=SIZE UTF8=ACCEPT"+
		" QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE"...)
}

// loginDisabled: LOGIN and AUTHENTICATE are refused until TLS.
func (s *session) loginDisabled() bool {
	return s.opt.TLSAuthOnly && !s.tls || s.srv.Auth == nil
}

func (s *session) cmdCapability(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	s.buf = append(s.buf[:0], "* "...)
	s.buf = s.appendCapabilities(s.buf)
	s.buf = append(s.buf, "\r\n"...)
	return s.writeBuf()
}

func (s *session) cmdNoop(c *cmd) error { return c.p.end() }

func (s *session) cmdLogout(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	s.bye("Logging out")
	s.logDisconnect("Logged out")
	s.state = stateLogout
	return nil
}

// cmdID answers RFC 2971 ID; the client's fields are read and ignored.
func (s *session) cmdID(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	if p.peek() == '(' {
		n := 0
		err := p.list(func() error {
			n++
			if n > 60 {
				return errSyntax("too many ID fields")
			}
			if _, err := p.str(); err != nil {
				return err
			}
			if err := p.sp(); err != nil {
				return err
			}
			if strings.EqualFold(p.word(""), "NIL") {
				return nil
			}
			_, err := p.str()
			return err
		})
		if err != nil {
			return err
		}
	} else if w := p.word(""); !strings.EqualFold(w, "NIL") {
		return errSyntax("expected a list or NIL")
	}
	if err := p.end(); err != nil {
		return err
	}
	s.w.WriteString("* ID (\"name\" \"mailhorn\")\r\n")
	return nil
}

func (s *session) cmdStartTLS(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	if s.tls {
		return bad("TLS is already active.")
	}
	if s.opt.TLS == nil {
		return bad("TLS support isn't enabled.")
	}
	s.w.WriteString(c.tag + " OK Begin TLS negotiation now.\r\n")
	if err := s.w.Flush(); err != nil {
		return err
	}
	// Commands pipelined after STARTTLS were read in plaintext: they are
	// dropped with the old reader (RFC 9051 §6.2.1).
	if err := s.handshake(); err != nil {
		s.srv.MailLog.Printf("Disconnected: TLS handshaking: %v (rip=%s)", err, s.addr)
		return errHangup
	}
	return errTaggedSent
}

// errTaggedSent: the handler wrote its tagged response itself.
var errTaggedSent = errors.New("tagged response sent")

func (s *session) cmdLogin(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	user, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	pass, err := p.astring()
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	if s.loginDisabled() {
		return no("PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	}
	s.loginMethod, s.lastUser = "PLAIN", user
	u, err := s.srv.Auth.Verify(s.ctx, user, pass, s.addr)
	if err != nil {
		return s.authFailed(err)
	}
	return s.loggedIn(c, u, "PLAIN")
}

func (s *session) cmdAuthenticate(c *cmd) error {
	p := c.p
	if err := p.sp(); err != nil {
		return err
	}
	mech, err := p.atom()
	if err != nil {
		return err
	}
	mech = strings.ToUpper(mech)
	var initial []byte
	hasInitial := false
	if p.trySP() {
		ir := p.word("=")
		if ir == "" {
			return errSyntax("bad initial response")
		}
		if initial, err = decodeSASL(ir); err != nil {
			return bad("Invalid base64 data in initial response.")
		}
		hasInitial = true
	}
	if err := p.end(); err != nil {
		return err
	}
	if s.loginDisabled() {
		return no("PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	}
	x, err := s.srv.Auth.Start(s.ctx, mech, s.addr, s.tls)
	if errors.Is(err, auth.ErrMechanism) {
		return no("", "Unsupported authentication mechanism.")
	}
	if err != nil {
		return s.authFailed(err)
	}
	s.loginMethod = mech
	resp := initial
	if !hasInitial {
		resp = nil
	}
	for {
		challenge, done, err := x.Next(s.ctx, resp)
		if name := x.Username(); name != "" {
			s.lastUser = name
		}
		if err != nil {
			if errors.Is(err, auth.ErrMalformed) {
				s.failures++
				return bad("Invalid authentication data.")
			}
			return s.authFailed(err)
		}
		if done {
			return s.loggedIn(c, x.User(), mech)
		}
		s.buf = append(s.buf[:0], "+ "...)
		s.buf = base64.StdEncoding.AppendEncode(s.buf, challenge)
		s.buf = append(s.buf, "\r\n"...)
		if err := s.writeBuf(); err != nil {
			return err
		}
		s.waiting.Store(true)
		line, err := s.cr.readLine()
		s.waiting.Store(false)
		if err != nil {
			return err
		}
		if string(line) == "*" {
			return bad("Authentication aborted by client.")
		}
		if resp, err = decodeSASL(string(line)); err != nil {
			return bad("Invalid base64 data in continued response.")
		}
	}
}

// decodeSASL decodes a base64 SASL response; "=" is the empty one.
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// authFailed maps the auth service's errors to responses.
func (s *session) authFailed(err error) error {
	switch {
	case errors.Is(err, auth.ErrTooManyFailures):
		s.failures++
		s.bye("Too many invalid authentication attempts.")
		s.logDisconnect("")
		return errHangup
	case errors.Is(err, auth.ErrTemporary):
		return no("UNAVAILABLE", "Temporary authentication failure.")
	case errors.Is(err, auth.ErrFailed), errors.Is(err, auth.ErrMalformed):
		s.failures++
		return no("AUTHENTICATIONFAILED", "Authentication failed.")
	case errors.Is(err, auth.ErrMechanism):
		return no("", "Unsupported authentication mechanism.")
	}
	s.srv.Log.Error("imapd: authentication", "client", s.addr, "err", err)
	return no("UNAVAILABLE", "Temporary authentication failure.")
}

// loggedIn opens the user's tree and answers OK [CAPABILITY ...].
func (s *session) loggedIn(c *cmd, u *auth.User, method string) error {
	if s.srv.Users == nil || s.srv.Store == nil {
		return no("UNAVAILABLE", "Mail storage is not configured.")
	}
	root, q, err := s.srv.Users(s.ctx, u)
	if err != nil {
		s.srv.Log.Error("imapd: user's mail location", "user", u.Name, "err", err)
		return no("UNAVAILABLE", "Temporary user lookup failure.")
	}
	tree, err := s.srv.Store.OpenUser(s.ctx, root, q)
	if err != nil {
		s.srv.Log.Error("imapd: opening the user's mail", "user", u.Name, "root", root, "err", err)
		return no("UNAVAILABLE", "Temporary failure opening the mailbox.")
	}
	s.user, s.authUser, s.state = tree, u, stateAuth
	s.failures = 0
	tlsNote := ""
	if s.tls {
		tlsNote = ", TLS"
	}
	s.srv.MailLog.Printf("Login: user=<%s>, method=%s, rip=%s, lip=%s%s", u.Name, method, s.addr, s.laddr, tlsNote)
	c.okCode = string(s.appendCapabilities(nil))
	c.okText = "Logged in"
	return nil
}

// cmdEnable: RFC 5161 ENABLE.
func (s *session) cmdEnable(c *cmd) error {
	p := c.p
	var enabled []string
	for p.trySP() {
		a, err := p.atom()
		if err != nil {
			return err
		}
		switch strings.ToUpper(a) {
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2, s.utf8 = true, true
				enabled = append(enabled, "IMAP4rev2")
			}
		case "CONDSTORE":
			if !s.condstore {
				s.condstore = true
				enabled = append(enabled, "CONDSTORE")
			}
		case "QRESYNC":
			if !s.qresync {
				s.qresync, s.condstore = true, true
				enabled = append(enabled, "QRESYNC")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 || !s.rev2 {
				s.utf8 = true
				enabled = append(enabled, "UTF8=ACCEPT")
			}
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	if len(enabled) == 0 && len(p.rc.lines[0]) == 0 {
		return errSyntax("missing capability")
	}
	s.w.WriteString("* ENABLED")
	for _, e := range enabled {
		s.w.WriteString(" " + e)
	}
	s.w.WriteString("\r\n")
	return nil
}

func (s *session) cmdNamespace(c *cmd) error {
	if err := c.p.end(); err != nil {
		return err
	}
	s.w.WriteString("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
	return nil
}
