package config

// storeParams are the message store's (internal/store): mailhorn's own, as
// Postfix leaves mailbox reading to Dovecot; mail_location keeps Dovecot's
// name and syntax.
var storeParams = []Param{
	{Name: "mail_location", Default: "maildir:~/Maildir", Type: String, Doc: "Where a user's mailboxes are, as Dovecot's mail_location: maildir:PATH (Maildir++ layout); ~ is the user's home, %u the user name, %n its local part, %d its domain, %h the home."},
	{Name: "mail_quota_storage", Default: "0", Type: Size, Doc: "Default limit of a user's mailboxes in bytes (files on disk; 0: none); the userdb field quota_rule=*:storage=SIZE overrides it per user."},
	{Name: "mail_quota_messages", Default: "0", Type: Int, Doc: "Default limit of a user's mailboxes in messages (0: none); the userdb field quota_rule=*:messages=N overrides it per user."},
}
