package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"mailhorn/internal/auth/password"
)

// exchangeBase holds what every mechanism keeps.
type exchangeBase struct {
	s        *Service
	client   netip.Addr
	step     int
	done     bool
	username string
	user     *User
}

func (x *exchangeBase) Username() string { return x.username }
func (x *exchangeBase) User() *User      { return x.user }

// finish ends the exchange with the result of a password check.
func (x *exchangeBase) finish(ctx context.Context, mech, pw string) ([]byte, bool, error) {
	x.done = true
	u, err := x.s.check(ctx, mech, x.username, pw, x.client)
	if err != nil {
		return nil, false, err
	}
	x.user = u
	return nil, true, nil
}

// plainExchange is PLAIN (RFC 4616): one message
// [authzid] NUL authcid NUL passwd. The authorization identity must be
// empty or the authentication identity (compared as user names are).
type plainExchange struct{ exchangeBase }

func (x *plainExchange) Mechanism() string { return "PLAIN" }

func (x *plainExchange) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, ErrMalformed
	}
	if x.step == 0 && resp == nil {
		x.step = 1
		return []byte{}, false, nil // an empty challenge asks for the message
	}
	x.step = 1
	x.done = true
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 || !utf8.Valid(resp) {
		return nil, false, ErrMalformed
	}
	authz, authc, pw := string(parts[0]), string(parts[1]), string(parts[2])
	x.username = authc
	if authz != "" && !strings.EqualFold(authz, authc) {
		// Proxy authorization is not supported: a failure like any other.
		return nil, false, x.s.checkFail(ctx, "PLAIN", authc, x.client)
	}
	return x.finish(ctx, "PLAIN", pw)
}

// checkFail is a failure decided before any password check (PLAIN's
// authzid): the limit still applies, and the failure counts and waits.
func (s *Service) checkFail(ctx context.Context, mech, name string, client netip.Addr) error {
	if s.overLimit(client) {
		return ErrTooManyFailures
	}
	return s.fail(ctx, mech, name, client)
}

// loginExchange is the LOGIN mechanism (draft-murchison-sasl-login): the
// challenges "Username:" and "Password:"; an initial response is the user
// name.
type loginExchange struct{ exchangeBase }

func (x *loginExchange) Mechanism() string { return "LOGIN" }

func (x *loginExchange) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, ErrMalformed
	}
	if resp != nil && (bytes.IndexByte(resp, 0) >= 0 || !utf8.Valid(resp)) {
		x.done = true
		return nil, false, ErrMalformed
	}
	switch x.step {
	case 0:
		x.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		x.username, x.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		x.username, x.step = string(resp), 2
		return []byte("Password:"), false, nil
	}
	return x.finish(ctx, "LOGIN", string(resp))
}

// scramExchange is SCRAM-SHA-256 (RFC 7677, RFC 5802 section 5) without
// channel binding, against {SCRAM-SHA-256} stored keys. A user that is
// unknown or has no such keys gets a made-up salt, derived from the name,
// and fails at the proof like a wrong password.
type scramExchange struct {
	exchangeBase
	gs2, clientFirstBare, serverFirst, nonce string
	keys                                     password.ScramKeys
	real                                     bool
}

func (x *scramExchange) Mechanism() string { return "SCRAM-SHA-256" }

func (x *scramExchange) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if x.done {
		return nil, false, ErrMalformed
	}
	switch x.step {
	case 0:
		if resp == nil {
			x.step = 1 // client-first comes in the next response
			return []byte{}, false, nil
		}
		return x.first(ctx, resp)
	case 1:
		return x.first(ctx, resp)
	case 2:
		return x.final(ctx, resp)
	case 3:
		x.done = true
		if len(resp) != 0 {
			return nil, false, ErrMalformed
		}
		return nil, true, nil
	}
	return nil, false, ErrMalformed
}

func (x *scramExchange) malformed() ([]byte, bool, error) {
	x.done = true
	return nil, false, ErrMalformed
}

