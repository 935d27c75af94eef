package config

// restrictParams are the SMTP server access-control parameters read by
// internal/restrict (the restriction lists themselves are in
// params_core.go, the older codes in params_smtpd.go).
var restrictParams = []Param{
	{Name: "smtpd_delay_reject", Default: "yes", Type: Bool, Doc: "Evaluate smtpd_client, smtpd_helo and smtpd_sender restrictions at RCPT TO, and report their rejections there."},
	{Name: "smtpd_end_of_data_restrictions", Type: List, Doc: "Restrictions applied when the message content has arrived, before it is queued."},
	{Name: "smtpd_sender_login_maps", Type: List, Doc: "Tables of the SASL login names that own each sender address (reject_*_sender_login_mismatch)."},
	{Name: "smtpd_reject_unlisted_sender", Default: "no", Type: Bool, Doc: "Reject MAIL FROM addresses in our domains that no recipient table lists."},
	{Name: "smtpd_null_access_lookup_key", Default: "<>", Type: String, Doc: "The key check_sender_access looks up for the null sender."},
	{Name: "smtpd_client_connection_rate_limit", Default: "0", Type: Int, Doc: "Connections one client may make per anvil_rate_time_unit (0: no limit)."},
	{Name: "smtpd_client_message_rate_limit", Default: "0", Type: Int, Doc: "MAIL FROM commands one client may send per anvil_rate_time_unit (0: no limit)."},
	{Name: "smtpd_client_recipient_rate_limit", Default: "0", Type: Int, Doc: "RCPT TO commands one client may send per anvil_rate_time_unit (0: no limit)."},
	{Name: "smtpd_client_auth_rate_limit", Default: "0", Type: Int, Doc: "AUTH commands one client may send per anvil_rate_time_unit (0: no limit)."},
	{Name: "default_rbl_reply", Default: "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}", Type: String, Raw: true, Doc: "Reply template for a client, helo, sender or recipient found in a DNS block list ($rbl_code, $rbl_class, $rbl_what, $rbl_domain, $rbl_reason)."},
	{Name: "rbl_reply_maps", Type: List, Doc: "Tables of reply templates per DNS list domain, used instead of default_rbl_reply."},
	{Name: "maps_rbl_reject_code", Default: "554", Type: Int, Doc: "The $rbl_code of DNS block list replies."},
	{Name: "reject_tempfail_action", Default: "defer_if_permit", Type: String, Values: []string{"defer", "defer_if_permit"}, Doc: "What a restriction does when a DNS lookup fails temporarily: defer now, or defer only if the request would otherwise be permitted."},
	{Name: "unknown_address_reject_code", Default: "450", Type: Int, Doc: "Reply code of reject_unknown_sender_domain and reject_unknown_recipient_domain."},
	{Name: "unknown_address_tempfail_action", Default: "$reject_tempfail_action", Type: String, Values: []string{"defer", "defer_if_permit"}, Doc: "reject_tempfail_action for reject_unknown_sender_domain and reject_unknown_recipient_domain."},
	{Name: "unknown_hostname_reject_code", Default: "450", Type: Int, Doc: "Reply code of reject_unknown_helo_hostname."},
	{Name: "unknown_helo_hostname_tempfail_action", Default: "$reject_tempfail_action", Type: String, Values: []string{"defer", "defer_if_permit"}, Doc: "reject_tempfail_action for reject_unknown_helo_hostname."},
	{Name: "unknown_client_reject_code", Default: "450", Type: Int, Doc: "Reply code of reject_unknown_client_hostname and reject_unknown_reverse_client_hostname."},
	{Name: "invalid_hostname_reject_code", Default: "501", Type: Int, Doc: "Reply code of reject_invalid_helo_hostname."},
	{Name: "non_fqdn_reject_code", Default: "504", Type: Int, Doc: "Reply code of reject_non_fqdn_helo_hostname, reject_non_fqdn_sender and reject_non_fqdn_recipient."},
	{Name: "plaintext_reject_code", Default: "450", Type: Int, Doc: "Reply code of reject_plaintext_session."},
	{Name: "allow_untrusted_routing", Default: "no", Type: Bool, Doc: "Let OK results of check_recipient_access permit addresses with routing operators (user%host@domain)."},
}
