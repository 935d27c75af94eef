package config

// aliasesParams are the parameters of this area (aliases(5), postalias,
// newaliases and the alias part of local delivery); see Param.
var aliasesParams = []Param{
	{Name: "alias_maps", Default: "hash:/etc/aliases", Type: List,
		Doc: "Alias tables searched by local delivery, in order (Postfix also lists nis:mail.aliases; mailhorn has no NIS)."},
	{Name: "alias_database", Default: "hash:/etc/aliases", Type: List,
		Doc: "Alias tables rebuilt by newaliases (and sendmail -bi)."},
	{Name: "allow_mail_to_commands", Default: "alias, forward", Type: List,
		Doc: "Where |command targets are allowed: alias, forward, include."},
	{Name: "allow_mail_to_files", Default: "alias, forward", Type: List,
		Doc: "Where /file/name targets are allowed: alias, forward, include."},
	{Name: "owner_request_special", Default: "yes", Type: Bool,
		Doc: "Treat owner-NAME aliases specially (bounces of NAME go there) and never split owner-NAME or NAME-request at a '-' recipient_delimiter."},
	{Name: "expand_owner_alias", Default: "no", Type: Bool,
		Doc: "Send bounces for an alias to the expansion of owner-NAME instead of to owner-NAME itself."},
	{Name: "reset_owner_alias", Default: "no", Type: Bool,
		Doc: "Forget the owner- address inherited from a parent alias when a child alias has no owner- alias of its own."},
	{Name: "forward_path", Default: "$home/.forward${recipient_delimiter}${extension}, $home/.forward", Type: List, Raw: true,
		Doc: "The .forward files tried for a local user, expanded at delivery time ($user, $home, $shell, $recipient, $extension, $domain, $local, $recipient_delimiter)."},
	{Name: "forward_expansion_filter", Default: "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", Type: String,
		Doc: "Characters allowed in forward_path expansions; others become underscores."},
	{Name: "command_expansion_filter", Default: "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", Type: String,
		Doc: "Characters allowed in the environment given to |command deliveries; others become underscores."},
	{Name: "local_command_shell", Default: "", Type: String,
		Doc: "Shell for |command deliveries; empty: run the command directly, through /bin/sh only when it contains shell syntax."},
}
