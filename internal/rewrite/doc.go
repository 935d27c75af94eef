// Package rewrite is mailhorn's trivial-rewrite: it puts addresses in
// canonical form, applies canonical_maps and masquerading, expands virtual
// aliases, and resolves a recipient to its address class, transport, next
// hop and final recipient.
//
// It implements the behaviour described in Postfix's trivial-rewrite(8),
// ADDRESS_REWRITING_README, ADDRESS_CLASS_README, canonical(5), virtual(5),
// transport(5), relocated(5) and the postconf(5) entries of the parameters
// declared in internal/config/params_address.go. Addresses are strings in
// internal form (local part unquoted), as queue files store them.
//
// A Rewriter is built once from a *config.Config and is safe for concurrent
// use: it holds no mutable state besides the opened tables, which are
// themselves safe for concurrent lookups.
//
// Security notes: addresses come from remote clients. Routing operators
// (% ! and @ inside quoted local parts) are honoured only as far as Postfix
// honours them, and Resolve flags addresses that still carry such operators
// after resolution (FlagRouted) so that smtpd can refuse to relay them.
// Every loop is bounded (the resolver by the address length, canonical
// mapping by 10 rounds, virtual aliasing by virtual_alias_recursion_limit
// and virtual_alias_expansion_limit). A table that fails makes the call
// fail with an error (a temporary failure), never "not found".
package rewrite
