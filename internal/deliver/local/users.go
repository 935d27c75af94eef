package local

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// User is a local account, as local(8) reads it from the passwd database.
type User struct {
	Name  string
	UID   int
	GID   int
	Home  string
	Shell string // may be empty when the lookup cannot tell
}

// Users finds local accounts. Lookup returns found=false for a name that
// has no account; an error means the database could not be read (the
// delivery is deferred, as Postfix's "user lookup error").
type Users interface {
	Lookup(ctx context.Context, name string) (u User, found bool, err error)
}

// SystemUsers looks accounts up in the system's passwd database through
// os/user.
type SystemUsers struct{}

// Lookup implements Users.
func (SystemUsers) Lookup(ctx context.Context, name string) (User, bool, error) {
	if err := ctx.Err(); err != nil {
		return User{}, false, err
	}
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("passwd lookup of %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return User{}, false, fmt.Errorf("passwd lookup of %s: non-numeric uid %q or gid %q", name, u.Uid, u.Gid)
	}
	return User{Name: u.Username, UID: uid, GID: gid, Home: u.HomeDir}, true, nil
}

// LookupID finds the account of a uid (the owner of an alias table or
// :include: file, whose name, home and shell a command gets).
func (SystemUsers) LookupID(ctx context.Context, uid int) (User, bool, error) {
	if err := ctx.Err(); err != nil {
		return User{}, false, err
	}
	u, err := user.LookupId(strconv.Itoa(uid))
	var unknown user.UnknownUserIdError
	if errors.As(err, &unknown) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("passwd lookup of uid %d: %w", uid, err)
	}
	return SystemUsers{}.Lookup(ctx, u.Username)
}
