package pop3d

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"mailhorn/internal/auth"
)

const (
	replyPlaintextDisallowed = "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
	replyAuthFailed          = "-ERR [AUTH] Authentication failed."
)

// authAllowed tells whether USER, PASS and AUTH are accepted now.
func (s *session) authAllowed() bool {
	return s.srv.Auth != nil && (s.tls || !s.opt.TLSAuthOnly)
}

// mechanisms lists the SASL mechanisms offered now, upper case.
func (s *session) mechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	var out []string
	for _, m := range s.srv.Auth.Mechanisms(s.tls) {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

// refusePlaintext answers a login attempt before TLS with TLSAuthOnly.
func (s *session) refusePlaintext() bool {
	if s.srv.Auth == nil {
		s.reply("-ERR [SYS/TEMP] Authentication is not available.")
		return true
	}
	if s.authAllowed() {
		return false
	}
	s.plainRefused = true
	s.reply(replyPlaintextDisallowed)
	return true
}

// cmdUser remembers the name for PASS (RFC 1939 §7). The reply is the
// same for every name: whether it exists is told by nothing.
func (s *session) cmdUser(args string) error {
	if s.refusePlaintext() {
		return nil
	}
	if args == "" {
		s.reply("-ERR Syntax: USER <name>")
		return errBad
	}
	s.userArg, s.haveUser = args, true
	s.reply("+OK")
	return nil
}

// cmdPass checks the password of the name given by USER.
func (s *session) cmdPass(args string) error {
	if s.refusePlaintext() {
		return nil
	}
	if !s.haveUser {
		s.reply("-ERR No username given.")
		return errBad
	}
	name := s.userArg
	s.userArg, s.haveUser = "", false
	s.authAttempts++
	s.authUser, s.authMethod = name, "PLAIN"
	u, err := s.srv.Auth.Verify(s.ctx, name, args, s.addr)
	if err != nil {
		return s.authFailed(err)
	}
	return s.loggedIn(u, "PLAIN")
}

// cmdAuth runs a SASL exchange (RFC 5034): "AUTH mech [initial-response]",
// challenges as "+ base64", "*" cancels. A bare "AUTH" lists the
// mechanisms, as Outlook expects.
func (s *session) cmdAuth(args string) error {
	if s.refusePlaintext() {
		return nil
	}
	mechs := s.mechanisms()
	if args == "" {
		s.reply("+OK")
		for _, m := range mechs {
			s.reply(m)
		}
		s.reply(".")
		return nil
	}
	mech, ir, hasIR := strings.Cut(args, " ")
	mech = strings.ToUpper(mech)
	if !slices.Contains(mechs, mech) {
		s.reply("-ERR Unsupported authentication mechanism.")
		return errBad
	}
	var resp []byte // nil: no initial response
	if hasIR {
		var err error
		if resp, err = decodeResponse(ir); err != nil {
			s.reply("-ERR Invalid base64 data in initial response.")
			return errBad
		}
	}
	s.authAttempts++
	s.authMethod = mech
	s.authUser = ""
	ex, err := s.srv.Auth.Start(s.ctx, mech, s.addr, s.tls)
	if err != nil {
		return s.authFailed(err)
	}
	for {
		challenge, done, err := ex.Next(s.ctx, resp)
		if name := ex.Username(); name != "" {
			s.authUser = name
		}
		if err != nil {
			return s.authFailed(err)
		}
		if done {
			break
		}
		s.reply("+ " + base64.StdEncoding.EncodeToString(challenge))
		if err := s.flush(); err != nil {
			return err
		}
		line, err := s.readCommand()
		if err != nil {
			s.readFailed(err)
			return errHangup
		}
		if line == "*" {
			s.reply("-ERR Authentication aborted by client.")
			return nil
		}
		if resp, err = decodeResponse(line); err != nil {
			s.reply("-ERR Invalid base64 data in continued response.")
			return nil
		}
	}
	u := ex.User()
	if u == nil {
		return s.authFailed(auth.ErrFailed)
	}
	return s.loggedIn(u, mech)
}

// decodeResponse decodes a client response: "=" is the empty response
// (RFC 5034 §4), anything else strict base64.
func decodeResponse(v string) ([]byte, error) {
	if v == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.Strict().DecodeString(v)
}

// authFailed answers a failed login. An unknown user and a wrong password
// are the same ErrFailed and get the same reply.
func (s *session) authFailed(err error) error {
	switch {
	case errors.Is(err, auth.ErrFailed), errors.Is(err, auth.ErrMalformed):
		s.reply(replyAuthFailed)
		return nil
	case errors.Is(err, auth.ErrTooManyFailures):
		s.reply("-ERR [SYS/TEMP] Too many authentication failures.")
		s.endReason = "too many authentication failures"
		return errHangup
	case errors.Is(err, auth.ErrMechanism):
		s.reply("-ERR Unsupported authentication mechanism.")
		return errBad
	case errors.Is(err, auth.ErrTemporary):
		s.reply("-ERR [SYS/TEMP] Temporary authentication failure.")
		return nil
	case s.ctx.Err() != nil:
		return errHangup
	}
	s.srv.Log.Error("pop3d: authentication back end failed", "client", s.addr.String(), "err", err)
	s.reply("-ERR [SYS/TEMP] Temporary authentication failure.")
	return nil
}

// loggedIn opens the user's maildrop: the INBOX, locked against other
// POP3 sessions, as a snapshot (RFC 1939 §4: "the POP3 server then
// acquires an exclusive-access lock on the maildrop").
func (s *session) loggedIn(u *auth.User, method string) error {
	s.authUser = u.Name
	if s.srv.Users == nil {
		s.srv.Log.Error("pop3d: no user resolver", "user", u.Name)
		s.reply("-ERR [SYS/TEMP] Couldn't open INBOX.")
		return nil
	}
	root, q, err := s.srv.Users(s.ctx, u)
	if err != nil {
		s.srv.Log.Error("pop3d: cannot find the user's mailbox", "user", u.Name, "err", err)
		s.reply("-ERR [SYS/TEMP] Couldn't open INBOX.")
		return nil
	}
	key := lockKey(root)
	if !s.srv.Locks.lock(key) {
		s.srv.MailLog.Printf("Mailbox is locked by another POP3 session: user=<%s>, rip=%s", u.Name, s.addr)
		s.reply("-ERR [IN-USE] Mailbox is locked by another POP3 session.")
		return nil
	}
	box, err := s.srv.openBox(s.ctx, root, q)
	if err != nil {
		s.srv.Locks.unlock(key)
		s.srv.Log.Error("pop3d: cannot open INBOX", "user", u.Name, "root", root, "err", err)
		s.reply("-ERR [SYS/TEMP] Couldn't open INBOX.")
		return nil
	}
	s.box, s.root, s.login = box, key, u.Name
	s.msgs = slices.Clone(box.Messages())
	s.uidValidity = box.Status().UIDValidity
	s.deleted = make([]bool, len(s.msgs))
	s.seen = make([]bool, len(s.msgs))
	for _, m := range s.msgs {
		s.total += m.Size
	}
	s.state = stateTransaction
	tlsNote := ""
	if s.tls {
		tlsNote = ", TLS"
	}
	s.srv.MailLog.Printf("Login: user=<%s>, method=%s, rip=%s, lip=%s%s", u.Name, method, s.addr, s.local, tlsNote)
	s.reply("+OK Logged in.")
	return nil
}
