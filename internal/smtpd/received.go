package smtpd

import (
	"crypto/tls"
	"fmt"
	"mailhorn/internal/maillog"
	"strings"
	"time"
)

// receivedHeader builds the Received: field smtpd prepends (RFC 5321 §4.4),
// in Postfix's layout:
//
//	Received: from helo (name [addr])
//		(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)
//		 key-exchange X25519)
//		(Authenticated sender: alice@example.org)
//		by myhostname (mailhorn) with ESMTPSA
//		for <rcpt>; Mon,  1 Jan 2024 12:00:00 +0000 (UTC)
//
// Postfix also writes "id QUEUEID" after the protocol; the queue ID does
// not exist until cleanup has written the file, so it is left out.
// Continuation lines are separated by "\n\t" as cleanup.Message wants.
func receivedHeader(s *session, rcpts []string, now time.Time, id string) string {
	var b strings.Builder
	helo := s.info.Helo
	if helo == "" {
		helo = s.info.Name
	}
	fmt.Fprintf(&b, "Received: from %s (%s [%s])", helo, s.info.Name, rfcAddr(s))
	if s.tlsState != nil {
		b.WriteString("\n\t")
		b.WriteString(tlsSummary(s.tlsState))
	}
	if s.opt.AuthenticatedHeader && s.info.SASLUser != "" {
		// smtpd_sasl_authenticated_header: off by default, since it
		// tells the world who sent the message.
		b.WriteString("\n\t(Authenticated sender: " + s.info.SASLUser + ")")
	}
	fmt.Fprintf(&b, "\n\tby %s (%s) with %s id %s", s.opt.Hostname, s.opt.MailName, s.withProtocol(), id)
	b.WriteString("\n\t")
	if len(rcpts) == 1 {
		fmt.Fprintf(&b, "for <%s>; ", rcpts[0])
	}
	b.WriteString(now.Format("Mon, _2 Jan 2006 15:04:05 -0700 (MST)"))
	return b.String()
}

// rfcAddr is the client address as Postfix writes it in headers:
// "IPv6:2001:db8::1" for IPv6.
func rfcAddr(s *session) string {
	a := s.info.Addr.Unmap()
	if a.Is6() {
		return "IPv6:" + a.String()
	}
	return a.String()
}

// tlsSummary describes a TLS session as Postfix's Received header does,
// with Go's names for versions and ciphers.
func tlsSummary(cs *tls.ConnectionState) string {
	name := tls.CipherSuiteName(cs.CipherSuite)
	bits := 128
	if strings.Contains(name, "AES_256") || strings.Contains(name, "CHACHA20") {
		bits = 256
	}
	s := fmt.Sprintf("(using %s with cipher %s (%d/%d bits)", maillog.TLSVersion(cs.Version), name, bits, bits)
	if cs.CurveID != 0 {
		s += "\n\t key-exchange " + cs.CurveID.String()
	}
	return s + ")"
}
