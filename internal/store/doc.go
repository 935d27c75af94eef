// Package store is the message store: Maildir folders (readable by any
// Maildir program) written by the delivery agents (Writer) and read by the
// IMAP and POP3 servers (Store, User, Mailbox) through a per-mailbox index.
//
// Delivery follows the Maildir specification (https://cr.yp.to/proto/maildir.html):
// write tmp/NAME, fsync it, rename it to new/NAME, fsync new/. A message is
// reported delivered only after that. Names are unique per host, process and
// delivery (time, microseconds, pid, counter, host) and carry Maildir++'s
// ",S=size".
//
// Readers see a user's tree in the Maildir++ layout (INBOX is the root
// Maildir, folder "A/B" the directory ".A.B"), with Dovecot's file names
// where Dovecot has one (subscriptions, dovecot-keywords, ",W=" sizes,
// ":2,DFPRST" plus keyword letters) and mailhorn's own index
// (mailhorn.index, binary, checksummed, rebuilt from the files when lost
// or damaged). docs/store.md describes the layout and the formats.
// IMAP semantics follow RFC 9051 (UIDs, sequence numbers, EXPUNGE order),
// RFC 7162 (MODSEQ, UNCHANGEDSINCE), RFC 4315 (COPY UIDs), RFC 6851
// (MOVE), RFC 6154 (special-use folders), RFC 9208 (quota usage).
//
// Security: the caller has already chosen the user's root from trusted
// configuration (UserRoot); mailbox names from clients pass CheckName,
// which admits only names that map to one directory directly under the
// root; file names read from an index are checked to stay in cur/. This
// package never builds paths from message content.
package store
