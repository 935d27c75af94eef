package cleanup

import (
	"strconv"
	"strings"
	"time"

	"mailhorn/internal/config"
)

// Options are the main.cf settings cleanup works with. The zero value is
// not useful: start from DefaultOptions or OptionsFromConfig.
type Options struct {
	// Hostname is $myhostname, the right-hand side of added Message-Id
	// headers.
	Hostname string
	// Myorigin is $myorigin: an envelope sender MAILER-DAEMON@$myorigin
	// becomes the null sender.
	Myorigin string
	// HeaderSizeLimit is header_size_limit: one header field longer than
	// this is truncated (the excess discarded), as Postfix does. It also
	// bounds the memory used to hold the header block (see doc.go).
	HeaderSizeLimit int
	// HopcountLimit is hopcount_limit: a message with this many Received:
	// headers (ours included) is accepted but bounced (attribute "bounce").
	HopcountLimit int
	// MessageSizeLimit is message_size_limit: the largest queue file, in
	// bytes, envelope included; 0 means no limit.
	MessageSizeLimit int64
	// DuplicateFilterLimit is duplicate_filter_limit: how many recipients
	// the duplicate filter remembers; 0 means no limit.
	DuplicateFilterLimit int
	// EnableOriginalRecipient is enable_original_recipient: keep the
	// original recipient address (orig_to=), and tell apart recipients that
	// reach the same mailbox through different original addresses.
	EnableOriginalRecipient bool
	// AlwaysAddMissingHeaders is always_add_missing_headers: add missing
	// From:, Date:, Message-Id: (and the undisclosed header) to mail from
	// remote clients too.
	AlwaysAddMissingHeaders bool
	// UndisclosedRecipientsHeader is undisclosed_recipients_header: the
	// header added when there is no To:, Cc:, Resent-To: or Resent-Cc:
	// (Postfix's default is empty: none is added).
	UndisclosedRecipientsHeader string
	// RemoteHeaderRewriteDomain is remote_header_rewrite_domain: when set,
	// headers of remote mail are rewritten (in the remote context) and
	// completed with missing headers, as Postfix does.
	RemoteHeaderRewriteDomain string
	// DropHeaders is message_drop_headers, lower case.
	DropHeaders []string
	// EmptyAddressRecipient is empty_address_recipient: the recipient that
	// replaces an empty envelope recipient.
	EmptyAddressRecipient string
	// Now is the clock (nil: time.Now). The Date: header is written in the
	// location of the time it returns.
	Now func() time.Time
}

// DefaultOptions are Postfix 3.7's defaults.
func DefaultOptions() Options {
	return Options{
		Hostname:                "localhost.localdomain",
		Myorigin:                "localhost.localdomain",
		HeaderSizeLimit:         102400,
		HopcountLimit:           50,
		MessageSizeLimit:        10240000,
		DuplicateFilterLimit:    1000,
		EnableOriginalRecipient: true,
		DropHeaders:             []string{"bcc", "content-length", "resent-bcc", "return-path"},
		EmptyAddressRecipient:   "MAILER-DAEMON",
	}
}

// OptionsFromConfig reads the options from main.cf. Parameters the
// configuration does not know keep their Postfix default.
func OptionsFromConfig(c *config.Config) Options {
	o := DefaultOptions()
	str := func(name string, dst *string) {
		if c.Known(name) {
			*dst = c.Get(name)
		}
	}
	num := func(name string, dst *int) {
		if c.Known(name) {
			if n, err := strconv.Atoi(strings.TrimSpace(c.Get(name))); err == nil {
				*dst = n
			}
		}
	}
	boolean := func(name string, dst *bool) {
		if c.Known(name) {
			*dst = c.Bool(name)
		}
	}
	str("myhostname", &o.Hostname)
	str("myorigin", &o.Myorigin)
	num("header_size_limit", &o.HeaderSizeLimit)
	num("hopcount_limit", &o.HopcountLimit)
	if c.Known("message_size_limit") {
		o.MessageSizeLimit = c.Size("message_size_limit")
	}
	num("duplicate_filter_limit", &o.DuplicateFilterLimit)
	boolean("enable_original_recipient", &o.EnableOriginalRecipient)
	boolean("always_add_missing_headers", &o.AlwaysAddMissingHeaders)
	str("undisclosed_recipients_header", &o.UndisclosedRecipientsHeader)
	str("remote_header_rewrite_domain", &o.RemoteHeaderRewriteDomain)
	str("empty_address_recipient", &o.EmptyAddressRecipient)
	if c.Known("message_drop_headers") {
		o.DropHeaders = nil
		for _, h := range c.List("message_drop_headers") {
			o.DropHeaders = append(o.DropHeaders, strings.ToLower(h))
		}
	}
	return o
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
