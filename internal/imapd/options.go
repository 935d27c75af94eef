package imapd

import (
	"context"
	"crypto/tls"
	"net/netip"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/store"
)

// Options are the knobs of one IMAP service. The wiring fills them from
// main.cf / master.cf (imapd_* parameters); the protocol engine never
// reads configuration. DefaultOptions gives the defaults.
type Options struct {
	Hostname string // myhostname, in the greeting and BYE
	// TLS enables STARTTLS (or implicit TLS with WrapperMode); nil: no TLS.
	TLS *tls.Config
	// WrapperMode starts TLS at connect, before the greeting (port 993,
	// imapd_tls_wrappermode).
	WrapperMode bool
	// TLSAuthOnly refuses LOGIN and AUTHENTICATE before TLS and announces
	// LOGINDISABLED without AUTH= (imapd_tls_auth_only). Loopback clients
	// are not exempt (Dovecot exempts them; we do not, see docs/imap.md).
	TLSAuthOnly bool
	// Timeout is the autologout timer: the longest wait for a command, and
	// the longest IDLE (imapd_timeout; RFC 9051 §5.4 wants 30 minutes or
	// more). 0: none.
	Timeout time.Duration
	// LineLimit is the longest command line, literals aside
	// (imapd_command_limit).
	LineLimit int
	// LiteralLimit is the largest APPEND message (imapd_literal_limit,
	// $message_size_limit); 0 = no limit. Other commands' literals are
	// limited to SmallLiteralLimit.
	LiteralLimit int64
	// ConnLimit is the most simultaneous connections from one client IP
	// address (imapd_client_connection_count_limit); 0 = none.
	ConnLimit int
	// IdleSync is how often IDLE looks at the disk for changes made by
	// other programs (the store wakes it at once for its own); 0: 5s.
	IdleSync time.Duration
}

// SmallLiteralLimit bounds the literals of commands other than APPEND.
const SmallLiteralLimit = 64 << 10

// DefaultOptions returns the defaults of the imapd_* parameters.
func DefaultOptions() Options {
	return Options{
		Hostname:     "localhost",
		TLSAuthOnly:  true,
		Timeout:      30 * time.Minute,
		LineLimit:    65536,
		LiteralLimit: 10240000,
		ConnLimit:    20,
	}
}

// Authenticator is the shared authentication service (*auth.Service).
type Authenticator interface {
	Mechanisms(tls bool) []string
	Start(ctx context.Context, mech string, client netip.Addr, tls bool) (auth.Exchange, error)
	Verify(ctx context.Context, user, password string, client netip.Addr) (*auth.User, error)
}

// UserResolver finds an authenticated user's mail tree (the INBOX
// Maildir) and quota.
type UserResolver func(ctx context.Context, u *auth.User) (root string, q store.Quota, err error)
