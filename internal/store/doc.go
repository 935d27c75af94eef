// Package store is the message store: Maildir folders (readable by any
// Maildir program) written by the delivery agents and, later, read by the
// IMAP and POP3 servers through a per-mailbox index.
//
// Delivery follows the Maildir specification (https://cr.yp.to/proto/maildir.html):
// write tmp/NAME, fsync it, rename it to new/NAME, fsync new/. A message is
// reported delivered only after that. Names are unique per host, process and
// delivery (time, microseconds, pid, counter, host) and carry Maildir++'s
// ",S=size".
//
// Security: the caller has already chosen the mailbox path from trusted
// configuration; this package never builds paths from message content.
package store
