package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// Listen creates the socket of the access level under queueDir —
// public/showq (directory 0755, socket 0666) or private/control (directory
// 0700, socket 0600) — replacing a socket left by an earlier run. Call it
// as mail_owner, after dropping privileges, while holding the master's pid
// lock (which is what makes removing an old socket safe). The listener
// removes the socket when closed.
func Listen(queueDir string, a Access) (net.Listener, error) {
	path, dirMode, sockMode := PublicPath(queueDir), os.FileMode(0o755), os.FileMode(0o666)
	if a == Private {
		path, dirMode, sockMode = PrivatePath(queueDir), 0o700, 0o600
	}
	dir := filepath.Dir(path)
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("control: %w", err)
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("control: %s is not a directory", dir)
	}
	if info.Mode().Perm() != dirMode {
		if err := os.Chmod(dir, dirMode); err != nil {
			return nil, fmt.Errorf("control: %w", err)
		}
	}
	if info, err := os.Lstat(path); err == nil {
		if info.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("control: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: remove old socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(path, sockMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	return ln, nil
}