// first reads client-first-message: gs2-header client-first-message-bare.
func (x *scramExchange) first(ctx context.Context, resp []byte) ([]byte, bool, error) {
	msg := string(resp)
	if !utf8.ValidString(msg) || strings.IndexByte(msg, 0) >= 0 {
		return x.malformed()
	}
	// gs2-cbind-flag "," [authzid] ","
	flag, rest, ok1 := strings.Cut(msg, ",")
	authz, bare, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 || (flag != "n" && flag != "y") {
		return x.malformed() // "p=": channel binding is not offered
	}
	x.gs2 = flag + "," + authz + ","
	x.clientFirstBare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || strings.HasPrefix(attrs[0], "m=") {
		return x.malformed()
	}
	name, ok1 := strings.CutPrefix(attrs[0], "n=")
	cnonce, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 || cnonce == "" || strings.ContainsAny(cnonce, ",") {
		return x.malformed()
	}
	name, ok := scramUnescape(name)
	if !ok || name == "" {
		return x.malformed()
	}
	x.username = name
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if a, ok2 := scramUnescape(a); !ok || !ok2 || !strings.EqualFold(a, name) {
			x.done = true
			return nil, false, x.s.checkFail(ctx, "SCRAM-SHA-256", name, x.client)
		}
	}
	if key, ok := NormalizeName(name); ok {
		e, found, err := x.s.find(ctx, key)
		if err != nil {
			x.done = true
			return nil, false, ErrTemporary
		}
		if found {
			if scheme, h := password.Split(e.Password); scheme == password.ScramSHA256 {
				if k, err := password.ParseScram(h); err == nil {
					x.keys, x.real, x.user = k, true, &e.User
				} else {
					x.s.warnOnce(key, "SCRAM-SHA-256 keys of user cannot be used: login refused", err)
				}
			}
		}
	}
	if !x.real {
		m := hmac.New(sha256.New, x.s.secret)
		m.Write([]byte(strings.ToLower(name)))
		x.keys = password.ScramKeys{Iterations: password.ScramIterations, Salt: m.Sum(nil)[:16], StoredKey: make([]byte, sha256.Size)}
	}
	snonce := make([]byte, 18)
	rand.Read(snonce)
	x.nonce = cnonce + base64.RawURLEncoding.EncodeToString(snonce)
	x.serverFirst = "r=" + x.nonce + ",s=" + base64.StdEncoding.EncodeToString(x.keys.Salt) + ",i=" + strconv.Itoa(x.keys.Iterations)
	x.step = 2
	return []byte(x.serverFirst), false, nil
}

// final reads client-final-message and checks the proof.
func (x *scramExchange) final(ctx context.Context, resp []byte) ([]byte, bool, error) {
	msg := string(resp)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return x.malformed()
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || attrs[0] != "c="+base64.StdEncoding.EncodeToString([]byte(x.gs2)) || attrs[1] != "r="+x.nonce {
		return x.malformed()
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return x.malformed()
	}
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	user := x.user
	x.user = nil
	if x.s.overLimit(x.client) {
		x.done = true
		return nil, false, ErrTooManyFailures
	}
	// The same work for a made-up user, whose check cannot succeed.
	sig := hmacSHA256(x.keys.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	stored := sha256.Sum256(clientKey)
	ok := subtle.ConstantTimeCompare(stored[:], x.keys.StoredKey) == 1 && x.real
	if !ok {
		x.done = true
		return nil, false, x.s.fail(ctx, "SCRAM-SHA-256", x.username, x.client)
	}
	x.user = user
	x.step = 3
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSHA256(x.keys.ServerKey, authMessage))), false, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramUnescape decodes saslname's "=2C" and "=3D" (RFC 5802 section
// 5.1); any other "=" is malformed.
func scramUnescape(s string) (string, bool) {
	if !strings.Contains(s, "=") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
