// Package maildrop is the file format, writer and reader of the maildrop
// queue ($queue_directory/maildrop), through which sendmail(1) hands local
// submissions to the pickup service, as Postfix's postdrop(1) does.
//
// A maildrop file is a queue file (docs/queue-format.md), written with the
// queue package's Encoder and read with its decoder, plus the rules below;
// docs/sendmail.md describes it for users.
//
//   - The writer creates "tmp.NAME" with O_EXCL and mode 0644, writes,
//     fsyncs and closes it, and only then renames it to NAME: a file under
//     a final name is complete. NAME is the submission time (13 hex
//     digits) and 128 random bits, so that nobody can guess another
//     user's file name in the unlistable directory.
//   - Attributes: sender_given=yes when the sender was given (-f, -r or
//     MAIL FROM in sendmail -bs); without it the S record is ignored and
//     the sender is the file owner's login name. fullname (-F),
//     rewrite_context (local, or remote for -G), envid (-V), ret, body
//     (-B), smtputf8. Unknown attributes are ignored.
//   - Recipients carry their DSN NOTIFY (-N) and ORCPT; recipients
//     extracted from headers (-t) follow the content.
//
// Security: everything in a maildrop file is untrusted. Any local user can
// write one, so Decode checks every field (no control characters, bounded
// sizes, valid values, no records the queue manager appends) and the
// reader decides nothing from the file that the file's owner could not
// have asked for with sendmail's own options: in particular the sender's
// identity is the file owner (see package pickup), never the file.
//
// Implements: Postfix's postdrop(1) maildrop queue, in mailhorn's queue
// file format.
package maildrop
