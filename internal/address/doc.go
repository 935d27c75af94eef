// Package address parses, validates and prints mail addresses.
//
// It implements the envelope syntax of RFC 5321 §4.1.2 (Reverse-path,
// Forward-path, Mailbox with Dot-string or Quoted-string local parts, domain
// names and address literals), source routes stripped as RFC 5321 §4.1.1.3
// and Postfix do, the ESMTP parameters that follow a path (RFC 5321 §4.1.2
// Mail-parameters) with xtext decoding (RFC 3461 §4), SMTPUTF8 addresses
// (RFC 6531 §3.3) and IDNA conversion of U-labels (RFC 5891), and a tolerant
// tokenizer for RFC 5322 §3.4 address lists in headers that can print the
// list again with only the addresses changed.
//
// Addresses are kept in Postfix's "internal" form: the local part unquoted.
// String and QuoteLocal give the "external" form, quoted where needed.
//
// Security notes: everything here parses input that comes from the network.
// Parsers never panic, bound their work by the input length, and report
// errors with the byte offset of the problem. UTF-8 in addresses is refused
// unless the caller says SMTPUTF8 was negotiated, so that an 8-bit address
// cannot slip into a session that promised 7-bit envelopes.
package address
