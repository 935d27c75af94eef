package config

// saslParams are the SMTP server's AUTH (RFC 4954) and TLS parameters
// beyond those in params_core.go (smtpd_sasl_auth_enable,
// smtpd_tls_cert_file, smtpd_tls_key_file, smtpd_tls_security_level).
// Defaults are Postfix 3.7's.
var saslParams = []Param{
	{Name: "smtpd_tls_auth_only", Default: "no", Type: Bool, Doc: "Offer and accept AUTH only over TLS."},
	{Name: "smtpd_tls_wrappermode", Default: "no", Type: Bool, Doc: "Start TLS at connect, before the greeting (implicit TLS, RFC 8314: the submissions service on port 465); STARTTLS is then not offered."},
	{Name: "smtpd_tls_protocols", Default: ">=TLSv1", Type: String, Doc: "TLS protocols the SMTP server accepts: bounds (>=TLSv1.2, <=TLSv1.3) or names to include or exclude (!SSLv2, !SSLv3, !TLSv1, !TLSv1.1). mailhorn never goes below TLSv1.2: a lower minimum, the default included, is raised to it (with a warning when set explicitly)."},
	{Name: "smtpd_tls_mandatory_protocols", Default: ">=TLSv1", Type: String, Doc: "TLS protocols when TLS is mandatory (smtpd_tls_security_level = encrypt); same syntax and TLSv1.2 floor as smtpd_tls_protocols."},
	{Name: "smtpd_sasl_authenticated_header", Default: "no", Type: Bool, Doc: "Name the authenticated user in the Received: header: (Authenticated sender: user)."},
	{Name: "broken_sasl_auth_clients", Default: "no", Type: Bool, Doc: "Also announce AUTH in the obsolete AUTH=MECHANISMS form, for old Microsoft clients."},
	{Name: "smtpd_sasl_security_options", Default: "noanonymous", Type: List, Doc: "Which SASL mechanisms to offer without TLS: noplaintext drops PLAIN and LOGIN, noanonymous drops ANONYMOUS; noactive, nodictionary, mutual_auth and forward_secrecy are accepted and change nothing."},
	{Name: "smtpd_sasl_tls_security_options", Default: "$smtpd_sasl_security_options", Type: List, Doc: "Which SASL mechanisms to offer over TLS; same options as smtpd_sasl_security_options."},
	{Name: "smtpd_sasl_type", Default: "cyrus", Type: String, Values: []string{"cyrus", "dovecot"}, Doc: "Accepted for Postfix compatibility: mailhorn always authenticates with its own auth service (the user table), whatever this says."},
	{Name: "smtpd_sasl_path", Default: "smtpd", Type: String, Doc: "Accepted for Postfix compatibility (the Cyrus application name or Dovecot socket); mailhorn's own auth service is used instead."},
	{Name: "smtpd_sasl_service", Default: "smtp", Type: String, Doc: "Accepted for Postfix compatibility: the service name given to the SASL back end."},
	{Name: "smtpd_sasl_local_domain", Default: "", Type: String, Doc: "Accepted for Postfix compatibility: the realm of the Cyrus SASL back end; mailhorn's users carry their domain in their name."},
	{Name: "smtpd_sasl_exceptions_networks", Default: "", Type: List, Doc: "Clients (CIDR, files, type:table) to which AUTH is neither offered nor accepted from."},
	{Name: "smtpd_sasl_response_limit", Default: "12288", Type: Int, Doc: "Longest client response line in an AUTH exchange; longer: 500 5.5.6 and the exchange ends."},
}
