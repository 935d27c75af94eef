package config

// authParams are the authentication service's (internal/auth): mailhorn's
// own, as Postfix leaves users and passwords to Dovecot or Cyrus; the
// names follow Dovecot's settings where it has one. anvil_rate_time_unit
// is Postfix's.
var authParams = []Param{
	{Name: "auth_user_maps", Default: "", Type: List, Doc: "Virtual users: passwd-file:/path (Dovecot's passwd-file format) or lookup tables whose value for a user name is the passwd-file line without its name. Empty: no virtual users."},
	{Name: "auth_unix_users", Default: "no", Type: Bool, Doc: "Also authenticate the system's Unix accounts (passwd and /etc/shadow; never root or locked accounts)."},
	{Name: "auth_password_scheme", Default: "ARGON2ID", Type: String, Values: []string{"ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "SCRAM-SHA-256"}, Doc: "Scheme of the passwords that mailhorn user hashes, and of the dummy hash verified for unknown users."},
	{Name: "auth_mechanisms", Default: "PLAIN, LOGIN", Type: List, Doc: "SASL mechanisms offered: PLAIN, LOGIN, SCRAM-SHA-256 (the last needs {SCRAM-SHA-256} entries)."},
	{Name: "auth_failure_delay", Default: "2s", Type: Duration, Unit: 's', Doc: "Delay before a failed authentication is answered (Dovecot's auth_failure_delay)."},
	{Name: "auth_failure_limit", Default: "10", Type: Int, Doc: "Failed authentications a client may have per anvil_rate_time_unit before every attempt is refused at once (0: no limit)."},
	{Name: "anvil_rate_time_unit", Default: "60s", Type: Duration, Unit: 's', Doc: "The time unit over which client connection rates and other rates are calculated."},
}
