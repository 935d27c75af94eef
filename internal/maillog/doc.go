// Package maillog renders mail events (connections, acceptances, rejections,
// deliveries, deferrals, bounces, removals) as Postfix-compatible log lines,
// so that the tools administrators already use (pflogsumm, grep for a queue
// ID, fail2ban filters) read mailhorn's logs unchanged:
//
//	Nov 28 14:52:51 host mailhorn/smtpd[1234]: 6457F2A1C04D2001: client=localhost[127.0.0.1]
//	Nov 28 14:52:51 host mailhorn/virtual[1234]: 6457F2A1C04D2001: to=<bob@example.test>, relay=virtual, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)
//
// Debug and operational logs go through log/slog separately; this package is
// only for the mail log.
package maillog
