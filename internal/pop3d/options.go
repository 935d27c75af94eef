package pop3d

import (
	"context"
	"crypto/tls"
	"net/netip"
	"time"

	"mailhorn/internal/auth"
	"mailhorn/internal/store"
)

// Options are the knobs of one POP3 service. The wiring fills them from
// main.cf and master.cf (pop3d_* parameters); the server reads no
// configuration. DefaultOptions gives the defaults.
type Options struct {
	// Hostname is shown in the greeting (myhostname).
	Hostname string
	// TLS enables STLS (pop3d_tls_cert_file set); nil: no TLS.
	TLS *tls.Config
	// WrapperMode starts TLS at connect, before the greeting (port 995,
	// pop3d_tls_wrappermode).
	WrapperMode bool
	// TLSAuthOnly refuses USER, PASS and AUTH before TLS
	// (pop3d_tls_auth_only).
	TLSAuthOnly bool
	// Timeout bounds each wait for a command and each write
	// (pop3d_timeout); 0: none.
	Timeout time.Duration
	// LineLimit is the longest command line (and AUTH response line)
	// accepted; a longer one ends the session. Below 512: 512.
	LineLimit int
	// ConnLimit is the number of simultaneous connections one client
	// address may have (pop3d_client_connection_count_limit); 0: no limit.
	ConnLimit int
	// BadCommandLimit is how many invalid commands in a row end the
	// session (Dovecot: 10); 0: no limit.
	BadCommandLimit int
}

// DefaultOptions returns the defaults of the pop3d_* parameters.
func DefaultOptions() Options {
	return Options{
		Hostname:        "localhost",
		TLSAuthOnly:     true,
		Timeout:         10 * time.Minute,
		LineLimit:       2048,
		ConnLimit:       50,
		BadCommandLimit: 10,
	}
}

func (o *Options) lineLimit() int {
	if o.LineLimit < 512 {
		return 512
	}
	return o.LineLimit
}

// Authenticator checks passwords and runs SASL exchanges; *auth.Service
// is one.
type Authenticator interface {
	// Mechanisms lists the SASL mechanisms to offer on a connection that
	// is (tls) or is not encrypted.
	Mechanisms(tls bool) []string
	// Start begins an exchange with mechanism mech (upper case);
	// auth.ErrMechanism if it is not offered.
	Start(ctx context.Context, mech string, client netip.Addr, tls bool) (auth.Exchange, error)
	// Verify checks a user name and password (USER/PASS).
	Verify(ctx context.Context, user, password string, client netip.Addr) (*auth.User, error)
}

// UserResolver gives an authenticated user's mailbox root (the INBOX
// Maildir) and quota.
type UserResolver func(ctx context.Context, u *auth.User) (root string, q store.Quota, err error)
