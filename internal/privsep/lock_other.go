//go:build !linux

package privsep

import (
	"os"
	"syscall"
	"time"
)

// tryLock takes a POSIX record lock. Without open file description locks
// it does not exclude other goroutines of this process; the dotlock does.
func tryLock(f *os.File) error {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}

func changeTime(fi os.FileInfo) time.Time { return fi.ModTime() }
