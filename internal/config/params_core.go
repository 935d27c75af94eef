package config

// Version is mailhorn's version, the default of mail_version.
const Version = "0.1.0"

// coreParams are the parameters of this area; see Param.
//
// Defaults are Postfix 3.7's (postconf -d) except where the test
// TestDefaultsMatchPostfix lists a deliberate difference.
var coreParams = []Param{
	// Identity. myhostname, mydomain and mynetworks are computed when not set
	// (see computed.go); their Default here is what the docs show.
	{Name: "myhostname", Type: String, Doc: "The fully-qualified name of this host (default: the OS host name, with \".localdomain\" appended when it has no dot)."},
	{Name: "mydomain", Type: String, Doc: "The local domain (default: $myhostname minus its first label, or \"localdomain\")."},
	{Name: "myorigin", Default: "$myhostname", Type: String, Doc: "The domain appended to locally-posted mail addresses without a domain."},
	{Name: "mydestination", Default: "$myhostname, localhost.$mydomain, localhost", Type: List, Doc: "Domains delivered locally by the local transport."},
	{Name: "mynetworks", Type: List, Doc: "Trusted client networks (default: computed from mynetworks_style and the host's interfaces)."},
	{Name: "mynetworks_style", Default: "${{$compatibility_level} <level {2} ? {subnet} : {host}}", Type: String, Values: []string{"host", "subnet", "class"}, Doc: "How the mynetworks default is computed: host, subnet or class."},
	{Name: "inet_interfaces", Default: "all", Type: List, Doc: "Network addresses to listen on for mail (all, loopback-only, or addresses)."},
	{Name: "inet_protocols", Default: "all", Type: List, Doc: "Internet protocols to use: all, ipv4, ipv6."},
	{Name: "proxy_interfaces", Type: List, Doc: "Addresses at which this host receives mail through a proxy or NAT."},
	{Name: "compatibility_level", Default: "3.6", Type: String, Doc: "Backwards-compatibility level; selects the defaults of some parameters."},
	{Name: "mail_name", Default: "mailhorn", Type: String, Doc: "The mail system name shown in the SMTP greeting and in bounces."},
	{Name: "mail_version", Default: Version, Type: String, Doc: "The version of the mail system."},
	{Name: "service_name", Type: String, Doc: "The master.cf name of the running service; set by mailhorn for each service, not in main.cf."},
	{Name: "multi_instance_name", Type: String, Doc: "The name of this instance in a multi-instance setup."},

	// Directories and ownership.
	{Name: "config_directory", Default: DefaultDir, Type: String, Doc: "Where main.cf and master.cf live (set with -c DIR or MAILHORN_CONFIG_DIR)."},
	{Name: "queue_directory", Default: "/var/spool/mailhorn", Type: String, Doc: "The root of the mail queue."},
	{Name: "data_directory", Default: "/var/lib/mailhorn", Type: String, Doc: "Where writable data (caches, indexes, TLS state) is kept."},
	{Name: "command_directory", Default: "/usr/sbin", Type: String, Doc: "Where the administration commands are installed."},
	{Name: "daemon_directory", Default: "/usr/libexec/mailhorn", Type: String, Doc: "Where helper programs are installed."},
	{Name: "mail_owner", Default: "mailhorn", Type: String, Doc: "The unprivileged account that owns the queue and runs the daemons."},
	{Name: "setgid_group", Default: "mailhorn-drop", Type: String, Doc: "The group allowed to write to the maildrop directory."},
	{Name: "default_privs", Default: "nobody", Type: String, Doc: "The account used for deliveries to external files and commands when no other applies."},

	// Limits.
	{Name: "message_size_limit", Default: "10240000", Type: Size, Doc: "Maximal size in bytes of a message, envelope included."},
	{Name: "mailbox_size_limit", Default: "51200000", Type: Size, Doc: "Maximal size in bytes of a local mailbox or maildir file."},
	{Name: "header_size_limit", Default: "102400", Type: Size, Doc: "Maximal size in bytes of one message header."},
	{Name: "line_length_limit", Default: "2048", Type: Int, Doc: "Maximal length of a line before it is broken up."},
	{Name: "hopcount_limit", Default: "50", Type: Int, Doc: "Maximal number of Received: headers before a message is bounced."},

	// SMTP server.
	{Name: "smtpd_banner", Default: "$myhostname ESMTP $mail_name", Type: String, Doc: "The text after the 220 code in the SMTP greeting."},
	{Name: "smtpd_recipient_limit", Default: "1000", Type: Int, Doc: "Maximal number of recipients per message."},
	{Name: "smtpd_timeout", Default: "${stress?{10}:{300}}s", Type: Duration, Unit: 's', Doc: "Time to wait for an SMTP client request or response."},
	{Name: "smtpd_hard_error_limit", Default: "${stress?{1}:{20}}", Type: Int, Doc: "Errors after which the SMTP server disconnects."},
	{Name: "smtpd_soft_error_limit", Default: "10", Type: Int, Doc: "Errors after which the SMTP server delays each response by smtpd_error_sleep_time."},
	{Name: "smtpd_error_sleep_time", Default: "1s", Type: Duration, Unit: 's', Doc: "Delay before an error response once smtpd_soft_error_limit is reached."},
	{Name: "smtpd_client_connection_count_limit", Default: "50", Type: Int, Doc: "Maximal simultaneous connections from one client."},
	{Name: "disable_vrfy_command", Default: "yes", Type: Bool, Doc: "Disable the SMTP VRFY command (on by default: VRFY lets anyone harvest addresses)."},
	{Name: "smtputf8_enable", Default: "${{$compatibility_level} <level {1} ? {no} : {yes}}", Type: Bool, Doc: "Support SMTPUTF8 (RFC 6531)."},
	{Name: "smtpd_tls_cert_file", Type: String, Doc: "PEM file with the SMTP server's certificate chain."},
	{Name: "smtpd_tls_key_file", Default: "$smtpd_tls_cert_file", Type: String, Doc: "PEM file with the SMTP server's private key."},
	{Name: "smtpd_tls_security_level", Type: String, Values: []string{"", "none", "may", "encrypt"}, Doc: "SMTP server TLS: none (no STARTTLS), may (STARTTLS offered), encrypt (required before mail and AUTH); empty: as smtpd_use_tls and smtpd_enforce_tls say."},
	{Name: "smtpd_use_tls", Default: "no", Type: Bool, Doc: "Obsolete form of smtpd_tls_security_level = may, used when that is empty."},
	{Name: "smtpd_enforce_tls", Default: "no", Type: Bool, Doc: "Obsolete form of smtpd_tls_security_level = encrypt, used when that is empty."},
	{Name: "smtpd_relay_restrictions", Default: "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", Type: List, Doc: "Relay control restrictions applied at RCPT TO."},
	{Name: "smtpd_recipient_restrictions", Type: List, Doc: "Restrictions applied at RCPT TO, after smtpd_relay_restrictions."},
	{Name: "smtpd_sender_restrictions", Type: List, Doc: "Restrictions applied at MAIL FROM."},
	{Name: "smtpd_client_restrictions", Type: List, Doc: "Restrictions applied to the client connection."},
	{Name: "smtpd_helo_restrictions", Type: List, Doc: "Restrictions applied at HELO/EHLO."},
	{Name: "smtpd_data_restrictions", Type: List, Doc: "Restrictions applied at DATA."},
	{Name: "smtpd_restriction_classes", Type: List, Doc: "Names of user-defined restriction classes (each is a main.cf parameter)."},
	{Name: "smtpd_sasl_auth_enable", Default: "no", Type: Bool, Doc: "Offer SMTP AUTH (RFC 4954)."},
	{Name: "smtpd_forbid_bare_newline", Default: "normalize", Type: String, Values: []string{"normalize", "yes", "reject", "no"}, Doc: "Bare LF in SMTP: normalize (accept it as a line end, never as part of the end of DATA), yes (same as normalize), reject (521 and disconnect) or no (old behaviour)."},
	{Name: "smtpd_recipient_overshoot_limit", Default: "1000", Type: Int, Doc: "Recipients beyond smtpd_recipient_limit that count as errors before the session is ended."},
	{Name: "smtpd_junk_command_limit", Default: "${stress?{1}:{100}}", Type: Int, Doc: "How many NOOP, VRFY, ETRN or RSET commands a client may send before they count as errors."},
	{Name: "smtpd_helo_required", Default: "no", Type: Bool, Doc: "Require HELO or EHLO before MAIL."},
	{Name: "smtpd_client_connection_limit_exceptions", Default: "", Type: List, Doc: "Older name of smtpd_client_event_limit_exceptions; when set, it is that parameter's default."},
	{Name: "smtpd_client_event_limit_exceptions", Default: "${smtpd_client_connection_limit_exceptions:$mynetworks}", Type: List, Doc: "Clients exempt from the per-client connection and rate limits."},
	{Name: "stress", Default: "", Type: String, Doc: "Set by the server under overload (yes); lets other parameters choose stricter values."},
	{Name: "smtpd_forbid_bare_newline_exclusions", Default: "$mynetworks", Type: List, Doc: "Clients exempt from smtpd_forbid_bare_newline."},
	{Name: "strict_rfc821_envelopes", Default: "no", Type: Bool, Doc: "Require RFC 821 syntax (<address>) in MAIL FROM and RCPT TO."},

	// Queue manager.
	{Name: "queue_run_delay", Default: "300s", Type: Duration, Unit: 's', Doc: "How often the deferred queue is scanned."},
	{Name: "minimal_backoff_time", Default: "300s", Type: Duration, Unit: 's', Doc: "Minimal time between attempts to deliver a deferred message."},
	{Name: "maximal_backoff_time", Default: "4000s", Type: Duration, Unit: 's', Doc: "Maximal time between attempts to deliver a deferred message."},
	{Name: "maximal_queue_lifetime", Default: "5d", Type: Duration, Unit: 'd', Doc: "How long a message may stay deferred before it is bounced."},
	{Name: "bounce_queue_lifetime", Default: "5d", Type: Duration, Unit: 'd', Doc: "How long a bounce message may stay deferred before it is dropped."},
	{Name: "delay_warning_time", Default: "0h", Type: Duration, Unit: 'h', Doc: "Delay after which the sender is warned of a still-undelivered message (0: never)."},
	{Name: "default_process_limit", Default: "100", Type: Int, Doc: "Default maximal number of processes (goroutine pools) per master.cf service."},
	{Name: "default_destination_concurrency_limit", Default: "20", Type: Int, Doc: "Default maximal parallel deliveries to one destination."},
	{Name: "default_destination_recipient_limit", Default: "50", Type: Int, Doc: "Default maximal recipients per delivery."},
	{Name: "local_destination_recipient_limit", Default: "1", Type: Int, Doc: "Maximal recipients per local delivery (1: one delivery per recipient)."},
	{Name: "local_destination_concurrency_limit", Default: "2", Type: Int, Doc: "Maximal parallel local deliveries to one recipient."},
	{Name: "initial_destination_concurrency", Default: "5", Type: Int, Doc: "Initial parallel deliveries to one destination."},
	{Name: "default_destination_rate_delay", Default: "0s", Type: Duration, Unit: 's', Doc: "Default delay between deliveries to one destination (0: none)."},
	{Name: "default_transport_rate_delay", Default: "0s", Type: Duration, Unit: 's', Doc: "Default delay between deliveries by one transport (0: none)."},
	{Name: "default_destination_concurrency_positive_feedback", Default: "1", Type: String, Doc: "Concurrency increase after a successful delivery (a number or a fraction such as 1/concurrency)."},
	{Name: "default_destination_concurrency_negative_feedback", Default: "1", Type: String, Doc: "Concurrency decrease after a failed delivery (a number or a fraction such as 1/concurrency)."},
	{Name: "default_destination_concurrency_failed_cohort_limit", Default: "1", Type: Int, Doc: "Failed sessions after which a destination is throttled."},
	{Name: "default_recipient_limit", Default: "20000", Type: Int, Doc: "Default maximal recipients held in memory per transport."},
	{Name: "default_extra_recipient_limit", Default: "1000", Type: Int, Doc: "Default extra recipients held in memory per transport."},
	{Name: "default_recipient_refill_limit", Default: "100", Type: Int, Doc: "Default recipients read from a queue file at once."},
	{Name: "default_recipient_refill_delay", Default: "5s", Type: Duration, Unit: 's', Doc: "Default delay between reads of more recipients from a queue file."},
	{Name: "default_delivery_slot_cost", Default: "5", Type: Int, Doc: "Default delivery slot cost for preemptive scheduling."},
	{Name: "default_delivery_slot_loan", Default: "3", Type: Int, Doc: "Default delivery slot loan for preemptive scheduling."},
	{Name: "default_delivery_slot_discount", Default: "50", Type: Int, Doc: "Default delivery slot discount (percent) for preemptive scheduling."},
	{Name: "default_minimum_delivery_slots", Default: "3", Type: Int, Doc: "Default minimal delivery slots before a message may be preempted."},
	{Name: "command_time_limit", Default: "1000s", Type: Duration, Unit: 's', Doc: "Time limit for delivery to an external command."},

	// Local and virtual delivery. (virtual_mailbox_maps, virtual_mailbox_domains
	// and empty_address_recipient are declared in params_address.go.)
	{Name: "home_mailbox", Type: String, Doc: "Mailbox file relative to the user's home (ending in / for Maildir); empty: use mail_spool_directory."},
	{Name: "mail_spool_directory", Default: "/var/mail", Type: String, Doc: "Directory of UNIX-style mailboxes (ending in / for Maildir)."},
	{Name: "mailbox_command", Type: String, Raw: true, Doc: "Command that delivers to the mailbox instead of the local agent (expanded at delivery with $HOME, $USER, ...)."},
	{Name: "mailbox_transport", Type: String, Doc: "Transport for mailbox delivery of local recipients (e.g. lmtp:unix:/path)."},
	{Name: "fallback_transport", Type: String, Doc: "Transport for local recipients not found in the UNIX passwd database."},
	{Name: "local_recipient_maps", Default: "proxy:unix:passwd.byname $alias_maps", Type: List, Doc: "Tables of valid local recipients; empty disables the check."},
	{Name: "virtual_mailbox_base", Type: String, Doc: "Prefix prepended to virtual_mailbox_maps results."},
	{Name: "virtual_uid_maps", Type: List, Doc: "Tables with the uid for each virtual recipient."},
	{Name: "virtual_gid_maps", Type: List, Doc: "Tables with the gid for each virtual recipient."},
	{Name: "virtual_minimum_uid", Default: "100", Type: Int, Doc: "Lowest uid accepted from virtual_uid_maps."},
	{Name: "virtual_mailbox_limit", Default: "51200000", Type: Size, Doc: "Maximal size in bytes of a virtual mailbox or maildir file."},
	{Name: "biff", Default: "yes", Type: Bool, Doc: "Notify the comsat service of new local mail."},

	// Notifications.
	{Name: "notify_classes", Default: "resource, software", Type: List, Doc: "Problem classes reported to the postmaster."},
	{Name: "bounce_size_limit", Default: "50000", Type: Size, Doc: "How much of an undeliverable message is returned in a bounce; larger messages come back as headers only."},
	{Name: "qmgr_message_active_limit", Default: "20000", Type: Int, Doc: "How many messages the queue manager holds in memory at once."},
	{Name: "bounce_notice_recipient", Default: "postmaster", Type: String, Doc: "Who receives bounce notices (notify_classes bounce)."},
	{Name: "2bounce_notice_recipient", Default: "postmaster", Type: String, Doc: "Who receives undeliverable bounces (notify_classes 2bounce)."},
	{Name: "delay_notice_recipient", Default: "postmaster", Type: String, Doc: "Who receives delay notices (notify_classes delay)."},
	{Name: "error_notice_recipient", Default: "postmaster", Type: String, Doc: "Who receives error notices (notify_classes protocol, resource, software, policy)."},
	{Name: "double_bounce_sender", Default: "double-bounce", Type: String, Doc: "Sender of bounces of bounces; mail to it is discarded."},

	// Logging and environment.
	{Name: "syslog_name", Default: "${multi_instance_name?{$multi_instance_name}:{mailhorn}}", Type: String, Doc: "The name logged with each mail log line."},
	{Name: "syslog_facility", Default: "mail", Type: String, Doc: "The syslog facility of the mail log."},
	{Name: "maillog_file", Type: String, Doc: "File to write the mail log to instead of syslog (empty: syslog)."},
	{Name: "import_environment", Default: "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME", Type: List, Doc: "Environment variables passed from the parent (NAME or NAME=value)."},
	{Name: "export_environment", Default: "TZ MAIL_CONFIG LANG", Type: List, Doc: "Environment variables passed to external commands."},

	// SMTP client.
	{Name: "relayhost", Type: String, Doc: "Default next-hop for non-local mail: host, [host]:port, or empty for MX lookup."},
	{Name: "smtp_helo_name", Default: "$myhostname", Type: String, Doc: "The name the SMTP client sends in HELO/EHLO."},
	{Name: "smtp_bind_address", Type: String, Doc: "Local IPv4 address for outgoing SMTP connections."},
}
