// Package dsn writes delivery status notifications: RFC 3464
// multipart/report messages (report-type=delivery-status) with a
// human-readable part worded like Postfix's bounce(8) templates, a
// message/delivery-status part, and the original message (RFC 3462
// message/rfc822, or text/rfc822-headers for RET=HDRS or past the size
// bound). Addresses with non-ASCII characters use the utf-8 address type and
// message/global-delivery-status (RFC 6533).
//
// What to send, to whom and when is the queue manager's decision; this
// package only renders a report.
//
// Security: the report quotes text from remote servers and the original
// message; header fields it writes are folded and stripped of control
// characters so that a remote reply cannot inject header lines.
package dsn
