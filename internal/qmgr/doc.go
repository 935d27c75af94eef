// Package qmgr is the queue manager: it takes acknowledged messages from the
// queue (internal/queue), resolves their recipients to a transport and next
// hop, hands batches to the delivery agents with Postfix's concurrency
// limits, and alone decides what happens next: mark recipients done, retry
// later with backoff, return a delivery status notification (internal/dsn)
// to the sender, warn of delays, expire old mail, remove finished files.
//
// It follows the behaviour of Postfix's qmgr(8) and bounce(8) as documented
// there and in postconf(5) (queue_run_delay, minimal_backoff_time,
// maximal_backoff_time, maximal_queue_lifetime, bounce_queue_lifetime,
// delay_warning_time, *_destination_concurrency_limit,
// *_destination_recipient_limit, default_process_limit,
// qmgr_message_active_limit, bounce_size_limit, 2bounce_notice_recipient,
// double_bounce_sender). Notifications are RFC 3464 reports; DSN NOTIFY and
// RET (RFC 3461) are honoured. Differences from Postfix are listed in
// docs/queue.md.
//
// Durability: a recipient is marked done only after its delivery was
// reported durable by the agent, or after the notification that it bounced
// is itself durably queued. Nothing else is ever marked; a crash at any
// point leads to a retry, never to a loss.
//
// Security: the queue manager reads queue files written by cleanup only; a
// file that does not parse is moved to corrupt/ and never trusted. Reports
// quote remote text through internal/dsn, which keeps it out of headers.
package qmgr
