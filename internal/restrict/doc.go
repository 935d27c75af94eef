// Package restrict is the SMTP server's access policy: Postfix's
// smtpd_*_restrictions lists (client, helo, sender, relay, recipient,
// data, end-of-data) with their evaluation order, smtpd_delay_reject,
// smtpd_restriction_classes, warn_if_reject, defer_if_permit and
// defer_if_reject, access(5) tables and their actions, DNS block and allow
// lists, sender login checks, and the per-client rate limits counted by
// internal/anvil. A *Policy implements smtpd.Policy.
//
// Reply texts, codes and enhanced status codes are Postfix 3.7's
// (smtpd_check.c); the deliberate differences are listed in
// docs/restrictions.md.
//
// Security: every input (client name and address, HELO name, envelope
// addresses) comes from the network. It is only compared, looked up in
// tables or put into DNS queries; table results are parsed as access(5)
// actions, never executed. A table that fails is a temporary error (4xx),
// never a permit. Configuration mistakes (unknown restriction names,
// missing table arguments, an open relay) are errors when the policy is
// built, so the service does not start.
//
// Implements: RFC 5321 §4.2 replies and §3.6.2/§4.1.1.3 (postmaster is
// always accepted), RFC 3463 enhanced status codes, RFC 5782 DNS lists,
// RFC 7505 null MX; Postfix's postconf(5), access(5), SMTPD_ACCESS_README.
package restrict
