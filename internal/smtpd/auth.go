package smtpd

import (
	"encoding/base64"
	"errors"
	"strings"

	"mailhorn/internal/auth"
	"mailhorn/internal/control"
)

// SASLSecurity is what smtpd_sasl_security_options (and
// smtpd_sasl_tls_security_options) say about the mechanisms to offer.
// Only two of Cyrus's options mean something for mailhorn's mechanisms:
// noplaintext drops PLAIN and LOGIN, noanonymous drops ANONYMOUS. The
// others (noactive, nodictionary, mutual_auth, forward_secrecy) are
// accepted and have no effect: none of our mechanisms is open to the
// attacks they name more than another.
type SASLSecurity struct {
	NoPlaintext bool
	NoAnonymous bool
}

// ParseSASLSecurity reads a smtpd_sasl_security_options value: a list of
// the options above, separated by blanks or commas.
func ParseSASLSecurity(v string) (SASLSecurity, error) {
	var s SASLSecurity
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\n' }) {
		switch strings.ToLower(w) {
		case "noplaintext":
			s.NoPlaintext = true
		case "noanonymous":
			s.NoAnonymous = true
		case "noactive", "nodictionary", "mutual_auth", "forward_secrecy":
		default:
			return s, errors.New("unknown SASL security option " + w)
		}
	}
	return s, nil
}

// allows tells whether a mechanism passes these options.
func (sec SASLSecurity) allows(mech string) bool {
	switch mech {
	case "PLAIN", "LOGIN":
		return !sec.NoPlaintext
	case "ANONYMOUS":
		return !sec.NoAnonymous
	}
	return true
}

// authMechanisms lists the SASL mechanisms offered to this client now:
// none when AUTH is off, when the client is in
// smtpd_sasl_exceptions_networks, or before TLS with smtpd_tls_auth_only.
func (s *session) authMechanisms() []string {
	o := s.opt
	if o.Auth == nil || o.LMTP || (o.AuthTLSOnly && s.tlsState == nil) {
		return nil
	}
	if o.AuthExempt != nil && s.info.Addr.IsValid() && o.AuthExempt(s.info.Addr) {
		return nil
	}
	sec := o.AuthSecurity
	if s.tlsState != nil {
		sec = o.AuthTLSSecurity
	}
	var out []string
	for _, m := range o.Auth.Mechanisms(s.tlsState != nil) {
		if m = strings.ToUpper(m); sec.allows(m) {
			out = append(out, m)
		}
	}
	return out
}

// authRejectText is the reason in Postfix's 535 reply and warning. With its
// Dovecot back end (the one we chose to match) Postfix 3.7 answers a wrong
// password or an unknown user alike with "(reason unavailable)".
const authRejectText = "(reason unavailable)"

