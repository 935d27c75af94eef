package config

// pop3dParams are the POP3 server's (internal/pop3d): mailhorn's own, as
// Postfix has no POP3 server; they follow the smtpd_* parameters' names
// and defaults where the concept is the same.
var pop3dParams = []Param{
	{Name: "pop3d_tls_cert_file", Default: "$smtpd_tls_cert_file", Type: String, Doc: "PEM file with the POP3 server's certificate chain; empty: no STLS and no port 995."},
	{Name: "pop3d_tls_key_file", Default: "$smtpd_tls_key_file", Type: String, Doc: "PEM file with the POP3 server's private key."},
	{Name: "pop3d_tls_wrappermode", Default: "no", Type: Bool, Doc: "Start TLS at connect, before the greeting (port 995, RFC 8314) instead of offering STLS."},
	{Name: "pop3d_tls_auth_only", Default: "yes", Type: Bool, Doc: "Refuse USER, PASS and AUTH before TLS (Dovecot's disable_plaintext_auth)."},
	{Name: "pop3d_timeout", Default: "10m", Type: Duration, Unit: 's', Doc: "Time to wait for a POP3 client command or to send a response (RFC 1939 asks at least 10 minutes)."},
	{Name: "pop3d_client_connection_count_limit", Default: "$smtpd_client_connection_count_limit", Type: Int, Doc: "Maximal simultaneous POP3 connections from one client address (0: no limit)."},
}
