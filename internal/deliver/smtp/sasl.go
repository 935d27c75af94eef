package smtp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"mailhorn/internal/deliver"
)

// loginFor finds "user:password" in smtp_sasl_password_maps as Postfix
// does: with smtp_sender_dependent_authentication the sender, then
// "@domain" of the sender; then the server host name (when known), then
// the next hop as written in the request ("[host]:port", "domain").
func (a *Agent) loginFor(ctx context.Context, req *deliver.Request, d destination, t target) string {
	o := &a.opts
	if !o.SASL || o.Passwords == nil {
		return ""
	}
	var keys []string
	if o.SenderDependent && req.Sender != "" {
		keys = append(keys, req.Sender)
		if at := strings.LastIndexByte(req.Sender, '@'); at >= 0 {
			keys = append(keys, req.Sender[at:])
		}
	}
	if t.name != "" {
		keys = append(keys, t.name)
	}
	keys = append(keys, req.Nexthop)
	if d.host != "" && d.host != req.Nexthop {
		keys = append(keys, d.host)
	}
	for _, k := range keys {
		v, found, err := o.Passwords.Lookup(ctx, strings.ToLower(k))
		if err != nil {
			a.log.Warn("smtp_sasl_password_maps lookup failed", "key", k, "err", err)
			return ""
		}
		if found {
			return v
		}
	}
	return ""
}

// auth authenticates with PLAIN (RFC 4616) or LOGIN, which send the
// password as it is: only over TLS, as Postfix's default
// smtp_sasl_security_options=noplaintext would refuse them otherwise.
func (s *session) auth(o *Options, login string) *stageError {
	user, pass, _ := strings.Cut(login, ":")
	if s.tls == "" {
		return &stageError{dsn: "4.7.0", fatal: true, text: fmt.Sprintf("SASL authentication to %s refused: the connection is not encrypted (PLAIN and LOGIN need TLS)", s.t.hostLabel())}
	}
	mechs := strings.Fields(strings.ToUpper(s.ext["AUTH"]))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	fail := func(rep Reply) *stageError {
		return &stageError{dsn: "4.7.0", fatal: true, remote: "smtp; " + rep.String(),
			text: fmt.Sprintf("SASL authentication failed; server %s said: %s", s.t.hostLabel(), rep)}
	}
	switch {
	case has("PLAIN"):
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
		if err := s.send("AUTH PLAIN " + ir); err != nil {
			return s.ioFailure(err, "sending AUTH")
		}
	case has("LOGIN"):
		if err := s.send("AUTH LOGIN"); err != nil {
			return s.ioFailure(err, "sending AUTH")
		}
		for _, v := range []string{user, pass} {
			rep, err := s.read(o.Timeouts.Helo)
			if err != nil {
				return s.ioFailure(err, "receiving the AUTH reply")
			}
			if rep.Code != 334 {
				return fail(rep)
			}
			if err := s.send(base64.StdEncoding.EncodeToString([]byte(v))); err != nil {
				return s.ioFailure(err, "sending AUTH")
			}
		}
	default:
		return &stageError{dsn: "4.7.0", fatal: true, text: fmt.Sprintf("SASL authentication failed: no mechanism available with %s (offered: %s)", s.t.hostLabel(), s.ext["AUTH"])}
	}
	rep, err := s.read(o.Timeouts.Helo)
	if err != nil {
		return s.ioFailure(err, "receiving the AUTH reply")
	}
	if rep.Code != 235 {
		return fail(rep)
	}
	return nil
}
