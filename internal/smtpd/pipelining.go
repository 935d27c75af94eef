package smtpd

import (
	"strconv"
)

// checkPipelining notices improper command pipelining (RFC 2920), as
// Postfix's smtpd does for reject_unauth_pipelining: the client sent more
// input that it could not yet know it was allowed to send. That is input
// before the greeting (verb "CONNECT"); input behind a command that must
// end a pipelined group (HELO, EHLO, LHLO, DATA, NOOP, VRFY: Postfix's
// SMTPD_CMD_FLAG_LAST; input behind STARTTLS is not counted, it is thrown
// away unread, see cmdStarttls); and input behind any command before EHLO or after
// HELO, when the client has not been told that PIPELINING exists. Like
// Postfix, the first time sets a flag for the rest of the session
// (Info.Pipelined) and logs "improper command pipelining after VERB
// from CLIENT: INPUT".
func (s *session) checkPipelining(verb string, greeting bool) {
	if s.info.Pipelined || verb == "STARTTLS" {
		return
	}
	if !greeting {
		switch verb {
		case "HELO", "EHLO", "LHLO", "DATA", "NOOP", "VRFY":
		default:
			if s.info.Protocol != "SMTP" {
				return
			}
		}
	}
	pending, ok := s.pendingInput()
	if !ok {
		return
	}
	s.info.Pipelined = true
	q := strconv.Quote(pending)
	s.log.Printf("improper command pipelining after %s from %s: %s", verb, s.client, q[1:len(q)-1])
}

// pendingInput tells whether the client has sent input that the session
// has not read yet, and gives up to 100 octets of it for the log: from
// the session's buffer, else from the socket (left there: it is only
// peeked at; nothing is shown if it is TLS records).
func (s *session) pendingInput() (string, bool) {
	if n := s.r.Buffered(); n > 0 {
		b, _ := s.r.Peek(min(n, 100))
		return string(b), true
	}
	b, ok := socketPending(s.raw)
	if !ok {
		return "", false
	}
	if s.tlsState != nil {
		return "", true
	}
	return string(b), true
}
