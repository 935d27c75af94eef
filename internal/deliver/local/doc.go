// Package local is the local(8) delivery agent: mail for users of the
// domains in mydestination, one recipient per request
// (local_destination_recipient_limit = 1).
//
// For each recipient it follows local(8)'s order: the Delivered-To loop
// check (5.4.6), alias expansion through alias_maps (user+ext, then user;
// through the aliases Expander), then for a user with an account her
// .forward file (the first existing forward_path entry), then her mailbox:
// a Maildir under her home when home_mailbox ends in "/", an mbox file
// under her home for any other home_mailbox, else the mbox file
// mail_spool_directory/USER. A name with no alias and no account goes to
// luser_relay when set, is discarded with a warning for postmaster and
// mailer-daemon, and bounces otherwise (5.1.1).
//
// Addresses that are not delivered here (remote ones, another user named
// in a .forward or :include: file, the members of an alias that has an
// owner-) are forwarded: one new message per envelope sender through the
// Submitter (cleanup), with a Received: and a Delivered-To: header on top.
// The original recipient is then "sent" with "forwarded as ID".
//
// Everything is planned before anything is written: if one target has to
// wait (a table or passwd failure), nothing is delivered and the
// recipient is deferred, so a retry does not duplicate the others.
//
// Mailboxes, /file and |command targets are written through a
// privsep.Runner with local(8)'s rights: the user for her mailbox and for
// targets of her .forward; the owner of the alias table or :include: file
// for their targets; default_privs instead of root (root's own mailbox is
// delivered as root). Commands get local(8)'s environment and
// command_time_limit.
//
// mbox delivery is Postfix's: the file is opened without following a
// symbolic link and must have one link and (strict_mailbox_ownership)
// belong to the user; it is locked with a dotlock (PATH.lock, created
// exclusively, removed when older than stale_lock_time) and an fcntl lock
// (open file description lock on Linux, so concurrent deliveries in this
// process exclude each other too), tried deliver_lock_attempts times
// deliver_lock_delay apart; the message gets a "From sender  asctime" line,
// Return-Path:, X-Original-To:, Delivered-To:, ">From " quoting of lines
// that start with "From " (mboxo, as Postfix: ">From " is not quoted again)
// and an empty line at the end; it is fsynced, and any failure truncates
// the file back to its former size. mailbox_size_limit bounds the file
// (5.2.2).
//
// Security: |command and /file targets are allowed only from where
// allow_mail_to_commands and allow_mail_to_files say (never from the
// recipient address itself); they run as their owner, default_privs
// instead of root (package privsep). .forward files are read with the agent's
// rights, after checks on the opened file (regular, owned by the user or
// root, not world-writable, not a symbolic link). Paths come from the
// passwd database and main.cf, never from the message; an address
// extension with a '/' is dropped before it can reach forward_path.
//
// Implements: local(8) (alias, .forward, mailbox and Maildir delivery,
// luser_relay, unknown users), postconf(5) forward_path attributes,
// mailbox locking as Postfix's mbox_open and dot_lockfile, the Maildir
// specification through package store, RFC 3463 status codes, RFC 3461
// §6.2.7 DSN handling of forwarded mail.
package local
