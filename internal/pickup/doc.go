// Package pickup is mailhorn's pickup(8): it moves the files that
// sendmail(1) leaves in $queue_directory/maildrop into the queue, through
// cleanup, as Postfix's pickup daemon does.
//
// The service scans maildrop/ when it starts, when woken through Wake (the
// master) or the FIFO $queue_directory/public/pickup (sendmail writes one
// byte there after each submission; see Poke), and every Interval (5s by
// default) in case a wake-up was lost. Files are taken in name order,
// which is submission order. Each one is decoded (package maildrop),
// handed to cleanup in the local rewriting context with protocol "local",
// the sender's full name, a "Received: by $myhostname (mailhorn, from
// userid N)" header, and removed only after cleanup returned a queue ID:
// a crash in between gives at most a duplicate, never a loss. pickup
// logs Postfix's "ID: uid=N from=<sender>".
//
// Security: a maildrop file is untrusted input written by any local user.
// The sender's identity is the file's owner: without an explicit sender
// (sendmail -f, which Postfix allows any user too) the envelope sender is
// the owner's login name, and the Received header names the owner's uid.
// Files are opened without following symbolic links and must be regular
// files with one link (so that nobody can pass off somebody else's file as
// their own). A file that does not parse, whose owner has no account, or
// that cleanup rejects for good is moved to corrupt/ with a warning.
// message_size_limit and header_size_limit are enforced by cleanup.
//
// The maildrop directory is mode 1733 (anyone may create files, nobody but
// mail_owner may list them, the sticky bit keeps users from removing each
// other's files) and the wake-up FIFO mode 0622: Prepare sets them up.
//
// Implements: Postfix's pickup(8) and the maildrop half of postdrop(1);
// deliberate differences are listed in docs/sendmail.md.
package pickup
