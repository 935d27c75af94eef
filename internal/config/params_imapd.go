package config

// imapdParams are the IMAP server's parameters (mailhorn-only: Postfix has
// no IMAP server). Their style follows smtpd's.
var imapdParams = []Param{
	{Name: "imapd_tls_cert_file", Default: "$smtpd_tls_cert_file", Type: String, Doc: "PEM file with the IMAP server's certificate chain; empty: no STARTTLS and no port 993."},
	{Name: "imapd_tls_key_file", Default: "$smtpd_tls_key_file", Type: String, Doc: "PEM file with the IMAP server's private key."},
	{Name: "imapd_tls_wrappermode", Default: "no", Type: Bool, Doc: "Start TLS at connect, before the greeting (implicit TLS, port 993); set with -o in master.cf."},
	{Name: "imapd_tls_auth_only", Default: "yes", Type: Bool, Doc: "Refuse LOGIN and AUTHENTICATE before TLS (LOGINDISABLED)."},
	{Name: "imapd_timeout", Default: "30m", Type: Duration, Unit: 's', Doc: "Autologout: the longest wait for an IMAP command, and the longest IDLE (RFC 9051 wants 30 minutes or more)."},
	{Name: "imapd_command_limit", Default: "65536", Type: Int, Doc: "Longest IMAP command line in bytes, literals aside; a longer one ends the session."},
	{Name: "imapd_literal_limit", Default: "$message_size_limit", Type: Size, Doc: "Largest message APPEND accepts (NO [TOOBIG] above it); 0: no limit. Other commands' literals are limited to 64 KiB."},
	{Name: "imapd_client_connection_count_limit", Default: "20", Type: Int, Doc: "Most simultaneous IMAP connections from one client IP address; 0: no limit."},
}
