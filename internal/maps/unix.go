package maps

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"
)

// unixTable is Postfix's unix: type, the system's user and group
// databases: unix:passwd.byname answers a login name with its passwd(5)
// line "name:x:uid:gid:gecos:home:shell", unix:group.byname a group name
// with "name:x:gid:member,...". It is what local_recipient_maps' default
// (proxy:unix:passwd.byname $alias_maps) needs to tell local users.
type unixTable struct {
	group bool
}

func openUnix(name string, _ Options) (Table, error) {
	switch name {
	case "passwd.byname":
		return unixTable{}, nil
	case "group.byname":
		return unixTable{group: true}, nil
	}
	return nil, fmt.Errorf("unknown unix map %q (passwd.byname or group.byname)", name)
}

func (t unixTable) Lookup(ctx context.Context, key string) (string, bool, error) {
	// Like Postfix, the system's databases are case-sensitive.
	if key == "" || strings.ContainsAny(key, ":\n\x00") {
		return "", false, nil
	}
	if t.group {
		g, err := user.LookupGroup(key)
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("unix:group.byname %q: %w", key, err)
		}
		return g.Name + ":x:" + g.Gid + ":", true, nil
	}
	u, err := user.Lookup(key)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("unix:passwd.byname %q: %w", key, err)
	}
	return u.Username + ":x:" + u.Uid + ":" + u.Gid + ":" + u.Name + ":" + u.HomeDir + ":", true, nil
}

func (unixTable) Close() error { return nil }
