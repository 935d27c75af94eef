// Package auth is mailhorn's one authentication service, shared by smtpd
// (SMTP AUTH), imapd and pop3d: the user database (a Dovecot passwd-file
// compatible table, or any lookup table through the maps layer, or the
// Unix users in /etc/shadow), password hashes, SASL mechanisms and the
// defences against guessing (a delay after each failure, a per-client
// failure limit shared by every service through an anvil.Anvil).
//
// An unknown user and a wrong password fail the same way: the same error,
// after the same work (a password hash is verified either way) and the
// same delay.
//
// The mechanisms are our own rather than github.com/emersion/go-sasl's
// servers: go-sasl has no SCRAM server, and its PLAIN and LOGIN servers
// take no context, so the failure delay and the per-client limit could not
// be applied inside the exchange, where they belong for every protocol.
package auth

import (
	"context"
	"errors"
)

// Errors of Verify and Exchange.Next. Callers map them to their
// protocol's replies (SMTP: 535 5.7.8, 454 4.7.0, 421 4.7.0, 504 5.5.4,
// 501 5.5.2).
var (
	// ErrFailed: wrong password or unknown user (never told apart).
	ErrFailed = errors.New("authentication failed")
	// ErrTemporary: the user database could not be read.
	ErrTemporary = errors.New("temporary authentication failure")
	// ErrTooManyFailures: the client is over auth_failure_limit; the
	// password was not even checked.
	ErrTooManyFailures = errors.New("too many authentication failures")
	// ErrMechanism: the mechanism is unknown or not offered here.
	ErrMechanism = errors.New("unsupported authentication mechanism")
	// ErrMalformed: the client's response does not follow the mechanism.
	ErrMalformed = errors.New("malformed authentication response")
)

// User is an authenticated (or looked-up) account.
type User struct {
	Name string // the login name as stored (user@domain for virtual users)
	UID  int    // -1 when the table leaves it empty
	GID  int    // -1 when the table leaves it empty
	Home string // "" when the table leaves it empty
	// Fields are the passwd-file extra fields (userdb_mail=..., quota_rule=...)
	// as key=value, without the "userdb_" prefix; nil if none.
	Fields map[string]string
	// Unix is true for an account of the system's passwd/shadow.
	Unix bool
}

// Exchange is one SASL authentication in progress (RFC 4422): the server
// side of a mechanism. Next takes the client's decoded response (nil for
// none, as when AUTH has no initial response) and returns the next
// challenge; done with a nil error means success, after which User
// returns the account. Any error ends the exchange.
type Exchange interface {
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
	// Mechanism is the mechanism's name, upper case ("PLAIN").
	Mechanism() string
	// Username is the authentication identity the client gave, once it is
	// known ("" before): for logs, also after a failure.
	Username() string
	// User is the account after success, else nil.
	User() *User
}
