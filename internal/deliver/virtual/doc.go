// Package virtual is the virtual(8) delivery agent: it delivers to mailboxes
// named by virtual_mailbox_maps under virtual_mailbox_base, owned by the
// uid/gid from virtual_uid_maps/virtual_gid_maps, for domains that have no
// Unix accounts. Maildir only for now (a table result ending in "/"); an
// mbox result is deferred with a clear reason.
//
// It follows Postfix's virtual(8) manual: the lookup order of
// virtual_mailbox_maps (user@domain, then @domain; never the bare user), the
// Return-Path: and Delivered-To: headers added at the top, the Delivered-To
// loop check (5.4.6), unknown users bounced (5.1.1), table failures and
// write errors deferred, virtual_mailbox_limit (5.2.2) and
// virtual_minimum_uid.
//
// Security: mailbox paths come only from virtual_mailbox_maps (trusted
// configuration) prefixed with virtual_mailbox_base, never from the
// message; a uid below virtual_minimum_uid (root, system accounts) is
// refused. Without root the files belong to the running user; as root they
// are given to the table's uid/gid (running the whole delivery as that user
// comes with the master's privilege separation).
package virtual
