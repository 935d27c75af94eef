// Package imapd is mailhorn's IMAP server: IMAP4rev2 (RFC 9051) and
// IMAP4rev1 (RFC 3501) over the message store (internal/store), with the
// shared authentication service (internal/auth).
//
// The protocol engine is our own (wire.go: command reader with literals
// and the argument parser; the encoders append to one buffer per
// response) rather than go-imap's imapserver, whose v2 beta has a closed
// command set without QUOTA, ID, CONDSTORE/QRESYNC or SORT.
//
// Extensions: SASL-IR (4959), LITERAL+ (7888), ID (2971), ENABLE (5161),
// IDLE (2177), NAMESPACE (2342), UNSELECT (3691), UIDPLUS (4315),
// CHILDREN (3348), SPECIAL-USE and CREATE-SPECIAL-USE (6154),
// LIST-EXTENDED (5258), LIST-STATUS (5819), MOVE (6851), CONDSTORE and
// QRESYNC (7162), ESEARCH (4731), SEARCHRES (5182), SORT (5256),
// MULTIAPPEND (3502), STATUS=SIZE (8438), UTF8=ACCEPT (6855), QUOTA
// (9208).
//
// Security notes: nothing here runs as root. Before TLS, LOGIN and
// AUTHENTICATE are refused when TLSAuthOnly is set (LOGINDISABLED);
// commands pipelined behind STARTTLS are discarded with the plaintext
// reader. Authentication failures go through the auth service, which
// delays them and cuts off clients over the failure limit; unknown user
// and wrong password get the same answer. Command lines and literals are
// bounded (a synchronising literal over the limit is refused before the
// client sends it; a non-synchronising one ends the session unread).
// Mailbox names are checked before they reach the store: no empty, "."
// or ".." components, no leading dots, no control characters.
package imapd
