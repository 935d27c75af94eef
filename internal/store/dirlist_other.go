//go:build !linux

package store

import (
	"os"
	"syscall"
)

func (d *dirList) readDir(dir string) error {
	fh, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer fh.Close()
	names, err := fh.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, n := range names {
		d.add([]byte(n))
	}
	return nil
}

// openRead opens a file read-only; path ends with a NUL.
func openRead(path []byte) (int, error) {
	if len(path) == 0 || path[len(path)-1] != 0 {
		return -1, syscall.EINVAL
	}
	for {
		fd, err := syscall.Open(string(path[:len(path)-1]), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		return fd, err
	}
}

// renameAt renames from to to, both in the directory dir and ending with
// a NUL.
func renameAt(dir int, from, to []byte) error {
	if len(from) == 0 || from[len(from)-1] != 0 || len(to) == 0 || to[len(to)-1] != 0 {
		return syscall.EINVAL
	}
	for {
		err := syscall.Renameat(dir, string(from[:len(from)-1]), dir, string(to[:len(to)-1]))
		if err != syscall.EINTR {
			return err
		}
	}
}
