// Package cleanup is the single entry into the mail queue, the equivalent of
// Postfix's cleanup(8): smtpd, pickup and the bounce generator hand it an
// envelope and the message content, and it returns a queue ID once the
// queue file is durable.
//
// What Submit does, in order:
//
//   - rewrites the envelope sender and recipients (always in the local
//     context: canonicalisation, canonical maps, masquerading, through a
//     Rewriter), expands recipients through virtual_alias_maps, and removes
//     duplicate recipients (same final address, original address, DSN
//     ORCPT and NOTIFY; duplicate_filter_limit);
//   - streams the content into a new queue file with line endings
//     normalised (CRLF or LF in, LF out; a bare CR is data; a final newline
//     is added when missing), prepending Message.Received;
//   - in the primary header block: counts Received: headers (hopcount_limit),
//     truncates a header longer than header_size_limit, drops the headers of
//     message_drop_headers, rewrites the addresses of sender and recipient
//     headers when the message is in a header rewriting context, and adds
//     missing (Resent-)Message-Id:, Date:, From: and the
//     undisclosed_recipients_header where Postfix does (local context,
//     remote_header_rewrite_domain set, or always_add_missing_headers);
//   - enforces message_size_limit on the queue file, commits it (file and
//     directory entry fsynced), logs "ID: message-id=<...>" and tells the
//     Notifier.
//
// Memory: only the header block is held, and only up to about
// header_size_limit; a header block larger than that is streamed like the
// body. The queue file is created when the header block ends or outgrows
// that limit, because the envelope written first must already say whether
// the message bounces for too many hops: Received: headers beyond that
// point are not counted (every MTA prepends its own, so they are at the top).
//
// Deliberate differences from Postfix, each documented in docs/cleanup.md:
// too many hops gives an accepted message whose recipients all bounce
// (queue attribute "bounce" = "5.4.6 Too many hops") instead of a 554 5.4.0
// rejection in the SMTP session; address headers whose addresses do not
// change are kept byte for byte instead of being re-formatted; the
// obsolete "Name :" header form is kept as it is; and no "expanded" DSN
// SUCCESS notice is sent for virtual alias expansion (NOTIFY=SUCCESS is
// removed from the expanded recipients, as Postfix does).
//
// Security: the content is untrusted. Nothing in it is executed or used as
// a path; memory use is bounded whatever its shape (long lines, huge
// headers, no line endings); header addresses are rewritten only in a
// rewriting context, so remote clients cannot make us rewrite their
// headers unless configured so.
//
// Implements: RFC 5322 §3.6 (header fields: Date, Message-ID, From, the
// Resent- fields; §3.6.3 undisclosed recipients group), RFC 5321 §6.3
// (loop detection by counting Received: lines), RFC 3461 §6.2.7 (DSN and
// alias expansion), RFC 3463 status codes; Postfix's cleanup(8),
// postconf(5) header_size_limit, hopcount_limit, duplicate_filter_limit,
// always_add_missing_headers, undisclosed_recipients_header,
// message_drop_headers, enable_original_recipient.
package cleanup
