package master

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// mailOwner looks up the mail_owner account.
func mailOwner(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("mail_owner %q: %w (create the account, e.g. useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin %s)", name, err, name)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if uid == 0 {
		return 0, 0, fmt.Errorf("mail_owner %q is root: the mail system must not run as root", name)
	}
	return uid, gid, nil
}

// chownTree gives the queue to the mail owner, as postfix set-permissions
// does, so that the unprivileged process can work in it.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Lchown(path, uid, gid)
	})
}

// dropPrivileges makes the whole process (every thread: Go applies
// set*id to all of them on Linux) the mail owner, for good.
func dropPrivileges(uid, gid int) error {
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	if syscall.Setuid(0) == nil {
		return fmt.Errorf("could regain root after dropping privileges")
	}
	return nil
}
