package config

// cleanupParams are the parameters of the cleanup stage (internal/cleanup).
var cleanupParams = []Param{
	{Name: "duplicate_filter_limit", Default: "1000", Type: Int, Doc: "How many recipient addresses cleanup remembers to drop duplicates."},
	{Name: "enable_original_recipient", Default: "yes", Type: Bool, Doc: "Keep each recipient's address before rewriting (orig_to= in logs, Original-Recipient in DSNs)."},
	{Name: "always_add_missing_headers", Default: "no", Type: Bool, Doc: "Add missing From:, To:, Date: and Message-ID: headers to all mail, not only to mail in a header-rewriting context."},
	{Name: "undisclosed_recipients_header", Default: "", Type: String, Doc: "The header added when a message has no To:, Cc: or Bcc: (empty: none)."},
	{Name: "message_drop_headers", Default: "bcc, content-length, resent-bcc, return-path", Type: List, Doc: "Headers removed from every message."},
}
