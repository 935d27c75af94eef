package privsep

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tryLock takes an open file description lock (F_OFD_SETLK): it conflicts
// with the classic fcntl locks of mail readers in other processes, like a
// POSIX lock, and also with our own deliveries in other goroutines, which a
// POSIX lock (owned by the whole process) would not exclude.
func tryLock(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// changeTime is the inode change time, which Postfix compares with
// stale_lock_time (a lock's mtime could be set by its creator).
func changeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	}
	return fi.ModTime()
}
