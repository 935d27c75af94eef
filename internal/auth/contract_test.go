package auth_test

import (
	"mailhorn/internal/auth"
	"mailhorn/internal/smtpd"
)

// *auth.Service is SMTP AUTH's back end.
var _ smtpd.Authenticator = (*auth.Service)(nil)
