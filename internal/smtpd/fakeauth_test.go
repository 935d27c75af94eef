package smtpd

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"

	"mailhorn/internal/auth"
)

// fakeAuth is an Authenticator with PLAIN and LOGIN (and ANONYMOUS, for
// the security options) over a fixed table: alice@example.org has
// password "secret"; user "temp@..." fails temporarily, "locked@..." is
// over the failure limit, "boom@..." breaks the back end. After limit
// failures (0: never) a client gets ErrTooManyFailures.
type fakeAuth struct {
	limit int

	mu       sync.Mutex
	failures map[netip.Addr]int
}

func (f *fakeAuth) Mechanisms(tls bool) []string { return []string{"PLAIN", "LOGIN", "ANONYMOUS"} }

func (f *fakeAuth) Start(_ context.Context, mech string, client netip.Addr, _ bool) (auth.Exchange, error) {
	f.mu.Lock()
	over := f.limit > 0 && f.failures[client] >= f.limit
	f.mu.Unlock()
	if over {
		return nil, auth.ErrTooManyFailures
	}
	switch mech {
	case "PLAIN", "LOGIN":
		return &fakeExchange{f: f, mech: mech, client: client}, nil
	}
	return nil, auth.ErrMechanism
}

type fakeExchange struct {
	f       *fakeAuth
	mech    string
	client  netip.Addr
	step    int
	name    string
	gotName bool
	user    *auth.User
}

func (e *fakeExchange) Mechanism() string { return e.mech }
func (e *fakeExchange) Username() string  { return e.name }
func (e *fakeExchange) User() *auth.User  { return e.user }

func (e *fakeExchange) Next(_ context.Context, resp []byte) ([]byte, bool, error) {
	e.step++
	if e.mech == "LOGIN" {
		switch {
		case e.step == 1 && resp == nil:
			return []byte("Username:"), false, nil
		case !e.gotName:
			e.name, e.gotName = string(resp), true
			return []byte("Password:"), false, nil
		}
		return e.check(e.name, string(resp))
	}
	if resp == nil {
		return nil, false, nil // empty challenge: "334 "
	}
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 {
		return nil, false, auth.ErrMalformed
	}
	e.name = string(parts[1])
	return e.check(e.name, string(parts[2]))
}

func (e *fakeExchange) check(name, password string) ([]byte, bool, error) {
	switch name {
	case "temp@example.org":
		return nil, false, auth.ErrTemporary
	case "locked@example.org":
		return nil, false, auth.ErrTooManyFailures
	case "boom@example.org":
		return nil, false, errors.New("back end on fire")
	case "alice@example.org":
		if password == "secret" {
			e.user = &auth.User{Name: name, UID: -1, GID: -1}
			return nil, true, nil
		}
	}
	e.f.mu.Lock()
	if e.f.failures == nil {
		e.f.failures = map[netip.Addr]int{}
	}
	e.f.failures[e.client]++
	e.f.mu.Unlock()
	return nil, false, auth.ErrFailed
}
