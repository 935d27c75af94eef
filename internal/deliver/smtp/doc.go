// Package smtp is the smtp(8) and lmtp(8) delivery agent: it sends one
// message to the recipients of one next hop over SMTP (RFC 5321) or LMTP
// (RFC 2033) and answers per recipient sent / deferred / bounced with the
// remote server's reply.
//
// It implements, after Postfix's smtp(8) manual: next hops "domain" (MX
// lookup, preference order, random among equal preferences, implicit MX,
// RFC 7505 null MX → 5.1.10), "host:port", "[host]:port" (no MX lookup),
// and for LMTP "unix:/path" and "inet:host:port"; NXDOMAIN bounces
// (5.1.2), any other name service failure defers (4.4.3); inet_protocols;
// smtp_mx_address_limit and smtp_mx_session_limit; the next address after
// a refused connection or a 4xx (or, with smtp_skip_5xx_greeting, 5xx)
// greeting; smtp_fallback_relay; EHLO with HELO fallback; STARTTLS at
// smtp_tls_security_level none, may, encrypt, verify (the MX host name)
// and secure (smtp_tls_secure_cert_match: nexthop, dot-nexthop); SASL
// PLAIN or LOGIN from smtp_sasl_password_maps (sender, @domain, host,
// next hop); PIPELINING (RFC 2920: MAIL, every RCPT and DATA in one
// write); SIZE (RFC 1870: too large → 5.3.4 without sending); BODY=8BITMIME
// (RFC 6152); SMTPUTF8 (RFC 6531: needed and not offered → 5.6.7); DSN
// parameters NOTIFY, ORCPT, RET, ENVID (RFC 3461, 6533); per-stage
// timeouts; and an in-process connection cache (RSET before reuse).
//
// Differences from Postfix, on purpose or not yet done: an empty
// smtp_tls_security_level means "may" (Postfix: none); at "may" a failed
// TLS handshake moves on to the next address instead of retrying in
// plaintext; PLAIN and LOGIN are only sent over TLS (Postfix:
// smtp_sasl_security_options); 8-bit content goes as it is to a server
// without 8BITMIME (no conversion to quoted-printable); BINARYMIME content
// bounces (no BDAT); SMTPUTF8 need is judged from the envelope only; no
// DANE, no MX-is-myself loop detection, no smtp_tls_policy_maps.
//
// Security: everything from the network is bounded (reply lines of at most
// 2048 bytes, 200 lines a reply) and parsed without panics (fuzzed); each
// stage has its deadline and ctx cancels a delivery at once. Passwords are
// never sent over an unencrypted connection. At "may" and "encrypt" the
// server's certificate is not checked (RFC 7435 opportunistic security);
// "verify" and "secure" check the chain against smtp_tls_CAfile/CApath
// and the name. The agent runs as the mail owner, never as root.
package smtp
