// Package pipe is the pipe(8) delivery agent: master.cf services such as
//
//	maildrop unix - n n - - pipe flags=DRhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
//
// run their command once per delivery request, with the message on
// standard input and the request's recipients in the arguments: an
// argument holding ${recipient}, ${original_recipient}, ${user},
// ${extension} or ${mailbox} is repeated for each recipient. The flags
// add a From_ line (F), Return-Path: (R), X-Original-To: (O) and
// Delivered-To: (D, with a mail loop check) and transform the copy
// (">" quoting, "." stuffing, eol=, a final blank line with B); h, q and u
// fold and quote the address macros. The exit status maps as Postfix's
// pipe_command: 0 sent, sysexits(3) codes by their table (EX_TEMPFAIL and
// EX_OSERR deferred), an RFC 3463 code at the start of the output wins,
// other codes bounce (5.3.0) with the command's output.
//
// Security: the command runs through a privsep.Runner with user='s uid
// and gid (or user=name:group's group) — never root nor mail_owner — in a
// process group of its own, killed at SERVICE_time_limit. argv is executed
// directly, never by a shell; macro values come from the envelope and are
// passed as whole arguments, so an address cannot inject shell syntax
// (put "--" before ${recipient}, as pipe(8) advises, against addresses
// that look like options).
//
// Implements: pipe(8) (Postfix 3.x attributes except chroot=), RFC 3463.
package pipe
