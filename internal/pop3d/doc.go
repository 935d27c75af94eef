// Package pop3d is mailhorn's POP3 server (Dovecot's pop3 and pop3-login
// in one): RFC 1939 (USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT,
// TOP, UIDL), RFC 2449 (CAPA, extended response codes [IN-USE], [AUTH],
// [SYS/TEMP], [SYS/PERM]; PIPELINING), RFC 2595 (STLS) and RFC 5034 (AUTH
// with SASL initial response), over the message store's INBOX.
//
// A session's maildrop is a snapshot of the INBOX taken at login: its
// messages in UID order numbered 1..n, each with its RFC822.SIZE (octets
// with CRLF line endings, as RFC 1939 §11 wants). DELE only marks; the
// marked messages are flagged \Deleted and expunged when the client sends
// QUIT (the UPDATE state, RFC 1939 §6), and +OK is answered only once they
// are gone. A session that ends any other way (lost connection, timeout,
// server shutdown) changes nothing. RETR marks the message \Seen, also at
// QUIT, as Dovecot does (pop3_no_flag_updates=no), so that IMAP clients
// of the same mailbox see what was read.
//
// UIDL strings are fmt.Sprintf("%08x%08x", uidvalidity, uid): stable across
// sessions for as long as the mailbox keeps its UIDVALIDITY, and the same
// numbers an IMAP client sees as UIDVALIDITY and UID.
//
// Only one POP3 session may hold a mailbox at a time (keyed by the
// mailbox's root directory): the second gets "-ERR [IN-USE]".
//
// Security notes:
//   - With TLSAuthOnly (pop3d_tls_auth_only, the default) USER, PASS and
//     AUTH are refused before STLS with "-ERR [AUTH] Plaintext
//     authentication disallowed on non-secure (SSL/TLS) connections." and
//     CAPA offers neither USER nor SASL.
//   - Input pipelined behind STLS is discarded, never executed: the
//     reader is replaced by one over the TLS connection (RFC 2595 §3.2,
//     CVE-2011-0411's class of bug).
//   - An unknown user and a wrong password get the same reply ("-ERR
//     [AUTH] Authentication failed.") after the same delay: both come
//     from the Authenticator, which also counts failures per client; a
//     client over the limit gets "-ERR [SYS/TEMP]" and is disconnected.
//   - Command lines are bounded (Options.LineLimit), and so is the number
//     of bad commands in a row; idle clients are disconnected after
//     Options.Timeout (at least RFC 1939's ten minutes by default).
//   - APOP is not offered: it needs the password in clear on the server.
package pop3d
