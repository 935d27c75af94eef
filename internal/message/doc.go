// Implementation notes; the package comment is in message.go.
//
// RFCs: 9051 §7.5.2 and 3501 §7.4.2 (ENVELOPE, BODYSTRUCTURE), 9051 §6.4.5
// (BODY[section]), 2045-2047 (MIME, encoded words), 2231 (parameter
// continuations and charsets), 5322 (addresses, dates), 6532 (message/global).
//
// Security: everything here reads untrusted mail. Parse does one pass over
// the content with bounded memory: at most MaxDepth nested entities
// (multiparts and enclosed messages together), MaxParts entities per
// message and MaxHeader bytes kept of any one header block (the rest of a
// longer header is skipped, its offsets stay right). Nothing panics on bad
// input; what cannot be understood becomes text/plain, as in Dovecot.
//
// Body lines (BODYSTRUCTURE): the line feeds of the body, as Dovecot
// counts them; a last line without one is not counted, so a one-line part
// before a boundary (whose CRLF belongs to the boundary) or a body
// without a final newline has 0 lines (testdata/corpus/one-line*.eml,
// checked against Dovecot 2.3).
//
// Wire strings: a value is written as a quoted string when it is 7-bit
// without CR, LF or NUL, else as a literal. Literals are valid for IMAP4rev1
// and IMAP4rev2 clients with or without UTF8=ACCEPT, so one cached form
// serves every session (Dovecot does the same for 8-bit header text).

package message
