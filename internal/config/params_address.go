package config

// addressParams are the parameters of address rewriting and resolution
// (internal/rewrite, the trivial-rewrite(8) equivalent); see Param.
// Defaults are Postfix 3.7's at compatibility_level 3.6.
var addressParams = []Param{
	// Canonicalisation (ADDRESS_REWRITING_README "Rewrite addresses to standard form").
	{Name: "append_at_myorigin", Default: "yes", Type: Bool, Doc: "Append @$myorigin to addresses without a domain (local rewriting context)."},
	{Name: "append_dot_mydomain", Default: "${{$compatibility_level} <level {1} ? {yes} : {no}}", Type: Bool, Doc: "Append .$mydomain to domains without a dot (local rewriting context)."},
	{Name: "swap_bangpath", Default: "yes", Type: Bool, Doc: "Rewrite UUCP-style site!user to user@site."},
	{Name: "allow_percent_hack", Default: "yes", Type: Bool, Doc: "Rewrite user%domain to user@domain."},
	{Name: "remote_header_rewrite_domain", Default: "", Type: String, Doc: "Domain for completing incomplete header addresses from remote clients; empty: leave them alone."},
	{Name: "local_header_rewrite_clients", Default: "permit_inet_interfaces permit_sasl_authenticated", Type: List, Doc: "Clients whose message headers are rewritten in the local context (smtpd): header addresses completed, missing Date:, Message-ID: and From: added. mailhorn adds permit_sasl_authenticated to Postfix's default so that submissions are groomed."},
	{Name: "recipient_delimiter", Default: "", Type: String, Doc: "Characters that separate a user name from an address extension (user+ext)."},
	{Name: "propagate_unmatched_extensions", Default: "canonical, virtual", Type: List, Doc: "Which lookups carry an address extension that did not match over to the result (canonical, virtual, alias, forward, include, generic)."},

	// Canonical mapping and masquerading.
	{Name: "canonical_maps", Default: "", Type: List, Doc: "Tables mapping sender and recipient addresses (canonical(5))."},
	{Name: "sender_canonical_maps", Default: "", Type: List, Doc: "Tables mapping sender addresses, searched before canonical_maps."},
	{Name: "recipient_canonical_maps", Default: "", Type: List, Doc: "Tables mapping recipient addresses, searched before canonical_maps."},
	{Name: "canonical_classes", Default: "envelope_sender, envelope_recipient, header_sender, header_recipient", Type: List, Doc: "Addresses subject to canonical_maps."},
	{Name: "sender_canonical_classes", Default: "envelope_sender, header_sender", Type: List, Doc: "Addresses subject to sender_canonical_maps."},
	{Name: "recipient_canonical_classes", Default: "envelope_recipient, header_recipient", Type: List, Doc: "Addresses subject to recipient_canonical_maps."},
	{Name: "masquerade_domains", Default: "", Type: List, Doc: "Domains to strip subdomains down to (host.example.com -> example.com); !domain excludes."},
	{Name: "masquerade_exceptions", Default: "", Type: List, Doc: "Local parts never masqueraded (e.g. root)."},
	{Name: "masquerade_classes", Default: "envelope_sender, header_sender, header_recipient", Type: List, Doc: "Addresses subject to masquerading."},

	// Virtual aliasing.
	{Name: "virtual_maps", Default: "", Type: List, Doc: "Obsolete name of virtual_alias_maps."},
	{Name: "virtual_alias_maps", Default: "$virtual_maps", Type: List, Doc: "Tables redirecting addresses of any domain to other addresses (virtual(5))."},
	{Name: "virtual_alias_domains", Default: "$virtual_alias_maps", Type: List, Doc: "Domains whose addresses exist only in virtual_alias_maps; other addresses there are unknown."},
	{Name: "virtual_alias_expansion_limit", Default: "1000", Type: Int, Doc: "Maximum number of addresses one address may expand into."},
	{Name: "virtual_alias_recursion_limit", Default: "1000", Type: Int, Doc: "Maximum nesting depth of virtual alias expansion."},
	{Name: "virtual_alias_address_length_limit", Default: "1000", Type: Int, Doc: "Maximum length of an address produced by virtual alias expansion."},

	// Address classes and routing (ADDRESS_CLASS_README).
	{Name: "virtual_mailbox_maps", Default: "", Type: List, Doc: "Tables of valid addresses in virtual mailbox domains (and their mailbox paths)."},
	{Name: "virtual_mailbox_domains", Default: "$virtual_mailbox_maps", Type: List, Doc: "Domains delivered by $virtual_transport."},
	{Name: "virtual_transport", Default: "virtual", Type: String, Doc: "Transport for virtual mailbox domains, transport[:nexthop]."},
	{Name: "relay_domains", Default: "${{$compatibility_level} <level {2} ? {$mydestination} : {}}", Type: List, Doc: "Domains this system relays mail to (relay address class)."},
	{Name: "relay_transport", Default: "relay", Type: String, Doc: "Transport for relay domains, transport[:nexthop]."},
	{Name: "relay_recipient_maps", Default: "", Type: List, Doc: "Tables of valid recipients in relay domains (smtpd)."},
	{Name: "default_transport", Default: "smtp", Type: String, Doc: "Transport for all other destinations, transport[:nexthop]."},
	{Name: "local_transport", Default: "local:$myhostname", Type: String, Doc: "Transport for local domains ($mydestination, interface addresses)."},
	{Name: "transport_maps", Default: "", Type: List, Doc: "Tables overriding transport and next hop per address or domain (transport(5))."},
	{Name: "parent_domain_matches_subdomains", Default: "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps", Type: List, Doc: "Features where a domain pattern also matches its subdomains (otherwise .domain is needed)."},
	{Name: "sender_dependent_relayhost_maps", Default: "", Type: List, Doc: "Tables giving a relayhost per sender address, overriding $relayhost."},
	{Name: "empty_address_relayhost_maps_lookup_key", Default: "<>", Type: String, Doc: "sender_dependent_relayhost_maps key for the null sender."},
	{Name: "sender_dependent_default_transport_maps", Default: "", Type: List, Doc: "Tables giving a default_transport per sender address."},
	{Name: "empty_address_default_transport_maps_lookup_key", Default: "<>", Type: String, Doc: "sender_dependent_default_transport_maps key for the null sender."},
	{Name: "relocated_maps", Default: "", Type: List, Doc: "Tables of moved users: mail to them bounces with the new address (relocated(5))."},
	{Name: "resolve_dequoted_address", Default: "yes", Type: Bool, Doc: "Look for routing operators (@ % !) inside quoted local parts, to stop \"user@domain\"@relay relay attacks."},
	{Name: "resolve_null_domain", Default: "no", Type: Bool, Doc: "Resolve user@ as a local address instead of as invalid."},
	{Name: "resolve_numeric_domain", Default: "no", Type: Bool, Doc: "Resolve user@ipaddress as user@[ipaddress] instead of as invalid."},
	{Name: "allow_min_user", Default: "no", Type: Bool, Doc: "Allow recipients starting with '-' (refused by default: commands may take them for options)."},
	{Name: "empty_address_recipient", Default: "MAILER-DAEMON", Type: String, Doc: "Local part given to an empty recipient address."},
	{Name: "show_user_unknown_table_name", Default: "yes", Type: Bool, Doc: "Name the table in \"User unknown\" rejections."},
}
