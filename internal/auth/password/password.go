// Package password verifies and makes password hashes in Dovecot's
// schemes and encodings, so that an existing passwd-file works unchanged:
// "{SCHEME}hash" with the schemes ARGON2ID, BLF-CRYPT (bcrypt),
// SHA512-CRYPT and SHA256-CRYPT (Drepper's SHA-crypt, implemented here),
// PLAIN (also CLEAR, CLEARTEXT), SCRAM-SHA-256 (RFC 7677 stored keys) and
// CRYPT (whatever crypt(3) method its "$id$" names, among those above). A
// hash without a "{SCHEME}" prefix is CRYPT, as in Dovecot's passwd-file.
//
// yescrypt ("$y$", Debian 11+ /etc/shadow) is recognised but not
// supported: no pure-Go implementation is available to us, so Verify
// returns ErrUnsupported for it.
//
// Every comparison of a computed hash with a stored one is in constant
// time.
package password

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Scheme names, as Dovecot spells them.
const (
	Argon2ID    = "ARGON2ID"
	BlfCrypt    = "BLF-CRYPT"
	SHA512Crypt = "SHA512-CRYPT"
	SHA256Crypt = "SHA256-CRYPT"
	Plain       = "PLAIN"
	Crypt       = "CRYPT"
	ScramSHA256 = "SCRAM-SHA-256"
)

// Schemes lists the schemes Hash makes.
func Schemes() []string {
	return []string{Argon2ID, BlfCrypt, SHA512Crypt, SHA256Crypt, ScramSHA256, Plain}
}

var (
	// ErrUnsupported: the stored hash names a scheme or crypt method this
	// package cannot verify (yescrypt, DES crypt, MD5...).
	ErrUnsupported = errors.New("unsupported password scheme")
	// ErrMalformed: the stored hash does not follow its scheme's format.
	ErrMalformed = errors.New("malformed password hash")
)

// Split separates "{SCHEME}hash" into the upper-cased scheme and the hash.
// Without a prefix the scheme is CRYPT. Dovecot's scheme aliases are
// resolved (CLEAR and CLEARTEXT are PLAIN, BLF-CRYPT's BCRYPT spelling is
// not Dovecot's and is not accepted).
func Split(stored string) (scheme, hash string) {
	if strings.HasPrefix(stored, "{") {
		if i := strings.IndexByte(stored, '}'); i > 0 {
			scheme = strings.ToUpper(stored[1:i])
			switch scheme {
			case "CLEAR", "CLEARTEXT":
				scheme = Plain
			}
			return scheme, stored[i+1:]
		}
	}
	return Crypt, stored
}

// Verify tells whether password matches the stored "{SCHEME}hash". An
// error means the stored hash could not be checked at all (ErrUnsupported,
// ErrMalformed, wrapped with detail); it never depends on the password.
func Verify(stored, password string) (bool, error) {
	scheme, h := Split(stored)
	switch scheme {
	case Plain:
		return subtle.ConstantTimeCompare([]byte(h), []byte(password)) == 1, nil
	case Argon2ID:
		return verifyArgon2(h, password)
	case BlfCrypt:
		return verifyBcrypt(h, password)
	case SHA512Crypt, SHA256Crypt:
		want := "$6$"
		if scheme == SHA256Crypt {
			want = "$5$"
		}
		if !strings.HasPrefix(h, want) {
			return false, fmt.Errorf("%w: %s hash does not start with %s", ErrMalformed, scheme, want)
		}
		return verifySHACrypt(h, password)
	case ScramSHA256:
		return verifyScram(h, password)
	case Crypt:
		return verifyCrypt(h, password)
	}
	return false, fmt.Errorf("%w {%s}", ErrUnsupported, scheme)
}

// verifyCrypt dispatches on crypt(3)'s "$id$".
func verifyCrypt(h, password string) (bool, error) {
	switch {
	case strings.HasPrefix(h, "$5$"), strings.HasPrefix(h, "$6$"):
		return verifySHACrypt(h, password)
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return verifyBcrypt(h, password)
	case strings.HasPrefix(h, "$argon2id$"):
		return verifyArgon2(h, password)
	case strings.HasPrefix(h, "$y$"), strings.HasPrefix(h, "$7$"), strings.HasPrefix(h, "$gy$"):
		return false, fmt.Errorf("%w: yescrypt/scrypt crypt method %q", ErrUnsupported, cryptID(h))
	}
	return false, fmt.Errorf("%w: crypt method %q", ErrUnsupported, cryptID(h))
}

func cryptID(h string) string {
	if strings.HasPrefix(h, "$") {
		if i := strings.IndexByte(h[1:], '$'); i >= 0 {
			return h[:i+2]
		}
	}
	if len(h) > 2 {
		return h[:2] + "..." // DES: a two-character salt
	}
	return h
}

// IsYescrypt tells whether a crypt string is yescrypt's, for a clearer
// warning.
func IsYescrypt(h string) bool {
	_, h = Split(h)
	return strings.HasPrefix(h, "$y$") || strings.HasPrefix(h, "$gy$")
}

func verifySHACrypt(h, password string) (bool, error) {
	c, err := parseSHACrypt(h)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.hash == "" {
		return false, fmt.Errorf("%w: SHA-crypt string without a hash", ErrMalformed)
	}
	got := shaCrypt(c, []byte(password))
	// Compare the digests only: the setting is ours either way.
	_, gotHash := splitLast(got)
	return subtle.ConstantTimeCompare([]byte(gotHash), []byte(c.hash)) == 1, nil
}

func splitLast(s string) (string, string) {
	i := strings.LastIndexByte(s, '$')
	return s[:i], s[i+1:]
}

// Hash makes a new "{SCHEME}hash" of password with a fresh salt and the
// scheme's strong parameters (see the Argon2/bcrypt constants).
func Hash(scheme, password string) (string, error) {
	scheme = strings.ToUpper(scheme)
	var h string
	var err error
	switch scheme {
	case Argon2ID:
		h, err = hashArgon2(password, DefaultArgon2)
	case BlfCrypt:
		h, err = hashBcrypt(password, BcryptCost)
	case SHA512Crypt, SHA256Crypt:
		id := byte('6')
		if scheme == SHA256Crypt {
			id = '5'
		}
		var salt string
		salt, err = randomSalt(shaSaltMax)
		h = shaCrypt(shaCryptSetting{id: id, rounds: shaRoundsDefault, salt: salt}, []byte(password))
	case ScramSHA256:
		h, err = hashScram(password, ScramIterations)
	case Plain:
		h = password
	default:
		return "", fmt.Errorf("%w {%s} for new passwords (use one of %s)", ErrUnsupported, scheme, strings.Join(Schemes(), ", "))
	}
	if err != nil {
		return "", fmt.Errorf("hash password with %s: %w", scheme, err)
	}
	return "{" + scheme + "}" + h, nil
}
