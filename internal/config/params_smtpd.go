package config

// smtpdParams are the SMTP server's access-control parameters that the
// master's policy reads (the server's protocol limits are in params_core.go).
var smtpdParams = []Param{
	{Name: "smtpd_reject_unlisted_recipient", Default: "yes", Type: Bool, Doc: "Reject RCPT TO addresses that no table lists for their address class (local, virtual alias, virtual mailbox, relay)."},
	{Name: "relay_domains_reject_code", Default: "554", Type: Int, Doc: "SMTP reply code for a relay attempt refused by reject_unauth_destination."},
	{Name: "unknown_local_recipient_reject_code", Default: "550", Type: Int, Doc: "SMTP reply code for a recipient not in local_recipient_maps."},
	{Name: "unknown_virtual_mailbox_reject_code", Default: "550", Type: Int, Doc: "SMTP reply code for a recipient not in virtual_mailbox_maps."},
	{Name: "unknown_virtual_alias_reject_code", Default: "550", Type: Int, Doc: "SMTP reply code for a recipient not in virtual_alias_maps (virtual alias domains)."},
	{Name: "unknown_relay_recipient_reject_code", Default: "550", Type: Int, Doc: "SMTP reply code for a recipient not in relay_recipient_maps."},
	{Name: "access_map_reject_code", Default: "554", Type: Int, Doc: "SMTP reply code for REJECT results of check_*_access tables."},
	{Name: "access_map_defer_code", Default: "450", Type: Int, Doc: "SMTP reply code for DEFER results of check_*_access tables."},
	{Name: "defer_code", Default: "450", Type: Int, Doc: "SMTP reply code for the defer restriction."},
	{Name: "reject_code", Default: "554", Type: Int, Doc: "SMTP reply code for the reject restriction."},
}
