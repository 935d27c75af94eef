package master

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"mailhorn/internal/queue"
	"strconv"
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
// does, so that the unprivileged process can work in it. Files waiting in
// maildrop/ keep their owners: pickup takes the sender from them.
func chownTree(dir string, uid, gid int) error {
	maildrop := filepath.Join(dir, queue.Maildrop)
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if filepath.Dir(path) == maildrop {
			return nil
		}
		return os.Lchown(path, uid, gid)
	})
}
