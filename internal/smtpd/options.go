package smtpd

import (
	"context"
	"crypto/tls"
	"net/netip"
	"time"

	"mailhorn/internal/auth"
)

// BareNewline is the smtpd_forbid_bare_newline policy: what to do with a
// line that ends in a bare <LF> instead of <CR><LF>.
type BareNewline int

const (
	// BareNewlineNormalize (Postfix 3.9 "normalize", the zero value) takes a
	// bare <LF> as a line ending, but only <CR><LF>.<CR><LF> ends DATA.
	BareNewlineNormalize BareNewline = iota
	// BareNewlineReject answers 521 5.5.2 and hangs up on a bare <LF> in a
	// command or in message content.
	BareNewlineReject
	// BareNewlineAllow is the old "no": a bare <LF> is a line ending
	// everywhere, so <LF>.<LF> also ends DATA. It is open to SMTP smuggling
	// and exists only because Postfix offers it.
	BareNewlineAllow
)

// Options are the knobs of one SMTP service. The wiring fills them from
// main.cf / master.cf; the protocol engine never reads configuration.
// DefaultOptions gives Postfix's defaults.
type Options struct {
	Hostname string // myhostname: EHLO reply, Received header, 421 replies
	MailName string // mail_name, shown in the Received header ("mailhorn")
	Banner   string // greeting text after "220 " (smtpd_banner, already expanded)

	// LMTP serves RFC 2033 instead of SMTP: LHLO instead of HELO/EHLO and
	// one reply per recipient after the message content.
	LMTP bool

	MessageSizeLimit   int64         // message_size_limit; 0 = no limit
	RecipientLimit     int           // smtpd_recipient_limit; 0 = no limit
	RcptOvershootLimit int           // smtpd_recipient_overshoot_limit
	LineLengthLimit    int           // line_length_limit: longest command line
	Timeout            time.Duration // smtpd_timeout, per read or write; 0 = none
	HardErrorLimit     int           // smtpd_hard_error_limit; 0 = none
	SoftErrorLimit     int           // smtpd_soft_error_limit; 0 = none
	ErrorSleep         time.Duration // smtpd_error_sleep_time
	JunkCommandLimit   int           // smtpd_junk_command_limit (NOOP, RSET, VRFY, HELO...); 0 = none
	ConnLimit          int           // smtpd_client_connection_count_limit; 0 = none
	DisableVRFY        bool          // disable_vrfy_command
	SMTPUTF8           bool          // smtputf8_enable
	HeloRequired       bool          // smtpd_helo_required
	BareNewline        BareNewline   // smtpd_forbid_bare_newline
	// BareNewlineExempt tells whether a client is in
	// smtpd_forbid_bare_newline_exclusions: for it, reject relaxes to
	// normalize. (Postfix turns enforcement off for them; we never let
	// <LF>.<LF> end DATA again, since what they send is relayed on.)
	BareNewlineExempt func(netip.Addr) bool

	// TLS enables STARTTLS (smtpd_tls_cert_file/key_file set); RequireTLS
	// refuses mail commands before it (smtpd_tls_security_level=encrypt).
	TLS        *tls.Config
	RequireTLS bool
	// WrapperMode starts TLS at connect, before the greeting
	// (smtpd_tls_wrappermode: submissions on port 465, RFC 8314).
	WrapperMode bool

	// Auth enables SMTP AUTH (RFC 4954; smtpd_sasl_auth_enable); nil: AUTH
	// is neither offered nor accepted.
	Auth Authenticator
	// AuthTLSOnly offers and accepts AUTH only over TLS
	// (smtpd_tls_auth_only).
	AuthTLSOnly bool
	// AuthenticatedHeader names the authenticated user in the Received
	// header (smtpd_sasl_authenticated_header).
	AuthenticatedHeader bool

	// ConnLimitExempt tells whether a client is exempt from ConnLimit
	// (smtpd_client_event_limit_exceptions, $mynetworks by default). nil:
	// nobody is.
	ConnLimitExempt func(netip.Addr) bool
	// LookupName gives the verified host name of a client address, or ""
	// for "unknown" (see ResolveName). nil: no lookups.
	LookupName func(context.Context, netip.Addr) string
	// Now is the clock for Received headers; nil: time.Now.
	Now func() time.Time

	// BrokenAuthClients also announces AUTH in the old "AUTH=PLAIN LOGIN"
	// form (broken_sasl_auth_clients), for Outlook Express 4 and kin.
	BrokenAuthClients bool
	// AuthExempt tells whether a client is in
	// smtpd_sasl_exceptions_networks: AUTH is neither offered to it nor
	// accepted from it. nil: nobody is.
	AuthExempt func(netip.Addr) bool
	// AuthSecurity filters the mechanisms offered without TLS
	// (smtpd_sasl_security_options), AuthTLSSecurity those offered over
	// TLS (smtpd_sasl_tls_security_options).
	AuthSecurity    SASLSecurity
	AuthTLSSecurity SASLSecurity
	// AuthResponseLimit is the longest client response line in an AUTH
	// exchange (smtpd_sasl_response_limit); 0: 12288.
	AuthResponseLimit int
}

func (o *Options) authResponseLimit() int {
	if o.AuthResponseLimit <= 0 {
		return 12288
	}
	return o.AuthResponseLimit
}

// Authenticator is SMTP AUTH's back end; *auth.Service is one.
type Authenticator interface {
	// Mechanisms lists the SASL mechanisms to offer on a connection that
	// is (tls) or is not encrypted.
	Mechanisms(tls bool) []string
	// Start begins an exchange with mechanism mech (upper case) for a
	// client; auth.ErrMechanism if it is not offered.
	Start(ctx context.Context, mech string, client netip.Addr, tls bool) (auth.Exchange, error)
}

// DefaultOptions returns Postfix's defaults (postconf -d) for the SMTP
// server. The caller still sets Hostname and Banner.
func DefaultOptions() Options {
	return Options{
		Hostname:           "localhost",
		MailName:           "mailhorn",
		Banner:             "localhost ESMTP mailhorn",
		MessageSizeLimit:   10240000,
		RecipientLimit:     1000,
		RcptOvershootLimit: 1000,
		LineLengthLimit:    2048,
		Timeout:            300 * time.Second,
		HardErrorLimit:     20,
		SoftErrorLimit:     10,
		ErrorSleep:         time.Second,
		JunkCommandLimit:   100,
		ConnLimit:          50,
		SMTPUTF8:           true,
		AuthSecurity:       SASLSecurity{NoAnonymous: true},
		AuthTLSSecurity:    SASLSecurity{NoAnonymous: true},
		AuthResponseLimit:  12288,
	}
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// lineLimit is the longest command line accepted. RFC 5321 §4.5.3.1.4
// requires at least 512 octets; Postfix uses line_length_limit (2048).
func (o *Options) lineLimit() int {
	if o.LineLengthLimit < 512 {
		return 512
	}
	return o.LineLengthLimit
}