// cmdAuth runs the AUTH command (RFC 4954 §4) with Postfix's replies. The
// delay after a failure is the Authenticator's: the session adds none, so
// an unknown user and a wrong password answer alike, at the same time.
func (s *session) cmdAuth(arg string) error {
	if s.opt.HeloRequired && s.info.Helo == "" {
		return s.fail(503, "5.5.1", "Error: send HELO/EHLO first")
	}
	mechs := s.authMechanisms()
	if len(mechs) == 0 {
		// Postfix 3.7 says this also before STARTTLS with
		// smtpd_tls_auth_only: SASL is not active until TLS is.
		return s.fail(503, "5.5.1", "Error: authentication not enabled")
	}
	if s.info.SASLUser != "" {
		return s.fail(503, "5.5.1", "Error: already authenticated")
	}
	if s.txn != nil {
		return s.fail(503, "5.5.1", "Error: MAIL transaction in progress")
	}
	words := strings.Fields(arg)
	if len(words) < 1 || len(words) > 2 {
		return s.fail(501, "5.5.4", "Syntax: AUTH mechanism")
	}
	if r := s.srv.Policy.CheckAuth(s.ctx, &s.info); r != nil {
		s.replyR(r)
		if r.Code == 421 {
			return errHangup
		}
		return errFail
	}
	// The name as the client wrote it goes into the logs, as Postfix does
	// ("sasl_method=plain"); the comparison ignores case.
	logName := control.Printable(words[0])
	mech := strings.ToUpper(words[0])
	offered := false
	for _, m := range mechs {
		offered = offered || m == mech
	}
	if !offered {
		// Postfix with Dovecot answers 535 "Invalid authentication
		// mechanism"; RFC 4954 §4 asks for 504, which we give.
		s.authWarn(logName, "Invalid authentication mechanism", "")
		return s.fail(504, "5.5.4", "Unrecognized authentication type")
	}
	var resp []byte // nil: no initial response
	if len(words) == 2 {
		var err error
		if resp, err = decodeResponse(words[1]); err != nil {
			s.authWarn(logName, "Invalid base64 data in initial response", "")
			return s.fail(501, "5.5.2", "Cannot decode response")
		}
	}
	ex, err := s.opt.Auth.Start(s.ctx, mech, s.info.Addr, s.tlsState != nil)
	if err != nil {
		return s.authFailed(logName, nil, err)
	}
	for {
		challenge, done, err := ex.Next(s.ctx, resp)
		if err != nil {
			return s.authFailed(logName, ex, err)
		}
		if done {
			break
		}
		s.reply(334, "", base64.StdEncoding.EncodeToString(challenge))
		line, bareLF, err := readLine(s.r, s.opt.authResponseLimit())
		switch {
		case err == errLineTooLong:
			s.log.Warning("%s: request longer than %d", s.client, s.opt.authResponseLimit())
			return s.fail(500, "5.5.6", "SASL response limit exceeded")
		case err != nil:
			return err
		case bareLF && s.opt.BareNewline == BareNewlineReject:
			s.bareLFReject()
			return errHangup
		}
		if string(line) == "*" {
			s.log.Warning("%s: SASL %s authentication aborted", s.client, logName)
			return s.fail(501, "5.7.0", "Authentication aborted")
		}
		if resp, err = decodeResponse(string(line)); err != nil {
			s.authWarn(logName, "Invalid base64 data in continued response", ex.Username())
			return s.fail(501, "5.5.2", "Cannot decode response")
		}
	}
	user := ex.Username()
	if u := ex.User(); u != nil && u.Name != "" {
		user = u.Name
	}
	s.info.SASLMethod = ex.Mechanism()
	s.info.SASLUser = control.Printable(user)
	s.saslLogMethod = logName
	s.reply(235, "2.7.0", "Authentication successful")
	return nil
}

// authFailed answers an exchange that ended in err.
func (s *session) authFailed(logName string, ex auth.Exchange, err error) error {
	user := ""
	if ex != nil {
		user = ex.Username()
	}
	switch {
	case errors.Is(err, auth.ErrMechanism):
		s.authWarn(logName, "Invalid authentication mechanism", user)
		return s.fail(504, "5.5.4", "Unrecognized authentication type")
	case errors.Is(err, auth.ErrTooManyFailures):
		s.authWarn(logName, "too many authentication failures", user)
		s.reason = "too many authentication failures"
		s.reply(421, "4.7.0", s.opt.Hostname+" Error: too many authentication failures from "+s.info.Addr.String())
		return errHangup
	case errors.Is(err, auth.ErrFailed), errors.Is(err, auth.ErrMalformed):
		s.authWarn(logName, authRejectText, user)
		return s.fail(535, "5.7.8", "Error: authentication failed: "+authRejectText)
	case errors.Is(err, auth.ErrTemporary):
		s.authWarn(logName, err.Error(), user)
		return s.fail(454, "4.7.0", "Temporary authentication failure")
	case s.ctx.Err() != nil:
		return err
	default:
		s.srv.Log.Error("smtpd: authentication back end failed", "client", s.client, "mechanism", logName, "err", err)
		s.authWarn(logName, "temporary failure", user)
		return s.fail(454, "4.7.0", "Temporary authentication failure")
	}
}

// authWarn logs Postfix's failure line: "warning: name[addr]: SASL PLAIN
// authentication failed: REASON, sasl_username=USER".
func (s *session) authWarn(mech, reason, user string) {
	if user == "" {
		user = "(unavailable)"
	}
	s.log.Warning("%s: SASL %.100s authentication failed: %s, sasl_username=%.100s", s.client, mech, reason, control.Printable(user))
}

// decodeResponse decodes a client response: "=" is the empty response
// (RFC 4954 §4), anything else strict base64.
func decodeResponse(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// saslLogExtra is the ", sasl_method=..., sasl_username=..." part of the
// "ID: client=..." line; "" before AUTH.
func (s *session) saslLogExtra() string {
	if s.info.SASLUser == "" {
		return ""
	}
	return "sasl_method=" + s.saslLogMethod + ", sasl_username=" + s.info.SASLUser
}
